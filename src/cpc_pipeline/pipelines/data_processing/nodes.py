"""Thin nodes: load the digits (or a folder of pictures), build the seeded sequence tables, render a preview."""

from __future__ import annotations

import logging

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
from cpc_pipeline.data.folder_splits import folder_splits, log_folder_counts
from cpc_pipeline.data.sequences import empty_sequence_table, sequence_task_unfit
from cpc_pipeline.reporting.plots import plot_pictures, plot_sequences

logger = logging.getLogger(__name__)


def load_digits(
    source: SourceConfig,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, object]]:
    """Source settings -> train, validation and test digits (images, labels), or a folder's pictures (images, labels,
    paths, classes), and which source was used."""
    if source.name == "folder":
        (train, validation, test), summary = folder_splits(source.folder)
        log_folder_counts(summary)
        return train, validation, test, summary
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
    """Digits of each split -> its fixed table of seeded sequences (one seed per split); tables of no sequence,
    with one line saying why, where the source is not one sequence CPC's task can be built on."""
    unfit = sequence_task_unfit(np.asarray(train_digits["images"]), np.asarray(train_digits["labels"]))
    if unfit:
        logger.warning("no sequence tables, so sequence CPC is skipped: %s", unfit)
        return empty_sequence_table(), empty_sequence_table(), empty_sequence_table()
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
    """The first few positive and negative validation sequences, rendered as in training; a folder source's first
    validation pictures, as the encoders get them, where there are no sequences."""
    if validation_sequences.empty:
        count = 4 * preview.sequences_per_label
        classes = validation_digits.get("classes") or []
        names = [classes[label] if label >= 0 else "" for label in validation_digits["labels"][:count]]
        return plot_pictures(validation_digits["images"][:count], names, "The first validation pictures")
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
    """Split and table sizes, a folder's class count and what it skipped or converted (``files_*``), as MLflow
    metrics ``{name: {"value": v, "step": 0}}``."""
    sizes = {k: v for k, v in digit_source.items() if k.endswith("_images") or k.startswith("files_")}
    if "classes" in digit_source:
        sizes["classes"] = len(digit_source["classes"])
    sizes |= {
        "train_sequences": len(train_sequences),
        "validation_sequences": len(validation_sequences),
        "test_sequences": len(test_sequences),
        "uses_genuine_mnist": int(digit_source["source"] == "mnist"),
    }
    return {name: {"value": float(value), "step": 0} for name, value in sizes.items()}
