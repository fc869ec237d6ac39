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
from cpc_pipeline.data.folder import FolderSourceConfig, check_folder_named
from cpc_pipeline.data.folder_splits import folder_splits, log_folder_counts
from cpc_pipeline.data.renderer import DigitRenderer

logger = logging.getLogger(__name__)
Pictures = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]
Split = dict[str, np.ndarray]  # {"images": (N, ...) uint8, "labels": (N,) int64}


class PictureSource(StrictModel):
    """Which pictures a label-free method trains and is probed on (SimCLR's and patch CPC's configs extend it):
    ``source`` (the run's own, as ``params:source`` says: the rendered digits, or your folder; ``mnist`` is its
    older name), ``cifar10``, or ``folder`` (a folder of its own, as ``folder`` says)."""

    dataset: Literal["source", "mnist", "cifar10", "folder"] = "source"
    cifar: CIFARSourceConfig = CIFARSourceConfig()
    folder: FolderSourceConfig | None = None

    @model_validator(mode="after")
    def _folder_named(self) -> PictureSource:
        check_folder_named("dataset", self.dataset, self.folder)
        return self

    def splits(self, train: Split, validation: Split, test: Split) -> tuple[Split, Split, Split]:
        """The train, validation and test images: the project's digit splits as they are, CIFAR-10 (read, or
        downloaded, as ``cifar`` says), or your own pictures (``folder``; each split also lists its files'
        ``paths`` and the ``classes``, and unlabelled pictures have label -1)."""
        if self.uses_run_source:
            return train, validation, test
        if self.dataset == "folder":
            splits, summary = folder_splits(self.folder)
            log_folder_counts(summary)
            return splits
        splits = load_cifar10_splits(self.cifar)
        as_dict = lambda pair: {"images": pair[0], "labels": pair[1]}  # noqa: E731
        return as_dict(splits.train), as_dict(splits.validation), as_dict(splits.test)

    @property
    def uses_run_source(self) -> bool:
        return self.dataset in ("source", "mnist")

    def shape(
        self, rendering: RenderingConfig, source_folder: FolderSourceConfig | None = None
    ) -> tuple[int, int, str]:
        """(channels, size, what they are) of the pictures the method's encoder gets; ``source_folder``: the run
        source's folder, where ``params:source`` is one."""
        folder = self.folder if self.dataset == "folder" else source_folder if self.uses_run_source else None
        if self.dataset == "cifar10":
            return 3, 32, "CIFAR-10's images"
        if folder is not None:
            return folder.channels, folder.image_size, f"the folder's {folder.image_size}px pictures"
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
