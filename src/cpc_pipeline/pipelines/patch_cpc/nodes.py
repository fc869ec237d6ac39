"""Thin nodes: pick patch CPC's images (the MNIST splits, CIFAR-10, or a folder of your own) and pretrain it."""

from __future__ import annotations

import logging

import pandas as pd
from torch import nn

from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.hooks import mlflow_epoch_logger, mlflow_log_file_counts
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.patch_cpc import PatchCPCConfig, fit_patch_cpc

logger = logging.getLogger(__name__)


def select_patch_cpc_images(
    train_digits: dict, validation_digits: dict, test_digits: dict, patch_cpc: PatchCPCConfig
) -> tuple[dict, dict, dict]:
    """The images patch CPC trains and is probed on: the project's digit splits, CIFAR-10's, or your own."""
    splits = patch_cpc.splits(train_digits, validation_digits, test_digits)
    logger.info(
        "Patch CPC images (%s): %s train, %s validation, %s test",
        patch_cpc.dataset,
        *(len(s["labels"]) for s in splits),
    )
    mlflow_log_file_counts("patch_cpc", splits[0])  # a folder's: what was skipped, in its stage run
    return splits


def pretrain_patch_cpc(
    patch_cpc_train_images: dict,
    patch_cpc_validation_images: dict,
    rendering: RenderingConfig,
    patch_cpc: PatchCPCConfig,
) -> tuple[nn.Module, nn.Module, nn.Module, pd.DataFrame]:
    """Images -> trained patch CPC model, its encoder (patch encoder on the grid; eval mode, CPU) twice (weights
    file and MLflow model), the history."""
    inputs = ImageInputs(patch_cpc_train_images, patch_cpc_validation_images, rendering)
    model, history = fit_patch_cpc(inputs, patch_cpc, on_epoch_end=mlflow_epoch_logger("patch_cpc"))
    return model, model.encoder, model.encoder, pd.DataFrame(history)
