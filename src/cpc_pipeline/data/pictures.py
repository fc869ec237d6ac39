"""How stored images become model inputs: MNIST digits are rendered, colour images (CIFAR-10) converted."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from cpc_pipeline.data.cifar import cifar_pictures
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.renderer import DigitRenderer

Pictures = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


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
