"""The labels a probe may touch at label fraction ``f``: a class-stratified ``f`` of train and of validation."""

from __future__ import annotations

import numpy as np


def label_subsets(
    train_labels: np.ndarray, validation_labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The labelled train images and the labelled validation images of a run at label ``fraction``."""
    return label_subset(train_labels, fraction, seed), label_subset(validation_labels, fraction, seed + 1)


def label_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified ``fraction`` of ``labels`` (at least one per class)."""
    if fraction >= 1:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(rng.choice(idx, max(1, round(fraction * len(idx))), replace=False))
    return np.sort(np.concatenate(keep))
