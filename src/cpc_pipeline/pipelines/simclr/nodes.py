"""Thin nodes: pick SimCLR's images (the MNIST splits, or CIFAR-10) and pretrain it."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import nn

from cpc_pipeline.data.cifar import load_cifar10
from cpc_pipeline.data.config import RenderingConfig, StrictModel
from cpc_pipeline.data.pictures import picture_shape, pictures_for
from cpc_pipeline.models import EncoderSpec, build_any_encoder
from cpc_pipeline.models.resnet import SimCLRModel
from cpc_pipeline.training.loop import TrainerConfig, pick_device, seed_everything, train
from cpc_pipeline.training.simclr import SimCLRMethod, SimCLRObjective
from cpc_pipeline.training.tracking import mlflow_epoch_logger

logger = logging.getLogger(__name__)


class CIFARSourceConfig(StrictModel):
    roots: list[str] = Field(default_factory=lambda: ["data/01_raw"], min_length=1)
    download: bool = True
    verify_checksums: bool = True
    validation_size: int = Field(5000, ge=1)
    seed: int = Field(0, ge=0)
    download_timeout_s: float = Field(30.0, gt=0)


class SimCLRConfig(StrictModel):
    dataset: Literal["mnist", "cifar10"] = "mnist"
    cifar: CIFARSourceConfig = CIFARSourceConfig()
    encoder: EncoderSpec = EncoderSpec()
    projection_dim: int = Field(128, ge=1)
    objective: SimCLRObjective = SimCLRObjective()
    trainer: TrainerConfig = TrainerConfig(
        optimizer="sgd", learning_rate=0.3, weight_decay=1e-4, schedule="warmup_cosine", warmup_epochs=1, epochs=3,
        checkpoint_path="data/06_models/simclr_checkpoint.pt",
    )


def select_simclr_images(
    train_digits: dict, validation_digits: dict, test_digits: dict, simclr: SimCLRConfig
) -> tuple[dict, dict, dict]:
    """The images SimCLR trains on and is probed on: the project's MNIST splits, or CIFAR-10's."""
    if simclr.dataset == "mnist":
        return train_digits, validation_digits, test_digits
    c = simclr.cifar
    splits = load_cifar10(c.roots, c.download, c.validation_size, c.seed, c.verify_checksums, c.download_timeout_s)
    logger.info("CIFAR-10 from %s: %d train, %d validation, %d test", splits.location, len(splits.train[1]),
                len(splits.validation[1]), len(splits.test[1]))
    as_dict = lambda pair: {"images": pair[0], "labels": pair[1]}  # noqa: E731
    return as_dict(splits.train), as_dict(splits.validation), as_dict(splits.test)


def pretrain_simclr(
    simclr_train: dict, simclr_validation: dict, rendering: RenderingConfig, simclr: SimCLRConfig
) -> tuple[nn.Module, nn.Module, pd.DataFrame]:
    """Images -> trained SimCLR model (encoder + projection), its encoder (eval mode, CPU), the history."""
    device = pick_device(simclr.trainer.device)
    seed_everything(simclr.trainer.seed)
    images = np.asarray(simclr_train["images"])
    channels, size = picture_shape(images, rendering)
    model = SimCLRModel(build_any_encoder(simclr.encoder, channels, size), simclr.projection_dim)
    memory = torch.channels_last if simclr.trainer.channels_last else torch.preserve_format
    model = model.to(device, memory_format=memory)
    t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
    method = SimCLRMethod(
        model, simclr.objective, pictures_for(images, rendering, device),
        t(simclr_train["images"]), t(simclr_train["labels"]),
        t(simclr_validation["images"]), t(simclr_validation["labels"]),
    )
    logger.info("Pretraining SimCLR (%s encoder) on %s, %d steps per epoch", simclr.encoder.arch, device,
                method.steps_per_epoch)
    result = train(method, simclr.trainer, device, on_epoch_end=mlflow_epoch_logger("simclr"))
    model = model.cpu().eval()
    return model, model.encoder, pd.DataFrame(result.history)
