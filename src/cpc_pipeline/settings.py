"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS  # noqa: F401 - Kedro reads them here
from cpc_pipeline.hooks import DataSourceHook, HostSettingsHook, RunChecksHook, RunSummaryHook, StageRunsHook

# kedro-mlflow registers its hooks itself through its entry point (one MLflow run per `kedro run`);
# RunChecksHook fails a run that cannot succeed before any node works; StageRunsHook nests one child run
# per stage inside kedro-mlflow's and times the stages; RunSummaryHook makes the parent run the summary;
# HostSettingsHook keeps large tensors in malloc's heap and flushes subnormal floats (training/host.py: why);
# DataSourceHook ends a run that did not use MNIST with a warning saying so.
HOOKS = (RunChecksHook(), StageRunsHook(), RunSummaryHook(), HostSettingsHook(), DataSourceHook())
