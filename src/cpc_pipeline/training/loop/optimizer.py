"""The optimiser and learning-rate schedule a :class:`TrainerConfig` names."""

from __future__ import annotations

import math

import torch
from torch import nn

from cpc_pipeline.training.loop.config import TrainerConfig


def make_optimizer(model: nn.Module, config: TrainerConfig, steps_per_epoch: int):
    """Adam + plateau (the reference CPC's) or SGD/Adam + linear warmup and per-step cosine decay."""
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.schedule == "plateau":
        return optimizer, torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.min_learning_rate,
        )
    warm, total = config.warmup_epochs * steps_per_epoch, config.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
