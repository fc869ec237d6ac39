"""Images as grids of overlapping patches, and the encoder that codes each patch (CPC's vision task).

:func:`extract_patches` cuts ``(N, C, H, W)`` images into a grid with ``size`` and ``stride`` in pixels,
vectorised with ``unfold``; with ``jitter`` each patch moves by its own random offset (CPC v2's spatial
jitter). :class:`PatchGridEncoder` runs a patch encoder on every patch: its ``grid`` gives the codes on the
grid, its ``forward`` the image's feature for probes, the codes pooled over the grid (``pool``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def extract_patches(
    images: torch.Tensor, size: int, stride: int, jitter: int = 0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, Gh, Gw, C, size, size)``: patch ``[n, r, c]`` is the crop of image ``n`` at
    rows ``r*stride .. r*stride+size`` and columns ``c*stride .. c*stride+size`` (a view, no copy).

    With ``jitter`` > 0 every patch's corner moves by its own offset ``(dy, dx)``, each uniform in
    ``-jitter .. jitter`` (from ``generator``) and clamped so the crop stays inside the image: neighbouring
    patches then share no exact pixel alignment, so their overlap cannot be matched pixel for pixel (a copy).
    """
    if images.shape[-1] < size or images.shape[-2] < size:
        raise ValueError(f"patches of {size}px do not fit {tuple(images.shape[-2:])} images")
    if jitter == 0:
        return images.unfold(2, size, stride).unfold(3, size, stride).permute(0, 2, 3, 1, 4, 5)
    n, _, h, w = images.shape
    gh, gw = grid_size(h, size, stride), grid_size(w, size, stride)
    device = images.device
    offsets = torch.randint(-jitter, jitter + 1, (2, n, gh, gw), generator=generator, device=device)
    top = (torch.arange(gh, device=device).view(1, gh, 1) * stride + offsets[0]).clamp(0, h - size)
    left = (torch.arange(gw, device=device).view(1, 1, gw) * stride + offsets[1]).clamp(0, w - size)
    span = torch.arange(size, device=device)
    rows = (top[..., None] + span)[..., :, None]  # (N, Gh, Gw, size, 1)
    cols = (left[..., None] + span)[..., None, :]  # (N, Gh, Gw, 1, size)
    picked = images.permute(0, 2, 3, 1)[torch.arange(n, device=device).view(n, 1, 1, 1, 1), rows, cols]
    return picked.permute(0, 1, 2, 5, 3, 4)  # (N, Gh, Gw, size, size, C) -> (N, Gh, Gw, C, size, size)


def grid_size(image_size: int, size: int, stride: int) -> int:
    return (image_size - size) // stride + 1


PATCHES_PER_CALL = 1024  # patches per patch-encoder call in eval mode without gradients (encode_grid)
POOLS = ("mean", "max", "grid")


def pool_grid(codes: torch.Tensor, pool: str, cells: int = 3) -> torch.Tensor:
    """Codes ``(N, D, Gh, Gw)`` -> image features: ``mean`` or ``max`` over the grid ``(N, D)``, or ``grid``:
    the mean over each of ``cells x cells`` regions, concatenated ``(N, D * cells**2)``, which keeps where
    on the image each code lies (a digit is its strokes' layout, not their average)."""
    if pool == "mean":
        return codes.mean((2, 3))
    if pool == "max":
        return codes.amax((2, 3))
    if pool == "grid":
        return F.adaptive_avg_pool2d(codes, cells).flatten(1)
    raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")


class PatchGridEncoder(nn.Module):
    """Images -> patch codes on their grid (:meth:`grid`), or the image feature: those codes pooled
    (``forward``, :func:`pool_grid`)."""

    def __init__(self, patch_encoder: nn.Module, size: int, stride: int, pool: str = "mean", cells: int = 3) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.patch_encoder, self.size, self.stride = patch_encoder, size, stride
        self.pool, self.cells = pool, cells
        self.code_size = patch_encoder.code_size  # of one patch; the image feature has feature_size

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

    @property
    def feature_size(self) -> int:
        return self.code_size * (self.cells**2 if self.pool == "grid" else 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return pool_grid(self.grid(images), self.pool, self.cells)
