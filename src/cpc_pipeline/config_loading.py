"""How the project reads ``conf/``: Kedro's settings (``settings.py``) and every reader outside a Kedro session
(the hooks' configuration hash, the benchmarks, the tests) share these, so all read the same parameters."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an environment (conf/smoke, conf/local) overrides only the keys it names; the rest comes from base
    "merge_strategy": {"parameters": "soft"},
}
