"""Thin nodes: catalog tables -> figures and the Markdown report (see :mod:`cpc_pipeline.reporting`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import Field

from cpc_pipeline.data.config import RenderingConfig, SequenceConfig, StrictModel
from cpc_pipeline.pipelines.pretraining.nodes import PretrainingConfig
from cpc_pipeline.pipelines.probing.nodes import ProbingConfig
from cpc_pipeline.pipelines.simclr.nodes import SimCLRConfig
from cpc_pipeline.reporting import plots
from cpc_pipeline.reporting.report import embed_2d, write_report


class ReportingConfig(StrictModel):
    embedding: Literal["tsne", "pca"] = "tsne"
    embedding_points: int = Field(2000, ge=10)  # test images in the 2-D map
    headline_probe: Literal["mlp", "linear", "knn"] = "mlp"  # its confusion matrix is plotted
    seed: int = Field(0, ge=0)


def plot_pretraining_curves(pretraining_history: pd.DataFrame) -> Figure:
    return plots.plot_pretraining_curves(pretraining_history)


def plot_step_accuracy(pretraining_history: pd.DataFrame) -> Figure:
    return plots.plot_step_accuracy(pretraining_history)


def plot_label_efficiency(probe_metrics: pd.DataFrame) -> Figure:
    return plots.plot_label_efficiency(probe_metrics)


def plot_confusion_matrix(probe_predictions: pd.DataFrame, reporting: ReportingConfig) -> Figure:
    """The headline probe (all labels) on the frozen CPC features, MNIST test."""
    full = probe_predictions[(probe_predictions.probe == reporting.headline_probe)]
    full = full[np.isclose(full.label_fraction, full.label_fraction.max())]
    accuracy = float((full.label == full.prediction).mean())
    title = f"CPC frozen + {reporting.headline_probe} probe, MNIST test (accuracy {accuracy:.4f})"
    return plots.plot_confusion_matrix(full.label.to_numpy(), full.prediction.to_numpy(), title)


def embed_test_features(features: dict[str, np.ndarray], reporting: ReportingConfig) -> pd.DataFrame:
    return embed_2d(features["test_x"], features["test_y"], reporting.embedding, reporting.embedding_points, reporting.seed)


def plot_embedding(test_embedding: pd.DataFrame, reporting: ReportingConfig) -> Figure:
    method = "t-SNE" if reporting.embedding == "tsne" else "PCA"
    return plots.plot_embedding(test_embedding, f"{method} of frozen CPC features, {len(test_embedding)} MNIST test images")


def build_report(
    digit_source: dict, sequences: SequenceConfig, pretraining: PretrainingConfig, probing: ProbingConfig,
    rendering: RenderingConfig,
    pretraining_history: pd.DataFrame, probe_metrics: pd.DataFrame, stage_wall_times: dict[str, float],
    simclr: SimCLRConfig, simclr_history: pd.DataFrame,
) -> str:
    configuration = {
        name: cfg.model_dump(mode="json")
        for name, cfg in (("sequences", sequences), ("rendering", rendering), ("pretraining", pretraining),
                          ("simclr", simclr), ("probing", probing))
    }
    return write_report(
        digit_source, configuration["sequences"], configuration, pretraining_history, probe_metrics, stage_wall_times,
        simclr_history,
    )
