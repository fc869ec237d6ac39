"""What the hooks record in MLflow, read back where a node needs it (the MLflow side; the library layer never
imports this).

The hooks only observe a run: :class:`~cpc_pipeline.hooks.RunSummaryHook` logs the run's parameters to the parent
run, :class:`~cpc_pipeline.hooks.StageRunsHook` each stage's node time to its stage run. The report needs both, so
the reporting pipeline's nodes read them back from here, and Kedro-Viz shows those nodes as the producers of
``run_parameters`` and ``stage_wall_times``.
"""

from __future__ import annotations

import mlflow

RUN_PARAMETERS_ARTIFACT = "run_parameters.json"  # on the parent run
STAGE_TAG = "kedro.stage"  # on each stage run
STAGE_WALL_SECONDS = "stage_wall_seconds"  # each stage run's metric: its nodes' summed wall time


def parent_run() -> mlflow.entities.Run | None:
    """The ``kedro run``'s parent run, seen from a node (whose active run is its stage's), else None."""
    active = mlflow.active_run()
    if active is None:
        return None
    return mlflow.get_parent_run(active.info.run_id) or mlflow.get_run(active.info.run_id)


def logged_run_parameters() -> dict:
    """The run's parameters, as :class:`~cpc_pipeline.hooks.RunSummaryHook` logged them to the parent run; ``{}``
    when MLflow tracking is off."""
    parent = parent_run()
    if parent is None:
        return {}
    return mlflow.artifacts.load_dict(f"{parent.info.artifact_uri}/{RUN_PARAMETERS_ARTIFACT}")


def latest_stage_wall_times(stages: list[str], experiment_id: str | None = None) -> dict[str, float]:
    """Each of ``stages``' node time in seconds, from its latest stage run in ``experiment_id`` (default: the active
    run's; this run's own stage run when it ran the stage, else an earlier run's), in ``stages``' order; ``{}`` when
    MLflow tracking is off."""
    active = mlflow.active_run()
    if experiment_id is None and active is None:
        return {}
    out = {}
    for stage in stages:
        runs = mlflow.search_runs(
            [experiment_id or active.info.experiment_id],
            f"tags.`{STAGE_TAG}` = '{stage}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
            output_format="list",
        )
        seconds = runs[0].data.metrics.get(STAGE_WALL_SECONDS) if runs else None
        if seconds is not None:
            out[stage] = round(seconds, 2)
    return out
