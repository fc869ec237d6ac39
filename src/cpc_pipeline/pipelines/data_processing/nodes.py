"""Thin nodes: load the digits, build the seeded sequence tables, render a preview."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from cpc_pipeline.data import (
    DigitRenderer,
    DigitSplit,
    load_digit_splits,
    make_sequence_table,
    table_to_sequences,
)
from cpc_pipeline.data.config import SPLITS, PreviewConfig, RenderingConfig, SequenceConfig, SourceConfig
from cpc_pipeline.reporting.plots import plot_sequences


def load_digits(
    source: SourceConfig,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, object]]:
    """Source settings -> train, validation and test digits (images, labels) and which source was used."""
    splits = load_digit_splits(
        source.name,
        source.roots,
        download=source.download,
        fallback=source.fallback_to_sklearn_digits,
        validation_size=source.validation_size,
        seed=source.seed,
        timeout_s=source.download_timeout_s,
    )
    return splits.train.to_dict(), splits.validation.to_dict(), splits.test.to_dict(), splits.summary()


def build_sequence_tables(
    train_digits: dict[str, np.ndarray],
    validation_digits: dict[str, np.ndarray],
    test_digits: dict[str, np.ndarray],
    sequences: SequenceConfig,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Digits of each split -> its fixed table of seeded sequences (one seed per split)."""
    return tuple(
        make_sequence_table(
            np.asarray(split["labels"]),
            sequences.table_size(name),
            sequences.terms,
            sequences.predict_terms,
            sequences.table_seed(name),
        )
        for name, split in zip(SPLITS, (train_digits, validation_digits, test_digits))
    )


def render_sequence_preview(
    validation_digits: dict[str, np.ndarray],
    validation_sequences: pd.DataFrame,
    sequences: SequenceConfig,
    rendering: RenderingConfig,
    preview: PreviewConfig,
) -> Figure:
    """The first few positive and negative validation sequences, rendered as in training."""
    n = preview.sequences_per_label
    rows = pd.concat([validation_sequences[validation_sequences["label"] == lab].head(n) for lab in (1, 0)])
    batch = table_to_sequences(rows)
    split = DigitSplit.from_dict(validation_digits)
    renderer = DigitRenderer.from_config(rendering)
    images = renderer(torch.as_tensor(split.images)[batch.image_indices], torch.Generator().manual_seed(preview.seed))
    return plot_sequences(images, batch.digits.numpy(), batch.labels.numpy(), sequences.terms)


def summarise_data(
    digit_source: dict[str, object],
    train_sequences: pd.DataFrame,
    validation_sequences: pd.DataFrame,
    test_sequences: pd.DataFrame,
) -> dict[str, dict[str, float]]:
    """Split and table sizes as MLflow metrics ``{name: {"value": v, "step": 0}}``."""
    sizes = {k: v for k, v in digit_source.items() if k.endswith("_images")}
    sizes |= {
        "train_sequences": len(train_sequences),
        "validation_sequences": len(validation_sequences),
        "test_sequences": len(test_sequences),
        "uses_genuine_mnist": int(digit_source["source"] == "mnist"),
    }
    return {name: {"value": float(value), "step": 0} for name, value in sizes.items()}
