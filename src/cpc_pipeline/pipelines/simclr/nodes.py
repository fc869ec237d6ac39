"""Thin nodes: pick SimCLR's images (the MNIST splits, or CIFAR-10) and pretrain it."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import image_splits, picture_shape, pictures_for
from cpc_pipeline.hooks import mlflow_epoch_logger
from cpc_pipeline.models import SimCLRModel
from cpc_pipeline.training.loop import pick_device, seed_everything, train
from cpc_pipeline.training.simclr import SimCLRConfig, SimCLRMethod

logger = logging.getLogger(__name__)


def select_simclr_images(
    train_digits: dict, validation_digits: dict, test_digits: dict, simclr: SimCLRConfig
) -> tuple[dict, dict, dict]:
    """The images SimCLR trains on and is probed on: the project's digit splits, or CIFAR-10's."""
    splits = image_splits(simclr.dataset, train_digits, validation_digits, test_digits, simclr.cifar)
    logger.info("SimCLR images (%s): %s train, %s validation, %s test", simclr.dataset,
                *(len(s["labels"]) for s in splits))
    return splits


def pretrain_simclr(
    simclr_train_images: dict, simclr_validation_images: dict, rendering: RenderingConfig, simclr: SimCLRConfig
) -> tuple[nn.Module, nn.Module, pd.DataFrame]:
    """Images -> trained SimCLR model (encoder + projection), its encoder (eval mode, CPU), the history."""
    device = pick_device(simclr.trainer.device)
    seed_everything(simclr.trainer.seed)
    images = np.asarray(simclr_train_images["images"])
    model = SimCLRModel(simclr.encoder.build(*picture_shape(images, rendering)), simclr.projection_dim)
    memory = torch.channels_last if simclr.trainer.channels_last else torch.preserve_format
    model = model.to(device, memory_format=memory)
    t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
    method = SimCLRMethod(
        model, simclr.objective, pictures_for(images, rendering, device),
        t(simclr_train_images["images"]), t(simclr_train_images["labels"]),
        t(simclr_validation_images["images"]), t(simclr_validation_images["labels"]),
    )
    logger.info("Pretraining SimCLR (%s encoder) on %s, %d steps per epoch", simclr.encoder.arch, device,
                method.steps_per_epoch)
    result = train(method, simclr.trainer, device, on_epoch_end=mlflow_epoch_logger("simclr"))
    model = model.cpu().eval()
    return model, model.encoder, pd.DataFrame(result.history)
