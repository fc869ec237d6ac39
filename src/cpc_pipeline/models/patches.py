"""Images as grids of overlapping patches, and the encoder that codes each patch (CPC's vision task).

:func:`extract_patches` cuts ``(N, C, H, W)`` images into a grid with ``size`` and ``stride`` in pixels,
vectorised with ``unfold``. :class:`PatchGridEncoder` runs a patch encoder on every patch: its ``grid``
gives the codes on the grid, its ``forward`` the image's feature for probes, the mean of its patch codes.
"""

from __future__ import annotations

import torch
from torch import nn


def extract_patches(images: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, Gh, Gw, C, size, size)``: patch ``[n, r, c]`` is the crop of image ``n`` at
    rows ``r*stride .. r*stride+size`` and columns ``c*stride .. c*stride+size`` (a view, no copy)."""
    if images.shape[-1] < size or images.shape[-2] < size:
        raise ValueError(f"patches of {size}px do not fit {tuple(images.shape[-2:])} images")
    return images.unfold(2, size, stride).unfold(3, size, stride).permute(0, 2, 3, 1, 4, 5)


def grid_size(image_size: int, size: int, stride: int) -> int:
    return (image_size - size) // stride + 1


PATCHES_PER_CALL = 1024  # patches per patch-encoder call in eval mode without gradients (encode_grid)


class PatchGridEncoder(nn.Module):
    """Images -> patch codes on their grid (:meth:`grid`), or the image feature: their mean (``forward``)."""

    def __init__(self, patch_encoder: nn.Module, size: int, stride: int) -> None:
        super().__init__()
        self.patch_encoder, self.size, self.stride = patch_encoder, size, stride
        self.code_size = patch_encoder.code_size

    def encode_grid(self, patches: torch.Tensor) -> torch.Tensor:
        """Patches ``(N, Gh, Gw, C, s, s)`` -> codes ``(N, D, Gh, Gw)``.

        In eval mode without gradients (features, validation, the k-NN monitor) the patches go through the
        patch encoder :data:`PATCHES_PER_CALL` at a time: each patch's code is the same bit for bit (every
        patch is coded on its own; a test checks it), but the 25,088 patches of a batch of 512 images would make
        each early feature map 1.6 GB. In training, or in train mode (BatchNorm statistics), the batch stays whole.
        """
        n, gh, gw = patches.shape[:3]
        flat = patches.reshape(n * gh * gw, *patches.shape[3:])
        if self.training or torch.is_grad_enabled() or len(flat) <= PATCHES_PER_CALL:
            codes = self.patch_encoder(flat)
        else:
            codes = torch.cat([self.patch_encoder(part) for part in flat.split(PATCHES_PER_CALL)])
        return codes.view(n, gh, gw, -1).permute(0, 3, 1, 2)

    def patches(self, images: torch.Tensor) -> torch.Tensor:
        return extract_patches(images, self.size, self.stride)

    def grid(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> codes ``(N, D, Gh, Gw)``."""
        return self.encode_grid(self.patches(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.grid(images).mean((2, 3))
