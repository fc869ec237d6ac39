"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader

from cpc_pipeline.hooks import HostSettingsHook, RunChecksHook, RunSummaryHook, StageRunsHook

# kedro-mlflow registers its hooks itself through its entry point (one MLflow run per `kedro run`);
# RunChecksHook fails a run that cannot succeed before any node works; StageRunsHook nests one child run
# per stage inside kedro-mlflow's and times the stages; RunSummaryHook makes the parent run the summary;
# HostSettingsHook keeps large tensors in malloc's heap and flushes subnormal floats (training/host.py: why).
HOOKS = (RunChecksHook(), StageRunsHook(), RunSummaryHook(), HostSettingsHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an environment (conf/smoke, conf/local) overrides only the keys it names; the rest comes from base
    "merge_strategy": {"parameters": "soft"},
}
