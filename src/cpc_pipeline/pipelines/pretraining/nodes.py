"""Thin node: wire the digit data and the parameters to the CPC training method and the loop."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpc_pipeline.data import DigitRenderer, DigitSplit, table_to_sequences
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig, StrictModel
from cpc_pipeline.models import CPCModelConfig, build_cpc_model
from cpc_pipeline.training.cpc import CPCMethod, CPCObjective
from cpc_pipeline.training.loop import TrainerConfig, pick_device, seed_everything, train
from cpc_pipeline.training.tracking import mlflow_epoch_logger

logger = logging.getLogger(__name__)


class PretrainingConfig(StrictModel):
    model: CPCModelConfig = CPCModelConfig()
    objective: CPCObjective = CPCObjective()
    trainer: TrainerConfig = TrainerConfig()


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
    model = build_cpc_model(cfg.model, rendering.channels, rendering.image_size, sequences.predict_terms)
    model = model.to(device, memory_format=torch.channels_last if cfg.trainer.channels_last else torch.preserve_format)
    train_split, val_split = DigitSplit.from_dict(train_digits), DigitSplit.from_dict(validation_digits)
    train_table = table_to_sequences(train_sequences, device)
    method = CPCMethod(
        model=model,
        renderer=DigitRenderer.from_config(rendering, device),
        objective=cfg.objective,
        terms=sequences.terms,
        predict_terms=sequences.predict_terms,
        train_images=torch.as_tensor(train_split.images, device=device),
        train_labels=torch.as_tensor(train_split.labels, device=device),
        validation_images=torch.as_tensor(val_split.images, device=device),
        validation_sequences=table_to_sequences(validation_sequences, device),
        threshold_sequences=table_to_sequences(train_sequences.head(cfg.objective.threshold_sequences), device),
        train_table=train_table,
        channels_last=cfg.trainer.channels_last,
    )
    logger.info("Pretraining CPC (%s loss) on %s, %d steps per epoch", cfg.objective.loss, device, method.steps_per_epoch)
    result = train(method, cfg.trainer, device, on_epoch_end=mlflow_epoch_logger("pretraining"))
    model = model.cpu().eval()
    return model, model.encoder, model.encoder, pd.DataFrame(result.history)
