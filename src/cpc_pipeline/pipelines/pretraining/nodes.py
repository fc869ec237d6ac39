"""Thin node: wire the digit data and the parameters to the CPC training method and the loop."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from torch import nn

from cpc_pipeline.data import DigitSplit
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.hooks import mlflow_epoch_logger
from cpc_pipeline.training.cpc import CPCInputs, PretrainingConfig, fit_cpc, fit_cpc_distributed

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
    MLflow model) and the epoch history. With ``trainer.distributed.nproc_per_node > 1`` the workers train
    and rank 0's model and history come back; its epochs are logged to MLflow once training ends."""
    cfg = pretraining
    inputs = CPCInputs(DigitSplit.from_dict(train_digits), DigitSplit.from_dict(validation_digits), train_sequences,
                       validation_sequences, sequences, rendering)
    log_epoch = mlflow_epoch_logger("pretraining")
    workers = cfg.trainer.distributed.nproc_per_node
    logger.info("Pretraining CPC (%s loss) in %d process%s", cfg.objective.loss, workers, "es" if workers > 1 else "")
    if workers > 1:
        model, history = fit_cpc_distributed(inputs, cfg)
        for row in history:
            log_epoch(int(row["epoch"]), row)
    else:
        model, history = fit_cpc(inputs, cfg, on_epoch_end=log_epoch)
    return model, model.encoder, model.encoder, pd.DataFrame(history)
