"""The Kedro side of tracking: one nested MLflow run per stage, a parent run that answers "how good was
this run?" at a glance, and checks that fail a hopeless run before it starts.

kedro-mlflow opens one MLflow run per ``kedro run`` and logs every node's parameters and the catalog's
MLflow datasets into the *active* run. It has no notion of stages, so :class:`StageRunsHook` adds one
level: before the first node of a stage (the node's tag among :data:`STAGES`) it opens a child run named
after the stage; everything logged while that stage's nodes run (parameters, metric histories,
artifacts, models) lands in the child, with the datasets the stage read as MLflow dataset inputs (file
and md5, so the runs table says what was trained on). The child is closed FINISHED when the next stage
starts or the pipeline ends, and FAILED when one of its nodes raises. Ordering with kedro-mlflow's own
hooks matters: ``before_node_run`` runs first (``tryfirst``), so kedro-mlflow's parameter logging already
sees the stage run; kedro-mlflow re-opens its parent run before every node and tolerates it being
already active (its id is the bottom of MLflow's run stack), so the child stays open across the stage.
Wall times: the stage's node times are merged into the catalog dataset ``stage_wall_times`` after every
node (the report reads it) and logged to each stage run as ``stage_wall_seconds``.

:class:`RunSummaryHook` works on the parent run, which the MLflow UI lists: its name and tags say what
produced it (:mod:`cpc_pipeline.provenance`: environment, pipelines, seed, code commit, a hash of the
parameters at the default seed, so a study's seeds share it; ``benchmarks/headline.py`` finds earlier
seeds by these tags), its metrics are the headline figures (so runs compare in the runs table without
opening children), its description is the generated report, and the run's whole configuration is one
artifact, ``run_parameters.json``, which the report reads too: no stage run repeats other stages'
parameters. It tags the experiment as model development (UIs that read ``mlflow.experimentKind`` then open on its
training runs; MLflow 3.17's UI follows its own GenAI / Model training switch instead) and
tags the registered CPC encoder's version with the run's probe accuracies.

:class:`DataSourceHook` ends a run on other data than MNIST with a warning that says so.

:class:`RunChecksHook` fails a run that cannot succeed before any node works (:mod:`cpc_pipeline.checks`).

:class:`SafeWritesHook` checks the output folders before any node and undoes a catalog write that failed midway.
"""

from cpc_pipeline.hooks.stages import STAGES, node_stage, mlflow_epoch_logger, mlflow_log_file_counts
from cpc_pipeline.hooks.parameters import flatten, typed_params, default_seed_parameters, run_config_hash
from cpc_pipeline.hooks.stage_runs import StageRunsHook, file_dataset
from cpc_pipeline.hooks.run_summary import HEADLINE_PROBES, headline_metrics, RunSummaryHook
from cpc_pipeline.hooks.run_checks import RunChecksHook
from cpc_pipeline.hooks.host_settings import HostSettingsHook
from cpc_pipeline.hooks.data_source import DataSourceHook
from cpc_pipeline.hooks.writes import SafeWritesHook

__all__ = [
    "mlflow_log_file_counts",
    "DataSourceHook",
    "STAGES",
    "node_stage",
    "mlflow_epoch_logger",
    "flatten",
    "typed_params",
    "default_seed_parameters",
    "run_config_hash",
    "StageRunsHook",
    "file_dataset",
    "HEADLINE_PROBES",
    "headline_metrics",
    "RunSummaryHook",
    "RunChecksHook",
    "HostSettingsHook",
    "SafeWritesHook",
]
