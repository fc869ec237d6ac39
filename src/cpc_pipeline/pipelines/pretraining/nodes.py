"""Thin node: wire the digit data and the parameters to the CPC training method and the loop."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from torch import nn

from cpc_pipeline.data import DigitSplit
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.data.sequences import sequence_task_unfit
from cpc_pipeline.hooks import mlflow_epoch_logger
from cpc_pipeline.models.not_trained import NotTrained
from cpc_pipeline.training.cpc import CPCInputs, PretrainingConfig, fit_cpc

logger = logging.getLogger(__name__)


def pretrain_cpc(
    train_digits: dict[str, np.ndarray],
    validation_digits: dict[str, np.ndarray],
    train_sequences: pd.DataFrame,
    validation_sequences: pd.DataFrame,
    sequences: SequenceConfig,
    rendering: RenderingConfig,
    pretraining: PretrainingConfig,
) -> tuple[nn.Module, nn.Module, nn.Module, pd.DataFrame]:
    """Digits and sequence tables -> trained CPC model, its encoder (eval mode, CPU) twice (weights file and
    MLflow model) and the epoch history. With ``trainer.distributed`` the workers train and this machine's
    first one hands back its model and history; their epochs are logged to MLflow once training ends. On a source
    its task cannot use (a folder of pictures), nothing is trained: :class:`NotTrained` says why, in one line."""
    unfit = sequence_task_unfit(train_digits["images"], train_digits["labels"]) if train_sequences.empty else None
    if train_sequences.empty:
        skipped = NotTrained(f"sequence CPC skipped: {unfit or 'the training sequence table is empty'}")
        logger.warning(skipped.reason)
        return skipped, skipped, skipped, pd.DataFrame(columns=["epoch"])
    cfg = pretraining
    inputs = CPCInputs(
        DigitSplit.from_dict(train_digits),
        DigitSplit.from_dict(validation_digits),
        train_sequences,
        validation_sequences,
        sequences,
        rendering,
    )
    dist = cfg.trainer.distributed
    logger.info(
        "Pretraining CPC (%s loss) in %d process(es) on %d machine(s)",
        cfg.objective.loss,
        dist.nproc_per_node * dist.nnodes,
        dist.nnodes,
    )
    model, history = fit_cpc(inputs, cfg, on_epoch_end=mlflow_epoch_logger("pretraining"))
    return model, model.encoder, model.encoder, pd.DataFrame(history)
