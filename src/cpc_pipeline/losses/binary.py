"""The reference Keras code's sequence loss: one sigmoid score per sequence, binary cross-entropy.

    score(s) = mean_k mean_d z_hat[s,k,d] * z[s,k,d]          (a logit)
    L = BCE(sigmoid(score), label)       label 1 = the future counts up, 0 = every future digit wrong

Computed from logits (``binary_cross_entropy_with_logits``) in float32, so it is safe under bf16
autocast; the reference's sigmoid-then-log form saturates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class BinaryOutput:
    loss: torch.Tensor  # scalar
    scores: torch.Tensor  # (S,) logits
    correct: torch.Tensor  # (S,) bool, sigmoid(score) > 0.5 agrees with the label


def sequence_scores(predictions: torch.Tensor, futures: torch.Tensor) -> torch.Tensor:
    """``(S, K, D)`` x ``(S, K, D)`` -> ``(S,)``: the reference's mean dot product."""
    if predictions.shape != futures.shape or predictions.ndim != 3:
        raise ValueError(
            f"predictions and futures must both be (S, K, D), got {tuple(predictions.shape)} and {tuple(futures.shape)}"
        )
    return (predictions.float() * futures.float()).mean(dim=(1, 2))


def binary_sequence_loss(predictions: torch.Tensor, futures: torch.Tensor, labels: torch.Tensor) -> BinaryOutput:
    scores = sequence_scores(predictions, futures)
    loss = F.binary_cross_entropy_with_logits(scores, labels.float())
    return BinaryOutput(loss, scores, (scores > 0) == labels.bool())
