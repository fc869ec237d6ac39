"""Contrastive Predictive Coding (van den Oord et al., 2018) for image sequences.

:class:`CPCModel` puts an autoregressive context (a GRU, hidden 256, over the context codes) and the
per-step predictions ``z_hat_{t+k} = W_k c_t`` on top of an encoder (the reference encoder by default,
:mod:`cpc_pipeline.models.encoders`); the K maps are held as one ``Linear(256, K*code)``, which is exactly
K separate ``Linear(256, code)`` maps computed in one matmul.

Its forward takes a *pool* of images and the sequences as rows of that pool: each distinct image is
encoded once, however many sequences show it (a step's pool of 64 images serves 64 sequences; the
reference's batch, where every sequence has its own 8 images, is the pool of all of them).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from pydantic import Field
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.models.encoders import EncoderSpec, ReferenceEncoderSpec


class CPCOutput(NamedTuple):
    codes: torch.Tensor  # (P, D) every pool image's code z
    predictions: torch.Tensor  # (B, K, D) W_k c_t
    futures: torch.Tensor  # (B, K, D) the true future codes


class CPCModel(nn.Module):
    """Encoder + GRU context + one linear predictor per future step."""

    def __init__(self, encoder: nn.Module, predict_terms: int, context_size: int = 256) -> None:
        super().__init__()
        self.encoder = encoder
        self.predict_terms = predict_terms
        code = encoder.code_size
        self.autoregressive = nn.GRU(code, context_size, batch_first=True)
        self.predictors = nn.Linear(context_size, predict_terms * code)  # [W_1; ...; W_K]
        # Zero-initialised W_k: the scores start at exactly 0 (InfoNCE = log N). Random W_k make the
        # initial loss exceed log N, and the quickest way down is to shrink every code to zero, a
        # collapsed saddle training never leaves.
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

    def from_codes(self, codes: torch.Tensor, sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool codes ``(P, D)`` and sequences ``(B, T)`` of pool rows -> (predictions, true futures),
        each ``(B, K, D)``: the first ``T - K`` positions are the context."""
        seq_codes = codes[sequences]  # (B, T, D)
        terms = sequences.shape[1] - self.predict_terms
        return self.predict(seq_codes[:, :terms]), seq_codes[:, terms:]

    def forward(self, images: torch.Tensor, sequences: torch.Tensor, share=None) -> CPCOutput:
        """A pool of images ``(P, C, S, S)`` and sequences ``(B, T)`` of its rows -> codes and predictions.

        ``share`` (data parallel: an all-gather with gradients) turns this process's codes into the whole
        pool's before the sequences read them, so ``sequences`` index the shared pool and the codes returned
        are all of it."""
        codes = self.encoder(images)
        if share is not None:
            codes = share(codes)
        return CPCOutput(codes, *self.from_codes(codes, sequences))


class CPCModelConfig(StrictModel):
    """Architecture settings; with the picture shape they rebuild a saved state_dict."""

    encoder: EncoderSpec = EncoderSpec(ReferenceEncoderSpec())
    context_size: int = Field(256, ge=1, le=8192)

    def build(self, channels: int, size: int, predict_terms: int) -> CPCModel:
        return CPCModel(self.encoder.build(channels, size), predict_terms, self.context_size)
