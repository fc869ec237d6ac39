"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

import logging
import warnings

# A quiet first screen: each warning below is filtered exactly, because its cause is in a library, not in the project
# or its configuration, and a user can do nothing about it (docs/mlflow-and-viz.md, "Warnings"). Set before the
# project's imports below: importing MLflow's PyTorch flavour emits the second one.
# - OmegaConf 2.4 deprecates register_new_resolver(), which Kedro 1.7's config loader and kedro-mlflow 2.0 call.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)

from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS  # noqa: E402, F401 - Kedro reads them
from cpc_pipeline.hooks import (  # noqa: E402
    DataSourceHook,
    HostSettingsHook,
    RunChecksHook,
    RunSummaryHook,
    SafeWritesHook,
    StageRunsHook,
)

# kedro-mlflow registers its hooks itself through its entry point (one MLflow run per `kedro run`);
# RunChecksHook fails a run that cannot succeed before any node works; StageRunsHook nests one child run
# per stage inside kedro-mlflow's and times the stages; RunSummaryHook makes the parent run the summary;
# HostSettingsHook keeps large tensors in malloc's heap and flushes subnormal floats (training/host.py: why);
# DataSourceHook ends a run that did not use MNIST with a warning saying so; SafeWritesHook checks the output
# folders first and undoes a catalog write that failed midway (a full disk).
HOOKS = (RunChecksHook(), SafeWritesHook(), StageRunsHook(), RunSummaryHook(), HostSettingsHook(), DataSourceHook())


class _Without(logging.Filter):
    """Drops the log records that contain ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


# - MLflow warns on every PyTorch model saved by pickle. The project's encoders are pickled on purpose (with their
#   classes as code_paths: ``pt2`` would need an input example and a traced graph per encoder), and they are read
#   back only from the project's own registry.
logging.getLogger("mlflow.pytorch").addFilter(_Without("Saving pytorch model by Pickle"))
# - MLflow asks for type hints on kedro-mlflow's own PythonModel (KedroPipelineModel.predict) when kedro-mlflow's
#   commands are loaded; the project logs no pyfunc model of its own. MLflow raises it inside its own
#   catch_warnings("once"), past any warnings filter, so it is dropped where Kedro logs warnings.
logging.getLogger("py.warnings").addFilter(_Without("Add type hints to the `predict` method"))
