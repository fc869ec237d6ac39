"""Thin nodes: catalog tables -> figures and the Markdown report (see :mod:`cpc_pipeline.reporting`), and what
the hooks recorded in MLflow read back for the report (:mod:`cpc_pipeline.tracking`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cpc_pipeline import tracking
from cpc_pipeline.methods import headline_method, stages
from cpc_pipeline.reporting import plots
from cpc_pipeline.reporting.embedding import embed_2d
from cpc_pipeline.reporting.report import ReportingConfig, dataset_name, write_report

STAGE = __name__.split(".")[-2]


def read_run_parameters() -> dict[str, Any]:
    """The run's whole configuration, as the parent MLflow run holds it (``{}`` with tracking off)."""
    return tracking.logged_run_parameters()


def read_stage_wall_times(probe_metrics: pd.DataFrame) -> dict[str, float]:
    """Each stage's node time before this one, from its latest MLflow stage run (``probe_metrics``: only so that
    this node runs after them)."""
    return tracking.latest_stage_wall_times([s for s in stages() if s != STAGE])


def plot_pretraining_curves(history: pd.DataFrame) -> Figure:
    return plots.plot_pretraining_curves(history, f"{headline_method().name} pretraining")


def plot_step_accuracy(history: pd.DataFrame) -> Figure:
    return plots.plot_step_accuracy(history)


def plot_label_efficiency(probe_metrics: pd.DataFrame, digit_source: dict) -> Figure:
    return plots.plot_label_efficiency(probe_metrics, dataset_name(digit_source))


def plot_confusion_matrix(probe_predictions: pd.DataFrame, digit_source: dict, reporting: ReportingConfig) -> Figure:
    """The headline probe (all labels) on the headline method's frozen features, on the test split."""
    full = probe_predictions[(probe_predictions.probe == reporting.headline_probe)]
    full = full[np.isclose(full.label_fraction, full.label_fraction.max())]
    accuracy = float((full.label == full.prediction).mean())
    title = (
        f"{headline_method().name} frozen + {reporting.headline_probe} probe, {dataset_name(digit_source)} test "
        f"(accuracy {accuracy:.4f})"
    )
    return plots.plot_confusion_matrix(full.label.to_numpy(), full.prediction.to_numpy(), title)


def embed_test_features(features: dict[str, np.ndarray], reporting: ReportingConfig) -> pd.DataFrame:
    return embed_2d(
        features["test_x"], features["test_y"], reporting.embedding, reporting.embedding_points, reporting.seed
    )


def plot_embedding(test_embedding: pd.DataFrame, digit_source: dict, reporting: ReportingConfig) -> Figure:
    method = "t-SNE" if reporting.embedding == "tsne" else "PCA"
    return plots.plot_embedding(
        test_embedding,
        f"{method} of frozen {headline_method().name} features, {len(test_embedding)} "
        f"{dataset_name(digit_source)} test images",
    )


def build_report(
    digit_source: dict,
    run_parameters: dict[str, Any],
    probe_metrics: pd.DataFrame,
    stage_wall_times: dict[str, float],
    **histories: pd.DataFrame,
) -> str:
    """Everything a reader wants of the run, top to bottom; ``run_parameters``: the run's whole configuration;
    ``histories``: each trained method's per-epoch table, by its registry key."""
    return write_report(digit_source, run_parameters, probe_metrics, stage_wall_times, histories)
