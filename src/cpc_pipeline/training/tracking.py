"""Per-epoch metrics to MLflow as step histories, when a run is active (e.g. under kedro-mlflow)."""

from __future__ import annotations

from collections.abc import Callable

import mlflow


def mlflow_epoch_logger(prefix: str) -> Callable[[int, dict[str, float]], None]:
    """An ``on_epoch_end`` callback logging ``{prefix}.{metric}`` at step ``epoch``."""

    def log(epoch: int, row: dict[str, float]) -> None:
        if mlflow.active_run() is not None:
            mlflow.log_metrics({f"{prefix}.{k}": v for k, v in row.items() if k != "epoch"}, step=epoch)

    return log
