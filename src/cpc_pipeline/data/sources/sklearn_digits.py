"""scikit-learn's bundled 1,797 8x8 digits, upscaled to MNIST's 28x28: the offline fallback."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cpc_pipeline.data.sources.common import DigitSplit, DigitSplits

SKLEARN_SPLIT = (0.7, 0.15, 0.15)  # train / validation / test of the 1,797 images, stratified-free


def upscale_sklearn_digits(images_8x8: np.ndarray) -> np.ndarray:
    """0..16 8x8 digits -> uint8 28x28, the digit in the central 20x20 box as MNIST places it."""
    x = torch.as_tensor(images_8x8, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = F.pad(x, (4, 4, 4, 4))
    return (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def load_sklearn_digits(seed: int = 0) -> DigitSplits:
    """scikit-learn's bundled 1,797 handwritten digits (offline), shuffled with ``seed`` and split 70/15/15."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = upscale_sklearn_digits(bunch.images)
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_train = int(len(order) * SKLEARN_SPLIT[0])
    n_val = int(len(order) * SKLEARN_SPLIT[1])
    parts = np.split(order, [n_train, n_train + n_val])
    train, val, test = (DigitSplit(images[p], labels[p]) for p in parts)
    return DigitSplits(train, val, test, source="sklearn_digits", location="sklearn.datasets.load_digits")
