"""Thin nodes: pick SimCLR's images (the MNIST splits, CIFAR-10, or a folder of your own) and pretrain it."""

from __future__ import annotations

import logging

import pandas as pd
from torch import nn

from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.hooks import mlflow_epoch_logger, mlflow_log_file_counts
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.simclr import SimCLRConfig, fit_simclr

logger = logging.getLogger(__name__)


def select_simclr_images(
    train_digits: dict, validation_digits: dict, test_digits: dict, simclr: SimCLRConfig
) -> tuple[dict, dict, dict]:
    """The images SimCLR trains on and is probed on: the project's digit splits, CIFAR-10's, or your own."""
    splits = simclr.splits(train_digits, validation_digits, test_digits)
    logger.info(
        "SimCLR images (%s): %s train, %s validation, %s test", simclr.dataset, *(len(s["labels"]) for s in splits)
    )
    mlflow_log_file_counts("simclr", splits[0])  # a folder's: what was skipped, in its stage run
    return splits


def pretrain_simclr(
    simclr_train_images: dict, simclr_validation_images: dict, rendering: RenderingConfig, simclr: SimCLRConfig
) -> tuple[nn.Module, nn.Module, nn.Module, pd.DataFrame]:
    """Images -> trained SimCLR model (encoder + projection), its encoder (eval mode, CPU) twice (weights file and
    MLflow model), the history. With
    ``trainer.distributed`` the workers train and their epochs are logged to MLflow once training ends."""
    inputs = ImageInputs(simclr_train_images, simclr_validation_images, rendering)
    model, history = fit_simclr(inputs, simclr, on_epoch_end=mlflow_epoch_logger("simclr"))
    return model, model.encoder, model.encoder, pd.DataFrame(history)
