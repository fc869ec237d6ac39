"""CPC's loss and metric sums for a batch: InfoNCE or the reference's binary loss."""

from __future__ import annotations

import torch

from cpc_pipeline.losses import binary_sequence_loss, info_nce
from cpc_pipeline.training.cpc.config import CPCObjective
from cpc_pipeline.training.cpc.data import PoolBatch


def cpc_metrics(
    objective: CPCObjective,
    batch: PoolBatch,
    codes: torch.Tensor,
    predictions: torch.Tensor,
    futures: torch.Tensor,
    all_positive: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """Loss and metric *sums* over the batch (the loop divides by the counts)."""
    if objective.loss == "binary":
        out = binary_sequence_loss(predictions, futures, batch.labels)
        n = len(batch.labels)
        return out.loss, {"loss": out.loss * n, "accuracy": out.correct.float().sum()}, n
    k = predictions.shape[1]
    if all_positive:  # training batches for infonce: no boolean mask, so no host sync per step
        targets = batch.slots[:, -k:]
    else:  # validation tables mix in negative sequences: only positives have a true future
        pos = batch.labels == 1
        predictions, targets = predictions[pos], batch.slots[pos, -k:]
    out = info_nce(predictions, codes, targets, batch.digits, objective.negatives)
    n = predictions.shape[0]
    metrics = {
        "loss": out.loss * n,
        "accuracy": out.correct.float().sum() / k,
        "digit_accuracy": out.digit_correct.float().sum() / k,
        "mi_bound": (out.log_candidates.mean(1) - out.loss).sum(),
        "chance_accuracy": (1 / out.log_candidates.exp()).mean(1).sum(),
        "candidates": out.log_candidates.exp().mean(1).sum(),  # valid ones: different_digit masks the rest
    }
    metrics |= {f"accuracy_k{i + 1}": out.correct[:, i].float().sum() for i in range(k)}
    return out.loss, metrics, n
