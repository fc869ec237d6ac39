"""Thin node: wire the digit data and the parameters to the CPC training method and the loop."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpc_pipeline.data import DigitRenderer, DigitSplit
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.hooks import mlflow_epoch_logger
from cpc_pipeline.training.cpc import CPCData, PretrainingConfig, make_cpc_method
from cpc_pipeline.training.loop import pick_device, seed_everything, train

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
    MLflow model) and the epoch history."""
    cfg = pretraining
    device = pick_device(cfg.trainer.device)
    seed_everything(cfg.trainer.seed)
    model = cfg.model.build(rendering.channels, rendering.image_size, sequences.predict_terms)
    model = model.to(device, memory_format=torch.channels_last if cfg.trainer.channels_last else torch.preserve_format)
    data = CPCData.from_tables(
        DigitSplit.from_dict(train_digits), DigitSplit.from_dict(validation_digits), train_sequences,
        validation_sequences, cfg.objective.threshold_sequences, device,
    )
    method = make_cpc_method(model, cfg.objective, data, DigitRenderer.from_config(rendering, device), sequences.terms,
                             cfg.trainer.channels_last)
    logger.info("Pretraining CPC (%s loss) on %s, %d steps per epoch", cfg.objective.loss, device, method.steps_per_epoch)
    result = train(method, cfg.trainer, device, on_epoch_end=mlflow_epoch_logger("pretraining"))
    model = model.cpu().eval()
    return model, model.encoder, model.encoder, pd.DataFrame(result.history)
