"""The reference task's sequence rule, vectorised in torch so it runs on any device.

A sequence is ``terms`` context digits followed by ``predict_terms`` future digits, counting up mod 10
from a random start (9 wraps to 0). A *negative* keeps the context but replaces every future digit by a
uniformly drawn *different* digit. Each position then picks a random image of its digit from the split.
Half of every draw is positive (``n // 2``), in random order.

The same function builds the fixed validation/test tables (on the CPU, from a seed) and the fresh
training sequences of every epoch (on the training device), so the two can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

N_DIGITS = 10


@dataclass(frozen=True)
class DigitIndex:
    """Image indices grouped by digit, so that "a random image of digit d" is one gather."""

    order: torch.Tensor  # (N,) image indices sorted by label
    start: torch.Tensor  # (10,) first position of each digit in ``order``
    count: torch.Tensor  # (10,) number of images of each digit

    @classmethod
    def from_labels(cls, labels: torch.Tensor | np.ndarray) -> DigitIndex:
        labels = torch.as_tensor(labels, dtype=torch.int64)
        counts = torch.bincount(labels, minlength=N_DIGITS)
        if len(counts) != N_DIGITS or (counts == 0).any():
            missing = [d for d in range(N_DIGITS) if d >= len(counts) or counts[d] == 0]
            raise ValueError(f"labels must be digits 0-9 with every digit present; missing {missing}")
        start = torch.cumsum(counts, 0) - counts
        return cls(order=torch.argsort(labels, stable=True), start=start, count=counts)

    def sample(self, digits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A uniformly random image index for every entry of ``digits`` (any shape)."""
        u = torch.rand(digits.shape, generator=generator, device=digits.device)
        pos = (u * self.count[digits]).long().clamp_max(self.count[digits] - 1)
        return self.order[self.start[digits] + pos]


@dataclass(frozen=True)
class SequenceBatch:
    digits: torch.Tensor  # (n, terms + predict_terms) int64
    # (n, terms + predict_terms) int64: rows of the images the DigitIndex it was drawn on describes (a
    # split's images for the tables; a step's pool when training draws on a pool)
    image_indices: torch.Tensor
    labels: torch.Tensor  # (n,) int64, 1 = positive (counting up), 0 = negative

    def __len__(self) -> int:
        return len(self.labels)


def sample_sequences(
    n: int,
    terms: int,
    predict_terms: int,
    index: DigitIndex,
    generator: torch.Generator | None = None,
    n_positive: int | None = None,
) -> SequenceBatch:
    """Draw ``n`` sequences by the reference rule on ``index``'s device (see module docstring);
    ``n_positive`` of them (default ``n // 2``) positive, in random order."""
    if n < 1 or terms < 1 or predict_terms < 1:
        raise ValueError(f"n, terms and predict_terms must be >= 1, got {n}, {terms}, {predict_terms}")
    n_positive = n // 2 if n_positive is None else n_positive
    if not 0 <= n_positive <= n:
        raise ValueError(f"n_positive must be in [0, {n}], got {n_positive}")
    device = index.order.device
    length = terms + predict_terms
    start = torch.randint(0, N_DIGITS, (n, 1), generator=generator, device=device)
    digits = (start + torch.arange(length, device=device)) % N_DIGITS  # (n, T) counting up
    labels = torch.zeros(n, dtype=torch.int64, device=device)
    labels[torch.randperm(n, generator=generator, device=device)[:n_positive]] = 1
    wrong = wrong_digits(digits[:, terms:], generator)
    digits[:, terms:] = torch.where(labels[:, None].bool(), digits[:, terms:], wrong)
    return SequenceBatch(digits=digits, image_indices=index.sample(digits, generator), labels=labels)


def wrong_digits(digits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Every digit shifted by 1..9 mod 10, i.e. uniform over the nine digits it is not."""
    shift = torch.randint(1, N_DIGITS, digits.shape, generator=generator, device=digits.device)
    return (digits + shift) % N_DIGITS


def paired_negatives(
    positives: SequenceBatch, terms: int, index: DigitIndex, generator: torch.Generator | None = None
) -> SequenceBatch:
    """One negative per positive sequence that keeps its context *images* and draws every future digit
    wrong (images from ``index``). The binary loss then contrasts right and wrong futures of one context,
    as InfoNCE does, instead of sequences whose backgrounds and digits all differ."""
    digits = positives.digits.clone()
    digits[:, terms:] = wrong_digits(digits[:, terms:], generator)
    image_indices = positives.image_indices.clone()
    image_indices[:, terms:] = index.sample(digits[:, terms:], generator)
    return SequenceBatch(digits, image_indices, torch.zeros_like(positives.labels))


def sequences_to_table(batch: SequenceBatch) -> pd.DataFrame:
    """One row per sequence: ``sequence_id, label, digits, image_indices`` (lists), Parquet friendly."""
    return pd.DataFrame(
        {
            "sequence_id": np.arange(len(batch), dtype=np.int64),
            "label": batch.labels.cpu().numpy(),
            "digits": list(batch.digits.cpu().numpy()),
            "image_indices": list(batch.image_indices.cpu().numpy()),
        }
    )


def table_to_sequences(table: pd.DataFrame, device: torch.device | str = "cpu") -> SequenceBatch:
    """Inverse of :func:`sequences_to_table`."""
    required = {"label", "digits", "image_indices"}
    if not required <= set(table.columns):
        raise ValueError(f"sequence table needs columns {sorted(required)}, has {sorted(table.columns)}")
    digits = np.stack(table["digits"].to_numpy()).astype(np.int64)
    indices = np.stack(table["image_indices"].to_numpy()).astype(np.int64)
    return SequenceBatch(
        digits=torch.as_tensor(digits, device=device),
        image_indices=torch.as_tensor(indices, device=device),
        labels=torch.as_tensor(table["label"].to_numpy(dtype=np.int64, copy=True), device=device),
    )


def sequence_task_unfit(images: np.ndarray, labels: np.ndarray) -> str | None:
    """Why the reference task's sequences cannot be built over these images (one line), or None where they can:
    its sequences are digits, drawn by the renderer, whose labels count upward."""
    if np.asarray(images).ndim == 3 and (np.asarray(labels) >= 0).all():
        return None
    if (np.asarray(labels) < 0).any():
        return "the pictures have no labels, and sequence CPC orders its sequences by their labels (they count up)"
    return (
        "the source is a folder of pictures, and sequence CPC's task is digits drawn by the renderer, counting up "
        "(the reference task): train it on a digit source"
    )


def empty_sequence_table() -> pd.DataFrame:
    """A table of no sequences, with :func:`sequences_to_table`'s columns (a source sequence CPC cannot use)."""
    return pd.DataFrame(
        {"sequence_id": np.zeros(0, np.int64), "label": np.zeros(0, np.int64), "digits": [], "image_indices": []}
    )


def make_sequence_table(labels: np.ndarray, n: int, terms: int, predict_terms: int, seed: int) -> pd.DataFrame:
    """A fixed, seeded table of ``n`` sequences over a split whose image labels are ``labels``."""
    generator = torch.Generator().manual_seed(seed)
    return sequences_to_table(sample_sequences(n, terms, predict_terms, DigitIndex.from_labels(labels), generator))
