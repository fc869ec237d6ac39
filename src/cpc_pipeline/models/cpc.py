"""Contrastive Predictive Coding (van den Oord et al., 2018) for image sequences.

- :class:`ReferenceEncoder` is the public Keras CPC code's encoder: 4 x [conv 3x3 stride 2, 64 filters,
  no padding, norm, LeakyReLU], then dense 256, norm, LeakyReLU, dense to ``code_size`` (128).
- :class:`CPCModel` adds the autoregressive context (a GRU, hidden 256, over the context codes) and the
  per-step predictions ``z_hat_{t+k} = W_k c_t``; the K maps are held as one ``Linear(256, K*code)``,
  which is exactly K separate ``Linear(256, code)`` maps computed in one matmul.

Normalisation is a parameter: ``batch`` (the reference), ``layer`` (GroupNorm with one group over each
conv map, LayerNorm after the dense layer), ``group`` (8 groups) or ``none``. BatchNorm in train mode
normalises with statistics of the whole batch, i.e. of the very samples being contrasted, so a sample's
code depends on the others in the batch: a channel through which the contrastive task can be solved
without learning the digit, and whose statistics drift when a probe later runs the encoder.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

NORMS = ("batch", "layer", "group", "none")


def make_norm(kind: str, channels: int, conv: bool) -> nn.Module:
    """The normalisation layer ``kind`` for ``channels`` features of a conv map or a dense layer."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    if kind == "group":
        return nn.GroupNorm(8, channels)  # (N, C, *) and (N, C) alike
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def conv_output_size(size: int, layers: int, padding: int) -> int:
    for _ in range(layers):
        size = (size + 2 * padding - 3) // 2 + 1
    return size


class ReferenceEncoder(nn.Module):
    """Images ``(N, C, S, S)`` -> codes ``(N, code_size)``."""

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 64,
        code_size: int = 128,
        norm: str = "layer",
        width: int = 64,
        hidden: int = 256,
        padding: int = 0,
        layers: int = 4,
    ) -> None:
        super().__init__()
        side = conv_output_size(image_size, layers, padding)
        if side < 1:
            raise ValueError(
                f"{layers} unpadded 3x3 stride-2 convs do not fit a {image_size}px image: "
                "use encoder padding 1 for images smaller than 31px"
            )
        blocks: list[nn.Module] = []
        channels = in_channels
        for _ in range(layers):
            blocks += [
                nn.Conv2d(channels, width, 3, stride=2, padding=padding, bias=norm == "none"),
                make_norm(norm, width, conv=True),
                nn.LeakyReLU(0.3),  # Keras' LeakyReLU default slope, as in the reference
            ]
            channels = width
        self.features = nn.Sequential(*blocks, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(width * side * side, hidden),
            make_norm(norm, hidden, conv=False),
            nn.LeakyReLU(0.3),
            nn.Linear(hidden, code_size),
        )
        self.code_size = code_size
        self.feature_size = code_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class CPCModel(nn.Module):
    """Encoder + GRU context + one linear predictor per future step."""

    def __init__(self, encoder: ReferenceEncoder, predict_terms: int, context_size: int = 256) -> None:
        super().__init__()
        self.encoder = encoder
        self.predict_terms = predict_terms
        code = encoder.code_size
        self.autoregressive = nn.GRU(code, context_size, batch_first=True)
        self.predictors = nn.Linear(context_size, predict_terms * code)  # [W_1; ...; W_K]
        # Zero-initialised W_k: the scores start at exactly 0 (InfoNCE = log N). Random W_k make the
        # initial loss exceed log N, and the quickest way down is to shrink every code to zero, a
        # collapsed saddle training never leaves (measured: code spread 0.29 -> 0.02 in 25 steps).
        nn.init.zeros_(self.predictors.weight)
        nn.init.zeros_(self.predictors.bias)

    def context(self, context_codes: torch.Tensor) -> torch.Tensor:
        """``(B, terms, D)`` -> the last context ``c_t`` ``(B, context_size)``."""
        _, last = self.autoregressive(context_codes)
        return last[-1]

    def predict(self, context_codes: torch.Tensor) -> torch.Tensor:
        """``(B, terms, D)`` -> predicted future codes ``(B, predict_terms, D)``."""
        c_t = self.context(context_codes)
        return self.predictors(c_t).view(len(c_t), self.predict_terms, -1)

    def forward(self, images: torch.Tensor, terms: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``(B, T, C, S, S)`` -> (predictions ``(B, K, D)``, true future codes ``(B, K, D)``)."""
        b, t = images.shape[:2]
        codes = self.encoder(images.flatten(0, 1)).view(b, t, -1)
        return self.predict(codes[:, :terms]), codes[:, terms:]


class CPCModelConfig(BaseModel):
    """Architecture settings; with the rendering settings they rebuild a saved state_dict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code_size: int = Field(128, ge=1, le=8192)
    norm: Literal["batch", "layer", "group", "none"] = "batch"
    width: int = Field(64, ge=8, le=1024)
    hidden: int = Field(256, ge=8, le=8192)
    context_size: int = Field(256, ge=1, le=8192)
    padding: Literal[0, 1] = 0  # 1 lets the 4 convs fit images smaller than 31px (e.g. 28x28)


def build_encoder(config: CPCModelConfig, in_channels: int, image_size: int) -> ReferenceEncoder:
    return ReferenceEncoder(
        in_channels, image_size, config.code_size, config.norm, config.width, config.hidden, config.padding
    )


def build_cpc_model(config: CPCModelConfig, in_channels: int, image_size: int, predict_terms: int) -> CPCModel:
    return CPCModel(build_encoder(config, in_channels, image_size), predict_terms, config.context_size)
