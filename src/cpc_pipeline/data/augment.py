"""SimCLR's augmentations (Chen et al., 2020, appendix A; CIFAR variant: no blur), batched on any device,
with an independent random draw for every image.

torchvision's v2 transforms applied to a batch tensor draw *one* crop/flip/jitter setting for the whole
batch, which would make both views of every image in a step share their augmentation: this module
draws per sample instead and applies everything as tensor ops (``affine_grid``/``grid_sample`` for the
crop and flip, arithmetic for the colour operations), so a batch costs a handful of kernels on the
GPU and works the same on the CPU.

Per image, in order: random resized crop (area ``crop_scale`` of the image, aspect ``crop_ratio``, the
torchvision sampling rule with 10 tries and a whole-image fallback), horizontal flip (``flip_p``),
colour jitter with probability ``jitter_p`` (brightness, contrast, saturation 0.8 s, hue 0.2 s for
strength s, in a random order per image, as torchvision's ColorJitter), random greyscale (``grey_p``).
Images are float ``(B, C, H, W)`` in [0, 1]; one-channel images skip saturation, hue and greyscale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pydantic import Field

from cpc_pipeline.data.config import StrictModel


class AugmentConfig(StrictModel):
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = Field(0.5, ge=0, le=1)
    jitter_strength: float = Field(0.5, ge=0)
    jitter_p: float = Field(0.8, ge=0, le=1)
    grey_p: float = Field(0.2, ge=0, le=1)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, ``(B, 1, H, W)``."""
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]) if x.shape[1] == 3 else x


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    maxc, minc = x.max(1).values, x.min(1).values
    same = maxc == minc
    span = maxc - minc
    s = span / torch.where(same, torch.ones_like(maxc), maxc)
    div = torch.where(same, torch.ones_like(span), span)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.fmod(h / 6.0 + 1.0, 1.0)
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    sector = [i == k for k in range(5)]  # the hue's sixth of the circle; the sixth sector is the rest

    def pick(*per_sector: torch.Tensor) -> torch.Tensor:
        out = per_sector[5]
        for k in range(4, -1, -1):
            out = torch.where(sector[k], per_sector[k], out)
        return out

    return torch.stack([pick(v, q, p, p, t, v), pick(t, v, v, q, p, p), pick(p, p, t, v, v, q)], 1)


