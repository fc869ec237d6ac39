"""Which images a method works on, and how stored images become model inputs: MNIST digits are rendered,
stored pictures (CIFAR-10, a folder of your own) converted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from pydantic import model_validator

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.cifar import CIFARSourceConfig, cifar_pictures, load_cifar10_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.folder import FolderSourceConfig, load_folder_splits
from cpc_pipeline.data.renderer import DigitRenderer

logger = logging.getLogger(__name__)
Pictures = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]
Split = dict[str, np.ndarray]  # {"images": (N, ...) uint8, "labels": (N,) int64}


class PictureSource(StrictModel):
    """Which pictures a label-free method trains and is probed on (SimCLR's and patch CPC's configs extend it):
    ``mnist`` (the project's rendered digits), ``cifar10`` or ``folder`` (your own, as ``folder`` says)."""

    dataset: Literal["mnist", "cifar10", "folder"] = "mnist"
    cifar: CIFARSourceConfig = CIFARSourceConfig()
    folder: FolderSourceConfig | None = None

    @model_validator(mode="after")
    def _folder_named(self) -> PictureSource:
        if self.dataset == "folder" and self.folder is None:
            raise ValueError(
                "dataset is folder but folder is not set: give folder.root, or its train, validation "
                "and test folders (docs/data.md, 'Your own images')"
            )
        return self

    def splits(self, train: Split, validation: Split, test: Split) -> tuple[Split, Split, Split]:
        """The train, validation and test images: the project's digit splits as they are, CIFAR-10 (read, or
        downloaded, as ``cifar`` says), or your own pictures (``folder``; each split also lists its files'
        ``paths`` and the ``classes``, and unlabelled pictures have label -1)."""
        if self.dataset == "mnist":
            return train, validation, test
        if self.dataset == "folder":
            splits, counts = load_folder_splits(self.folder)
            if counts:
                logger.warning(
                    "image folders: %s", ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
                )
            return tuple(
                {"images": s.images, "labels": s.labels, "paths": s.paths, "classes": s.classes} for s in splits
            )
        splits = load_cifar10_splits(self.cifar)
        as_dict = lambda pair: {"images": pair[0], "labels": pair[1]}  # noqa: E731
        return as_dict(splits.train), as_dict(splits.validation), as_dict(splits.test)

    def shape(self, rendering: RenderingConfig) -> tuple[int, int, str]:
        """(channels, size, what they are) of the pictures the method's encoder gets."""
        if self.dataset == "cifar10":
            return 3, 32, "CIFAR-10's images"
        if self.dataset == "folder":
            return self.folder.channels, self.folder.image_size, f"the folder's {self.folder.image_size}px pictures"
        return (
            rendering.channels,
            rendering.image_size,
            f"the rendered {'colour' if rendering.color else 'grey'} digits",
        )


def pictures_for(images: np.ndarray | torch.Tensor, rendering: RenderingConfig, device="cpu") -> Pictures:
    """uint8 ``(N, 28, 28)`` digits -> the renderer; uint8 ``(N, H, W, C)`` pictures (C 3 or 1) -> a plain
    conversion. Both give float ``(N, C, S, S)`` in [-1, 1]."""
    if images.ndim == 3:
        return DigitRenderer.from_config(rendering, device)
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        return cifar_pictures
    raise ValueError(f"images must be (N, 28, 28) digits or (N, H, W, 3 or 1) pictures, got {tuple(images.shape)}")


def picture_shape(images: np.ndarray | torch.Tensor, rendering: RenderingConfig) -> tuple[int, int]:
    """(channels, size) of the pictures :func:`pictures_for` makes from ``images``."""
    return (rendering.channels, rendering.image_size) if images.ndim == 3 else (images.shape[-1], images.shape[1])
