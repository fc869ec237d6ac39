"""CPC on image patches (van den Oord et al., 2018, section 3.2; Hénaff et al., 2019, "CPC v2").

Each image is cut into a grid of overlapping patches (:mod:`cpc_pipeline.models.patches`); a patch encoder maps
every patch to a code ``z[r, c]``; a row-causal context network (:class:`RowCausalContext`) summarises, for every
grid position, the rows at and above it into ``c[r, c]``; and one linear map per offset ``W_k`` predicts
``z[r + k, c]`` from ``c[r, c]``, for ``k`` = ``first_offset`` .. ``predict_rows`` rows below. With ``directions:
[down, up]`` a second context network and its own ``W_k`` read the grid bottom-up (the grid flipped), as CPC v2
recommends.

The image's feature for probes is its patch codes pooled (:class:`PatchGridEncoder`, which is also what the
probing pipeline rebuilds from ``PatchEncoderSpec``, ``arch: patches`` of ``EncoderSpec``).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.models.encoders import PatchEncoderSpec
from cpc_pipeline.models.patches import PatchGridEncoder


class RowCausalContext(nn.Module):
    """Codes ``(N, D, G, G)`` -> contexts ``(N, channels, G, G)`` where row ``r`` depends on rows ``<= r`` only.

    Each layer is a 3x3 convolution whose bottom kernel row is masked, i.e. a ``(2, 3)`` kernel over the row
    above and the row itself, the input padded on top only (PixelCNN's masked convolution, written as a
    smaller kernel): after ``layers`` layers row ``r`` sees rows ``r - layers .. r`` and never a row below.
    Residual blocks with layer normalisation over each position's channels: CPC v2 avoids batch statistics,
    and a norm over the whole map (GroupNorm) would leak the rows below through its mean (a test caught it).
    """

    def __init__(self, code_size: int, channels: int = 256, layers: int = 3) -> None:
        super().__init__()
        self.inp = nn.Conv2d(code_size, channels, 1)
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, (2, 3)) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(layers))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = self.inp(codes)
        for conv, norm in zip(self.convs, self.norms):
            normed = norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # per position, over channels
            x = x + conv(F.pad(F.relu(normed), (1, 1, 1, 0)))  # pad: left, right, top, bottom
        return x


class PatchPredictions(NamedTuple):
    codes: torch.Tensor  # (N, D, G, G) every patch's code
    predictions: dict[str, torch.Tensor]  # direction -> (N, K, D, G, G): W_k c at each position (down: of row r+k)


class PatchCPCModel(nn.Module):
    """Patch encoder + one row-causal context network and a map ``W_k`` per predicted offset, per direction:
    offsets ``first_offset`` .. ``predict_rows``."""

    def __init__(
        self,
        encoder: PatchGridEncoder,
        predict_rows: int = 3,
        context_channels: int = 256,
        context_layers: int = 3,
        directions: tuple[str, ...] = ("down",),
        first_offset: int = 1,
    ) -> None:
        super().__init__()
        if not 1 <= first_offset <= predict_rows:
            raise ValueError(f"first_offset ({first_offset}) must be between 1 and predict_rows ({predict_rows})")
        self.encoder, self.predict_rows, self.directions = encoder, predict_rows, tuple(directions)
        self.first_offset = first_offset
        self.offsets = predict_rows - first_offset + 1
        code = encoder.code_size
        self.contexts = nn.ModuleDict({d: RowCausalContext(code, context_channels, context_layers) for d in directions})
        self.predictors = nn.ModuleDict({d: nn.Conv2d(context_channels, self.offsets * code, 1) for d in directions})
        for predictor in self.predictors.values():  # zero W_k: the loss starts at log N (see CPCModel)
            nn.init.zeros_(predictor.weight)
            nn.init.zeros_(predictor.bias)

    @staticmethod
    def frame(codes: torch.Tensor, direction: str) -> torch.Tensor:
        """The grid as ``direction``'s context reads it: ``up`` reads it flipped, from the bottom row."""
        return codes if direction == "down" else codes.flip(2)

    def from_codes(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """Codes ``(N, D, G, W)`` -> per direction ``(N, K, D, G, W)``, in that direction's frame."""
        n, d, g, w = codes.shape
        return {
            direction: self.predictors[direction](self.contexts[direction](self.frame(codes, direction))).view(
                n, self.offsets, d, g, w
            )
            for direction in self.directions
        }

    def forward(self, patches: torch.Tensor) -> PatchPredictions:
        """Patches ``(N, G, W, C, s, s)`` (``encoder.patches(images)``, augmented or not) -> codes and predictions."""
        codes = self.encoder.encode_grid(patches)
        return PatchPredictions(codes, self.from_codes(codes))


class PatchCPCModelConfig(StrictModel):
    encoder: PatchEncoderSpec = PatchEncoderSpec()
    predict_rows: int = Field(3, ge=1, le=64)  # K: the farthest row below that each context predicts
    first_offset: int = Field(1, ge=1, le=64)  # the nearest: 2 skips the row whose patches overlap the context's
    context_channels: int = Field(256, ge=8, le=8192)
    context_layers: int = Field(3, ge=1, le=64)  # rows of history each context sees (receptive field)
    directions: list[Literal["down", "up"]] = Field(["down", "up"], min_length=1, max_length=2)

    @model_validator(mode="after")
    def _offsets_in_order(self) -> PatchCPCModelConfig:
        if self.first_offset > self.predict_rows:
            raise ValueError(f"first_offset ({self.first_offset}) must be at most predict_rows ({self.predict_rows})")
        return self

    def check_grid(self, image_size: int) -> None:
        """ValueError unless each context has a row ``predict_rows`` below it on ``image_size`` px images."""
        rows = self.encoder.grid_size(image_size)
        if self.predict_rows >= rows:
            raise ValueError(
                f"predict_rows ({self.predict_rows}) must be below the grid's {rows} rows "
                f"({self.encoder.size}px patches, stride {self.encoder.stride}, {image_size}px images)"
            )

    def build(self, channels: int, image_size: int) -> PatchCPCModel:
        self.check_grid(image_size)
        return PatchCPCModel(
            self.encoder.build(channels, image_size),
            self.predict_rows,
            self.context_channels,
            self.context_layers,
            tuple(self.directions),
            self.first_offset,
        )