def _brightness(y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (y * f).clamp(0, 1)


def _contrast(y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (f * y + (1 - f) * _grey(y).mean((1, 2, 3), keepdim=True)).clamp(0, 1)


def _saturation(y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (f * y + (1 - f) * _grey(y)).clamp(0, 1)


def _hue(y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    hsv = rgb_to_hsv(y)
    return hsv_to_rgb(torch.cat([torch.fmod(hsv[:, :1] + f + 1.0, 1.0), hsv[:, 1:]], 1))


COLOUR_OPS = (_brightness, _contrast, _saturation, _hue)  # op(images, per-image factor (B, 1, 1, 1))


@dataclass
class ColourDraw:
    """One batch's colour settings, one row per image; ``order[i, j]`` is image i's j-th operation."""

    apply: torch.Tensor | None = None  # (B,) bool: jitter at all; None when jitter is off
    factors: torch.Tensor | None = None  # (B, 4): brightness, contrast, saturation, hue
    order: torch.Tensor | None = None  # (B, ops) long
    grey: torch.Tensor | None = None  # (B,) bool; None when greyscale is off


def _apply_to(x: torch.Tensor, chosen: torch.Tensor, op, factor: torch.Tensor, subset: bool) -> torch.Tensor:
    """``x`` with ``op`` applied to the ``chosen`` images (per-image ``factor``), the others unchanged."""
    if subset:
        index = chosen.nonzero().squeeze(1)
        if len(index) == 0:
            return x
        return x.index_copy(0, index, op(x[index], factor[index].view(-1, 1, 1, 1)))
    return torch.where(chosen.view(-1, 1, 1, 1), op(x, factor.view(-1, 1, 1, 1)), x)


class BatchAugment:
    """``augment(images, generator)`` -> one independently augmented view per image."""

    def __init__(self, config: AugmentConfig = AugmentConfig(), output_size: int | None = None) -> None:  # noqa: B008 - frozen
        self.config = config
        self.output_size = output_size

    def _uniform(self, n, low, high, generator, device) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, device=device)

    def crop_boxes(self, n: int, height: int, width: int, generator, device) -> torch.Tensor:
        """``(n, 4)`` boxes ``(x0, y0, w, h)`` in pixels, torchvision's RandomResizedCrop rule."""
        c, tries = self.config, 10
        area = height * width * self._uniform((n, tries), *c.crop_scale, generator, device)
        log_ratio = self._uniform((n, tries), math.log(c.crop_ratio[0]), math.log(c.crop_ratio[1]), generator, device)
        ratio = torch.exp(log_ratio)
        w = torch.sqrt(area * ratio).round()
        h = torch.sqrt(area / ratio).round()
        ok = (w > 0) & (h > 0) & (w <= width) & (h <= height)
        first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((n,), -1, device=device))
        pick = first.clamp(min=0).unsqueeze(1)
        w = torch.where(first >= 0, w.gather(1, pick)[:, 0], torch.full((n,), float(width), device=device))
        h = torch.where(first >= 0, h.gather(1, pick)[:, 0], torch.full((n,), float(height), device=device))
        x0 = torch.floor(torch.rand(n, generator=generator, device=device) * (width - w + 1))
        y0 = torch.floor(torch.rand(n, generator=generator, device=device) * (height - h + 1))
        return torch.stack([x0, y0, w, h], 1)

    def crop_and_flip(self, x: torch.Tensor, generator) -> torch.Tensor:
        n, c, height, width = x.shape
        out = self.output_size or height
        x0, y0, w, h = self.crop_boxes(n, height, width, generator, x.device).unbind(1)
        flip = torch.rand(n, generator=generator, device=x.device) < self.config.flip_p
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0] = (w / width) * torch.where(flip, -1.0, 1.0)
        theta[:, 0, 2] = (2 * x0 + w) / width - 1
        theta[:, 1, 1] = h / height
        theta[:, 1, 2] = (2 * y0 + h) / height - 1
        grid = F.affine_grid(theta, (n, c, out, out), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def draw_colour(self, n: int, channels: int, generator, device) -> ColourDraw:
        """Every image's colour settings (whether jitter applies, its four factors, the order of its
        operations, whether it turns grey), drawn in one fixed sequence from ``generator``."""
        cfg = self.config
        rgb = channels == 3
        s = cfg.jitter_strength
        draw = ColourDraw()
        if s > 0 and cfg.jitter_p > 0:
            draw.apply = torch.rand(n, generator=generator, device=device) < cfg.jitter_p
            scale = (max(0, 1 - 0.8 * s), 1 + 0.8 * s)
            factors = [
                self._uniform(n, *scale, generator, device) for _ in range(3)
            ]  # brightness, contrast, saturation
            factors.append(self._uniform(n, -min(0.5, 0.2 * s), min(0.5, 0.2 * s), generator, device))  # hue
            draw.factors = torch.stack(factors, 1)
            ops = len(COLOUR_OPS) if rgb else 2  # one channel: brightness and contrast only
            draw.order = torch.argsort(torch.rand(n, ops, generator=generator, device=device), dim=1)
        if rgb and cfg.grey_p > 0:
            draw.grey = torch.rand(n, generator=generator, device=device) < cfg.grey_p
        return draw

    def colour(self, x: torch.Tensor, generator, subset: bool | None = None) -> torch.Tensor:
        """Colour jitter and greyscale as drawn by :meth:`draw_colour`, the operations in each image's order.

        ``subset`` (default: on the CPU) computes each operation only on the images that take it at that
        position, gathered by index: the host knows them at no cost there. Elsewhere every operation runs on
        the whole batch and ``torch.where`` keeps the chosen images: four times the arithmetic, but no host
        sync. Both give the same pictures (a test checks them against a loop over images).
        """
        draw = self.draw_colour(x.shape[0], x.shape[1], generator, x.device)
        subset = x.device.type == "cpu" if subset is None else subset
        if draw.order is not None:
            for position in range(draw.order.shape[1]):
                for k in range(draw.order.shape[1]):
                    chosen = draw.apply & (draw.order[:, position] == k)
                    x = _apply_to(x, chosen, COLOUR_OPS[k], draw.factors[:, k], subset)
        if draw.grey is not None:
            x = torch.where(draw.grey.view(-1, 1, 1, 1), _grey(x).expand_as(x), x)
        return x

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if images.ndim != 4 or not images.is_floating_point():
            raise ValueError(f"images must be float (B, C, H, W) in [0, 1], got {images.dtype} {tuple(images.shape)}")
        with torch.profiler.record_function("data.augment"):  # benchmarks/stage_efficiency.py's breakdown
            return self.colour(self.crop_and_flip(images, generator), generator)
