"""The pipeline's stages: their names in run order, a node's stage, and a stage's per-epoch MLflow metrics."""

from __future__ import annotations

from collections.abc import Callable

import mlflow
from kedro.pipeline import Node

from cpc_pipeline.methods import stages

STAGES = stages()  # the data first, then each method's training stage (the registry's), then probing and the report
ON_DEMAND_STAGES = ("embed",)  # run only when named (kedro run --pipelines embed): not in __default__


def node_stage(node: Node) -> str | None:
    stages = [s for s in (*STAGES, *ON_DEMAND_STAGES) if s in node.tags]
    return stages[0] if stages else None


def mlflow_epoch_logger(prefix: str) -> Callable[[int, dict[str, float]], None]:
    """An ``on_epoch_end`` callback for the training loop: ``{prefix}.{metric}`` at step ``epoch``, into the
    active MLflow run (the stage's). The loop itself knows nothing of MLflow."""

    def log(epoch: int, row: dict[str, float]) -> None:
        if mlflow.active_run() is not None:
            mlflow.log_metrics({f"{prefix}.{k}": v for k, v in row.items() if k != "epoch"}, step=epoch)

    return log


def mlflow_log_file_counts(prefix: str, split: dict) -> None:
    """What a folder source skipped or converted (a split's ``counts``) as ``{prefix}.files_<what>`` metrics in the
    active MLflow run (the stage's); nothing for other sources."""
    counts = split.get("counts") or {}
    if counts and mlflow.active_run() is not None:
        mlflow.log_metrics({f"{prefix}.files_{what}": float(n) for what, n in counts.items()})
