"""The Markdown report: a person reads it top to bottom (plain Python, no Kedro)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from cpc_pipeline.config import StrictModel
from cpc_pipeline.reporting.cited import CITED
from cpc_pipeline.reporting.sections import (
    cited_value,
    pct,
    markdown_table,
    headline,
    method_comparison,
    supervision_section,
)


class ReportingConfig(StrictModel):
    """``params:reporting``."""

    embedding: Literal["tsne", "pca"] = "tsne"
    embedding_points: int = Field(2000, ge=10)  # test images in the 2-D map
    headline_probe: Literal["mlp", "linear", "knn"] = "mlp"  # its confusion matrix is plotted
    seed: int = Field(0, ge=0)


def dataset_name(data_source: dict) -> str:
    """What the digits are, for titles: MNIST, or the fallback."""
    return "MNIST" if data_source.get("source") == "mnist" else str(data_source.get("source", "digits"))

def source_warning(data_source: dict) -> list[str]:
    """The report's first lines when the digits are not MNIST (the offline fallback, or another dataset), so that
    nobody reads its figures as MNIST's."""
    if data_source.get("source") == "mnist":
        return []
    return [f"> **Warning: these figures are NOT on MNIST.** The run used the source `{data_source.get('source')}` "
            f"(read from `{data_source.get('location')}`), so they do not compare with MNIST's; the data section "
            "says what it is.", ""]


PLOTS = [
    ("sequence_preview.png", "Sample sequences (positives count up; negatives have every future digit wrong)"),
    ("pretraining_curves_plot.png", "Pretraining curves"),
    ("step_accuracy_plot.png", "Validation accuracy per prediction step"),
    ("label_efficiency_plot.png", "Probe test accuracy vs fraction of labels"),
    ("confusion_matrix_plot.png", "Confusion matrix of the headline probe on MNIST test"),
    ("embedding_plot.png", "2-D map of the CPC encoder's test features"),
]

def write_report(
    data_source: dict,
    configuration: dict[str, Any],
    pretraining_history: pd.DataFrame,
    probe_metrics: pd.DataFrame,
    stage_wall_times: dict[str, float],
    simclr_history: pd.DataFrame | None = None,
    patch_cpc_history: pd.DataFrame | None = None,
) -> str:
    """The report; ``configuration``: the run's parameters (printed at the end), plain or validated blocks."""
    configuration = {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in configuration.items()}
    h = headline(probe_metrics)
    last = pretraining_history.iloc[-1]
    sequences = configuration.get("sequences", {})
    loss = configuration.get("pretraining", {}).get("objective", {}).get("loss", "infonce")
    genuine = data_source.get("source") == "mnist"
    out = ["# CPC on the reference's sequence task: report", "", *source_warning(data_source)]
    out += [
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. All accuracies are on the **"
        f"{dataset_name(data_source)} test split** (never used for training, tuning or model selection); probes are "
        "fitted on train and tuned on validation.",
        "",
        "## Headline",
        "",
        f"With {pct(h['label_fraction'])} of the training labels:",
        "",
    ]
    if h["cpc_mlp"] is not None:
        out += [
            f"- **CPC encoder, frozen, reference MLP probe: {pct(h['cpc_mlp'])}** test accuracy "
            f"(linear probe {pct(h['cpc_linear']) if h['cpc_linear'] is not None else 'n/a'}).",
        ]
    if h["simclr_mlp"] is not None:
        out.append(
            f"- SimCLR encoder, frozen, the same probes: MLP {pct(h['simclr_mlp'])}"
            + (f", linear {pct(h['simclr_linear'])}" if h["simclr_linear"] is not None else "") + "."
        )
    if h["patch_cpc_mlp"] is not None:
        out.append(
            f"- Patch CPC encoder (label-free), frozen, the same probes: MLP {pct(h['patch_cpc_mlp'])}"
            + (f", linear {pct(h['patch_cpc_linear'])}" if h["patch_cpc_linear"] is not None else "") + "."
        )
    if h["random_mlp"] is not None:
        out.append(
            f"- Same architecture at random init, frozen: MLP {pct(h['random_mlp'])}"
            + (f", linear {pct(h['random_linear'])}" if h["random_linear"] is not None else "")
            + " (what the architecture gives without learning; its BatchNorm statistics averaged over "
            "unlabelled training images)."
        )
    if h["supervised_end_to_end"] is not None:
        out.append(f"- Supervised end to end with all labels (upper bound): {pct(h['supervised_end_to_end'])}.")
    out += [
        "- Chance: 10.0%.",
        "",
        "Cited, not measured by this run (the public Keras CPC reference; sources in "
        "`cpc_pipeline/reporting/cited.py`):",
        "",
        *[f"- {c.what}: {cited_value(c)} ({c.source})." for c in CITED],
        "",
        *supervision_section(probe_metrics),
    ]
    out += [
        "## Data",
        "",
        f"- Source: `{data_source.get('source')}` read from `{data_source.get('location')}`"
        + (" (genuine MNIST, md5-checked)." if genuine else " (a fallback, not MNIST)."),
        f"- Images: {data_source.get('train_images')} train / {data_source.get('validation_images')} validation / "
        f"{data_source.get('test_images')} test.",
        f"- Sequences: {sequences.get('terms')} context + {sequences.get('predict_terms')} predicted images; "
        f"{sequences.get('validation_sequences')} validation and {sequences.get('test_sequences')} test sequences "
        "(fixed tables), training sequences as configured below.",
        "",
        "## Pretraining",
        "",
        f"Loss `{loss}`, {int(last['epoch'])} epochs. Last epoch on validation: "
        + ", ".join(
            f"{name} {last[col]:.4f}"
            for col, name in (
                ("val_loss", "loss"), ("val_accuracy", "contrastive accuracy"),
                ("val_candidates", "among this many valid candidates"),
                ("val_chance_accuracy", "its chance"), ("val_mi_bound", "MI bound (nats)"),
                ("val_sequence_accuracy", "sequence-discrimination accuracy (chance 0.5)"),
            )
            if col in last and pd.notna(last[col])
        )
        + ".",
        "",
        *method_comparison(probe_metrics, pretraining_history,
                           {"simclr": simclr_history, "patch_cpc": patch_cpc_history}, configuration),
        "## Probes and baselines (MNIST test)",
        "",
        "One row per (encoder, probe, label fraction); `chosen` is the hyperparameter picked on the "
        "`selection_labels` validation images, `labels_used` = `train_labels` + `selection_labels`. The "
        "`supervised` encoder itself was trained with all labels (its `end_to_end` rows are trained end to end "
        "with only that fraction); `encoder_supervision` says what each encoder's own training used.",
        "",
        markdown_table(probe_metrics),
        "",
        "## Plots",
        "",
    ]
    for path, caption in PLOTS:
        out += [f"### {caption}", "", f"![{caption}]({path})", ""]
    out += ["## Wall time per stage", "", "| stage | seconds |", "|---|---|"]
    for stage, seconds in stage_wall_times.items():
        if stage != "reporting":  # still running while this is written
            out.append(f"| {stage} | {seconds:.1f} |")
    out += [
        "",
        "Node time of the latest run of each stage; the reporting stage's own time is in its MLflow run "
        "(`stage_wall_seconds`).",
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(configuration, indent=2, default=str),
        "```",
        "",
    ]
    return "\n".join(out)
