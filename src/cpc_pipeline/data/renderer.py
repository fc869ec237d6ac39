"""The reference task's "modified MNIST", rendered in batches on any torch device.

For every image independently (never tied to its label or its sequence):

1. the 28x28 digit is upscaled (bilinear) to ``image_size`` and binarised at 0.5;
2. a random ``image_size`` crop is taken from a textured RGB background that the project generates
   itself from a seed (:func:`make_texture`, fractal value noise: no third-party photo);
3. each colour channel is shifted, ``c <- (c + u) / 2`` with ``u ~ U(0, 1)``;
4. the background is inverted (``1 - c``) under the digit's pixels;
5. values are mapped to ``[-1, 1]``.

With ``color=False`` the digit is only resized and mapped to ``[-1, 1]`` as one grey channel; 28x28 grey
is the cheap setting. Randomness comes from the ``torch.Generator`` passed in, so renders are seeded.

:meth:`DigitRenderer.render_patches` renders the patches of a grid instead of whole images, each patch on
its own background crop and colour shift: what patch CPC trains on, for the reason SimCLR renders each of
its views anew (the views, or patches, of one picture then share the digit and nothing else).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from cpc_pipeline.data.config import RenderingConfig


def make_texture(size: int = 256, seed: int = 0, octaves: int = 6) -> torch.Tensor:
    """A seeded ``(3, size, size)`` colour texture in [0, 1]: octaves of bicubic value noise."""
    g = torch.Generator().manual_seed(seed)
    texture = torch.zeros(1, 3, size, size)
    for octave in range(octaves):
        cells = 4 * 2**octave
        noise = torch.rand(1, 3, cells, cells, generator=g)
        up = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
        texture += up * 0.6**octave
    texture = texture[0]
    lo = texture.amin(dim=(1, 2), keepdim=True)
    hi = texture.amax(dim=(1, 2), keepdim=True)
    return (texture - lo) / (hi - lo)


class DigitRenderer:
    """Callable turning uint8 digits ``(..., 28, 28)`` into float images ``(..., C, S, S)`` in [-1, 1]."""

    def __init__(
        self,
        image_size: int = 64,
        color: bool = True,
        texture_size: int = 256,
        texture_seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        if color and texture_size < image_size:
            raise ValueError(f"texture_size ({texture_size}) must be >= image_size ({image_size})")
        self.image_size = image_size
        self.color = color
        self.channels = 3 if color else 1
        self.device = torch.device(device)
        self.texture = make_texture(texture_size, texture_seed).to(self.device) if color else None

    @classmethod
    def from_config(cls, config: RenderingConfig, device: torch.device | str = "cpu") -> DigitRenderer:
        return cls(config.image_size, config.color, config.texture_size, config.texture_seed, device)

    def _resize(self, digits: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 28, 28) -> float (B, 1, S, S) in [0, 1]."""
        x = digits.to(self.device, torch.float32).unsqueeze(1) / 255.0
        if self.image_size != x.shape[-1]:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return x

    def _backgrounds(self, n: int, generator: torch.Generator | None, side: int | None = None) -> torch.Tensor:
        """n random crops of the texture, each colour shifted: (n, 3, side, side) in [0, 1] (side: the image's)."""
        tex = self.texture
        size, s = tex.shape[-1], side or self.image_size
        oy, ox = torch.randint(0, size - s + 1, (2, n, 1, 1), generator=generator, device=self.device)
        rows = oy + torch.arange(s, device=self.device).view(1, s, 1)
        cols = ox + torch.arange(s, device=self.device).view(1, 1, s)
        crops = tex.flatten(1)[:, (rows * size + cols).flatten()].view(3, n, s, s).transpose(0, 1)
        shift = torch.rand(n, 3, 1, 1, generator=generator, device=self.device)
        return (crops + shift) / 2.0

    def __call__(self, digits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        with torch.profiler.record_function("data.render"):  # benchmarks/stage_efficiency.py's breakdown
            lead = digits.shape[:-2]
            x = self._resize(digits.reshape(-1, *digits.shape[-2:]))
            if self.color:
                background = self._backgrounds(x.shape[0], generator)
                x = torch.where(x >= 0.5, 1.0 - background, background)
            return (x * 2.0 - 1.0).reshape(*lead, self.channels, self.image_size, self.image_size)

    def render_patches(
        self,
        digits: torch.Tensor,
        cut: Callable[[torch.Tensor], torch.Tensor],
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """uint8 digits ``(N, 28, 28)`` -> the patches ``cut`` takes from their pictures, ``(..., C, s, s)``,
        every patch with its own background: the digit's mask is cut as the picture would be, then each patch
        gets a crop of the texture and a colour shift of its own (steps 2-5 above, per patch).

        ``cut`` maps ``(N, 1, S, S)`` to ``(..., 1, s, s)`` (e.g. :func:`cpc_pipeline.models.patches.extract_patches`).
        Without colour there is no background, and the result is ``cut`` of the rendered images.
        """
        with torch.profiler.record_function("data.render"):
            x = self._resize(digits.reshape(-1, *digits.shape[-2:]))
            if not self.color:
                return cut(x * 2.0 - 1.0)
            digit = cut(x) >= 0.5
            lead, side = digit.shape[:-3], digit.shape[-1]
            background = self._backgrounds(lead.numel(), generator, side).view(*lead, 3, side, side)
            return torch.where(digit, 1.0 - background, background) * 2.0 - 1.0
