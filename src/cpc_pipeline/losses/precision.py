"""Scores in float32 under autocast.

Why: autocast runs every matmul (``@``, ``einsum``, ``mm``) in bf16 whatever its inputs' dtype, so casting the
inputs with ``.float()`` is not enough: under autocast the scores of a contrastive loss would come out in bf16,
with an 8-bit mantissa, before a log-softmax over hundreds or thousands of candidates. Every contrastive score
and similarity in the project is computed inside :func:`float32_scores`, which turns autocast off for the block
(the tensors' own dtype then decides, and callers pass float32).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def float32_scores(tensor: torch.Tensor) -> Iterator[None]:
    """Autocast off, on ``tensor``'s device type, for the block."""
    with torch.autocast(tensor.device.type, enabled=False):
        yield
