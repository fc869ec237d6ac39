"""Thin nodes: catalog tables -> figures and the Markdown report (see :mod:`cpc_pipeline.reporting`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cpc_pipeline.reporting import plots
from cpc_pipeline.reporting.embedding import embed_2d
from cpc_pipeline.reporting.report import ReportingConfig, dataset_name, write_report


def plot_pretraining_curves(pretraining_history: pd.DataFrame) -> Figure:
    return plots.plot_pretraining_curves(pretraining_history, "CPC pretraining")


def plot_step_accuracy(pretraining_history: pd.DataFrame) -> Figure:
    return plots.plot_step_accuracy(pretraining_history)


def plot_label_efficiency(probe_metrics: pd.DataFrame, digit_source: dict) -> Figure:
    return plots.plot_label_efficiency(probe_metrics, dataset_name(digit_source))


def plot_confusion_matrix(cpc_probe_predictions: pd.DataFrame, digit_source: dict, reporting: ReportingConfig) -> Figure:
    """The headline probe (all labels) on the frozen CPC features, on the test split."""
    predictions = cpc_probe_predictions
    full = predictions[(predictions.probe == reporting.headline_probe)]
    full = full[np.isclose(full.label_fraction, full.label_fraction.max())]
    accuracy = float((full.label == full.prediction).mean())
    title = (f"CPC frozen + {reporting.headline_probe} probe, {dataset_name(digit_source)} test "
             f"(accuracy {accuracy:.4f})")
    return plots.plot_confusion_matrix(full.label.to_numpy(), full.prediction.to_numpy(), title)


def embed_test_features(cpc_features: dict[str, np.ndarray], reporting: ReportingConfig) -> pd.DataFrame:
    return embed_2d(cpc_features["test_x"], cpc_features["test_y"], reporting.embedding, reporting.embedding_points,
                    reporting.seed)


def plot_embedding(test_embedding: pd.DataFrame, digit_source: dict, reporting: ReportingConfig) -> Figure:
    method = "t-SNE" if reporting.embedding == "tsne" else "PCA"
    return plots.plot_embedding(
        test_embedding, f"{method} of frozen CPC features, {len(test_embedding)} {dataset_name(digit_source)} test images"
    )


def build_report(
    digit_source: dict, run_parameters: dict[str, Any], pretraining_history: pd.DataFrame, probe_metrics: pd.DataFrame,
    stage_wall_times: dict[str, float], simclr_history: pd.DataFrame, patch_cpc_history: pd.DataFrame,
) -> str:
    """Everything a reader wants of the run, top to bottom; ``run_parameters``: the run's whole configuration."""
    return write_report(digit_source, run_parameters, pretraining_history, probe_metrics, stage_wall_times,
                        simclr_history, patch_cpc_history)
