"""What CPC trains and validates on: the device tensors, and one step's pool of images and its sequences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from cpc_pipeline.data import DigitSplit, SequenceBatch
from cpc_pipeline.data.sequences import table_to_sequences


@dataclass
class PoolBatch:
    images: torch.Tensor | None  # (P, C, S, S) the rendered pool (None where only its codes are kept)
    digits: torch.Tensor  # (P,) digit of each pool image
    slots: torch.Tensor  # (B, T) the pool row each sequence position shows
    labels: torch.Tensor  # (B,) 1 = positive
    shared: bool = False  # data parallel: digits and slots are the whole pool's, images this rank's share


@dataclass
class CPCData:
    """What CPC trains and validates on, as tensors on the training device."""

    train_images: torch.Tensor  # uint8 (N, 28, 28)
    train_labels: torch.Tensor  # (N,)
    validation_images: torch.Tensor
    validation_sequences: SequenceBatch  # the fixed validation table (image_indices into validation_images)
    threshold_sequences: SequenceBatch  # training sequences that fix infonce's decision threshold
    train_sequences: SequenceBatch | None = None  # the fixed train table (train_sampling: fixed)

    @classmethod
    def from_tables(
        cls,
        train: DigitSplit,
        validation: DigitSplit,
        train_table: pd.DataFrame,
        validation_table: pd.DataFrame,
        threshold_sequences: int,
        device: torch.device | str = "cpu",
    ) -> CPCData:
        t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
        return cls(
            t(train.images),
            t(train.labels),
            t(validation.images),
            table_to_sequences(validation_table, device),
            table_to_sequences(train_table.head(threshold_sequences), device),
            table_to_sequences(train_table, device),
        )
