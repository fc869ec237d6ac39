"""InfoNCE (van den Oord et al., 2018, eq. 4), vectorised over sequences and prediction steps.

For sequence ``s`` and step ``k`` the candidates are the codes of a pool of ``P`` images, one of which,
``target[s, k]``, is the true future; the score of candidate ``p`` is the bilinear ``z_p^T W_k c_t``,
i.e. the dot product of the prediction ``z_hat[s, k]`` with ``z_p``::

    L = - mean_{s,k} log( exp(z_hat[s,k] . z_target) / sum_{p valid} exp(z_hat[s,k] . z_p) )

and ``I(x_{t+k}; c_t) >= log N - L`` with N the number of valid candidates.

Negatives:

- ``batch`` (the paper): every other image of the pool. With 10 digit classes about a tenth of them
  show the positive's digit: *false negatives*, which the loss pushes away all the same.
- ``different_digit``: candidates showing the positive's digit are masked out (the positive itself
  stays), so every negative is a wrong digit, as in the reference task's negative sequences (which are
  built from the same digit labels).

Scores are computed in float32 even under bf16 autocast (:func:`~cpc_pipeline.losses.precision.float32_scores`):
log-softmax over hundreds of candidates is where bf16's 8-bit mantissa would bite.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cpc_pipeline.losses.precision import float32_scores

NEGATIVES = ("batch", "different_digit")


@dataclass
class InfoNCEOutput:
    loss: torch.Tensor  # scalar
    logits: torch.Tensor  # (S, K, P), masked candidates at -inf
    correct: torch.Tensor  # (S, K) bool, the top candidate is the positive
    digit_correct: torch.Tensor | None  # (S, K) bool, the top candidate shows the right digit
    log_candidates: torch.Tensor  # (S, K) log of the number of valid candidates N


def info_nce(
    predictions: torch.Tensor,
    pool_codes: torch.Tensor,
    target: torch.Tensor,
    pool_digits: torch.Tensor | None = None,
    negatives: str = "batch",
) -> InfoNCEOutput:
    """InfoNCE of ``predictions`` against a pool of candidate codes.

    Args:
        predictions: ``(S, K, D)`` predicted future codes ``W_k c_t``.
        pool_codes: ``(P, D)`` codes of every candidate image.
        target: ``(S, K)`` int64, index into the pool of each true future.
        pool_digits: ``(P,)`` digit shown by each pool image; needed for ``different_digit`` and for
            the digit-level accuracy.
        negatives: ``"batch"`` or ``"different_digit"`` (see module docstring).
    """
    if predictions.ndim != 3 or pool_codes.ndim != 2 or predictions.shape[-1] != pool_codes.shape[-1]:
        raise ValueError(
            f"predictions must be (S, K, D) and pool_codes (P, D), got {tuple(predictions.shape)} "
            f"and {tuple(pool_codes.shape)}"
        )
    if target.shape != predictions.shape[:2]:
        raise ValueError(f"target must be {tuple(predictions.shape[:2])}, got {tuple(target.shape)}")
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
    if negatives == "different_digit" and pool_digits is None:
        raise ValueError("negatives='different_digit' needs pool_digits")

    with float32_scores(predictions):
        logits = torch.einsum("skd,pd->skp", predictions.float(), pool_codes.float())  # (S, K, P)
    n_pool = pool_codes.shape[0]
    if pool_digits is not None:
        same_digit = pool_digits[None, None, :] == pool_digits[target][..., None]  # (S, K, P)
    if negatives == "different_digit":
        is_target = F.one_hot(target, n_pool).bool()
        invalid = same_digit & ~is_target
        logits = logits.masked_fill(invalid, float("-inf"))
        n_valid = (~invalid).sum(-1)
    else:
        n_valid = torch.full(target.shape, n_pool, device=logits.device)
    loss = F.cross_entropy(logits.flatten(0, 1), target.flatten())
    top = logits.argmax(-1)
    digit_correct = pool_digits[top] == pool_digits[target] if pool_digits is not None else None
    return InfoNCEOutput(loss, logits, top == target, digit_correct, n_valid.float().log())


@dataclass
class GridInfoNCEOutput:
    loss: torch.Tensor  # scalar: the mean over every (position, offset) term
    per_offset: list[InfoNCEOutput]  # offsets first_offset .. first_offset + K - 1: predictions of the rows k below
    terms: list[int]  # how many positions predict at each offset (rows G - k times columns, times images)
    offsets: list[int]  # the offset k of each entry of per_offset and terms


def grid_info_nce(codes: torch.Tensor, predictions: torch.Tensor, first_offset: int = 1) -> GridInfoNCEOutput:
    """InfoNCE on a grid of patch codes (CPC's vision task), through :func:`info_nce`::

        L = - mean_{n, r, c, k} log( exp(p[n,k,:,r,c] . z[n,:,r+k,c]) / sum_{m,r',c'} exp(p[n,k,:,r,c] . z[m,:,r',c']) )

    over positions with ``r + k < G``. Candidates are every patch of every image in the batch (the paper's
    negatives); the positive is the patch ``k`` rows below in the same column of the same image.

    Args:
        codes: ``(N, D, G, W)`` patch codes ``z``.
        predictions: ``(N, K, D, G, W)``, ``p[:, i]`` predicting the codes ``first_offset + i`` rows below.
        first_offset: the nearest row predicted; from 2 on, with patches that overlap by half, a prediction's
            target shares no pixel with the rows its context read.
    """
    n, d, g, w = codes.shape
    k_count = predictions.shape[1]
    last = first_offset + k_count - 1
    if predictions.shape != (n, k_count, d, g, w) or first_offset < 1 or last >= g:
        raise ValueError(
            f"predictions must be (N, K, D, G, W) with first_offset >= 1 and first_offset + K - 1 < G "
            f"for codes {tuple(codes.shape)}, got {tuple(predictions.shape)}, first_offset {first_offset}"
        )
    pool = codes.permute(0, 2, 3, 1).reshape(n * g * w, d)  # row-major: image, row, column
    index = torch.arange(n * g * w, device=codes.device).view(n, g, w)
    per_offset, terms, total = [], [], 0
    offsets = list(range(first_offset, last + 1))
    for i, k in enumerate(offsets):
        p = predictions[:, i, :, : g - k].permute(0, 2, 3, 1).reshape(-1, 1, d)  # rows 0 .. G-k-1
        out = info_nce(p, pool, index[:, k:].reshape(-1, 1))
        per_offset.append(out)
        terms.append(p.shape[0])
        total = total + out.loss * p.shape[0]
    return GridInfoNCEOutput(total / sum(terms), per_offset, terms, offsets)
