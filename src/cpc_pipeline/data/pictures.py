"""Which images a method works on, and how stored images become model inputs: MNIST digits are rendered,
colour images (CIFAR-10) converted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from cpc_pipeline.data.cifar import CIFARSourceConfig, cifar_pictures, load_cifar10_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.renderer import DigitRenderer

Pictures = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]
Split = dict[str, np.ndarray]  # {"images": (N, ...) uint8, "labels": (N,) int64}


def image_splits(
    dataset: Literal["mnist", "cifar10"], train: Split, validation: Split, test: Split, cifar: CIFARSourceConfig
) -> tuple[Split, Split, Split]:
    """The train, validation and test images of ``dataset``: the project's digit splits as they are, or
    CIFAR-10 (read, or downloaded, as ``cifar`` says)."""
    if dataset == "mnist":
        return train, validation, test
    splits = load_cifar10_splits(cifar)
    as_dict = lambda pair: {"images": pair[0], "labels": pair[1]}  # noqa: E731
    return as_dict(splits.train), as_dict(splits.validation), as_dict(splits.test)


def pictures_for(images: np.ndarray | torch.Tensor, rendering: RenderingConfig, device="cpu") -> Pictures:
    """uint8 ``(N, 28, 28)`` digits -> the renderer; uint8 ``(N, H, W, 3)`` -> a plain conversion.
    Both give float ``(N, C, S, S)`` in [-1, 1]."""
    if images.ndim == 3:
        return DigitRenderer.from_config(rendering, device)
    if images.ndim == 4 and images.shape[-1] == 3:
        return cifar_pictures
    raise ValueError(f"images must be (N, 28, 28) digits or (N, H, W, 3) colour images, got {tuple(images.shape)}")


def picture_shape(images: np.ndarray | torch.Tensor, rendering: RenderingConfig) -> tuple[int, int]:
    """(channels, size) of the pictures :func:`pictures_for` makes from ``images``."""
    return (rendering.channels, rendering.image_size) if images.ndim == 3 else (3, images.shape[1])
