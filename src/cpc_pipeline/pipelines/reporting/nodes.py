"""Thin nodes: catalog tables -> figures and the Markdown report (see :mod:`cpc_pipeline.reporting`), and what
the hooks recorded in MLflow read back for the report (:mod:`cpc_pipeline.tracking`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cpc_pipeline import tracking
from cpc_pipeline.methods import METHODS, Method, headline_method, stages
from cpc_pipeline.models.not_trained import not_trained_reason
from cpc_pipeline.reporting import plots
from cpc_pipeline.reporting.embedding import embed_2d
from cpc_pipeline.reporting.report import ReportingConfig, dataset_name, run_headline, write_report

STAGE = __name__.split(".")[-2]


def read_run_parameters() -> dict[str, Any]:
    """The run's whole configuration, as the parent MLflow run holds it (``{}`` with tracking off)."""
    return tracking.logged_run_parameters()


def read_stage_wall_times(probe_metrics: pd.DataFrame) -> dict[str, float]:
    """Each stage's node time before this one, from its latest MLflow stage run (``probe_metrics``: only so that
    this node runs after them)."""
    return tracking.latest_stage_wall_times([s for s in stages() if s != STAGE])


def _headline(tables: dict[str, Any], trained) -> Method:
    """The run's main method among ``tables`` (by registry key): the first whose table ``trained`` accepts."""
    return run_headline({key: trained(table) for key, table in tables.items()})


def plot_pretraining_curves(**histories: pd.DataFrame) -> Figure:
    """The headline method's training curves: the first trained method that did train in this run."""
    main = _headline(histories, len)
    return plots.plot_pretraining_curves(histories[main.key], f"{main.name} pretraining")


def plot_step_accuracy(**histories: pd.DataFrame) -> Figure:
    main = _headline(histories, len)
    return plots.plot_step_accuracy(histories[main.key], main.name)


def plot_label_efficiency(probe_metrics: pd.DataFrame, digit_source: dict) -> Figure:
    return plots.plot_label_efficiency(probe_metrics, dataset_name(digit_source))


def plot_confusion_matrix(digit_source: dict, reporting: ReportingConfig, **predictions: pd.DataFrame) -> Figure:
    """The headline probe (all labels) on the headline method's frozen features, on the test split."""
    main = _headline(predictions, len)
    title = f"{main.name} frozen + {reporting.headline_probe} probe, {dataset_name(digit_source)} test"
    full = predictions[main.key]
    full = full[(full.probe == reporting.headline_probe)]
    if full.empty:
        return plots.message_figure(f"no {reporting.headline_probe} probe was fitted (no labels, or not asked)", title)
    full = full[np.isclose(full.label_fraction, full.label_fraction.max())]
    accuracy = float((full.label == full.prediction).mean())
    return plots.plot_confusion_matrix(
        full.label.to_numpy(), full.prediction.to_numpy(), f"{title} (accuracy {accuracy:.4f})"
    )


def embed_test_features(reporting: ReportingConfig, **features: dict[str, np.ndarray]) -> pd.DataFrame:
    """The 2-D map of the headline method's test features (column ``encoder``: whose)."""
    main = _headline(features, lambda f: not_trained_reason(f) is None)
    chosen = features[main.key]
    embedding = embed_2d(
        chosen["test_x"], chosen["test_y"], reporting.embedding, reporting.embedding_points, reporting.seed
    )
    return embedding.assign(encoder=main.key)


def plot_embedding(test_embedding: pd.DataFrame, digit_source: dict, reporting: ReportingConfig) -> Figure:
    method = "t-SNE" if reporting.embedding == "tsne" else "PCA"
    name = METHODS[test_embedding.encoder.iloc[0]].name if "encoder" in test_embedding else headline_method().name
    return plots.plot_embedding(
        test_embedding,
        f"{method} of frozen {name} features, {len(test_embedding)} {dataset_name(digit_source)} test images",
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
