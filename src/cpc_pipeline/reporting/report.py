"""The Markdown report: a person reads it top to bottom (plain Python, no Kedro)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from cpc_pipeline.config import StrictModel
from cpc_pipeline.evaluation.supervision import SUPERVISION
from cpc_pipeline.reporting.cited import CITED


class ReportingConfig(StrictModel):
    """``params:reporting``."""

    embedding: Literal["tsne", "pca"] = "tsne"
    embedding_points: int = Field(2000, ge=10)  # test images in the 2-D map
    headline_probe: Literal["mlp", "linear", "knn"] = "mlp"  # its confusion matrix is plotted
    seed: int = Field(0, ge=0)


def dataset_name(data_source: dict) -> str:
    """What the digits are, for titles: MNIST, or the fallback."""
    return "MNIST" if data_source.get("source") == "mnist" else str(data_source.get("source", "digits"))

PLOTS = [
    ("sequence_preview.png", "Sample sequences (positives count up; negatives have every future digit wrong)"),
    ("pretraining_curves_plot.png", "Pretraining curves"),
    ("step_accuracy_plot.png", "Validation accuracy per prediction step"),
    ("label_efficiency_plot.png", "Probe test accuracy vs fraction of labels"),
    ("confusion_matrix_plot.png", "Confusion matrix of the headline probe on MNIST test"),
    ("embedding_plot.png", "2-D map of the CPC encoder's test features"),
]


def embed_2d(features: np.ndarray, labels: np.ndarray, method: str, points: int, seed: int) -> pd.DataFrame:
    """A seeded subsample of ``features`` mapped to 2-D by t-SNE (over a 50-d PCA) or PCA."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(features), min(points, len(features)), replace=False))
    x = features[idx].astype(np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    if method == "tsne":
        x = PCA(min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)
        xy = TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, (len(x) - 1) / 3)).fit_transform(x)
    else:
        xy = PCA(2, random_state=seed).fit_transform(x)
    return pd.DataFrame({"index": idx, "x": xy[:, 0], "y": xy[:, 1], "digit": labels[idx]})


def _table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _cited_value(figure) -> str:
    return _pct(figure.value) if figure.unit == "fraction" else f"{figure.value:,.0f} {figure.unit}"


def supervision_section(metrics: pd.DataFrame) -> list[str]:
    """What each encoder's own training used, and the label-free methods compared with each other."""
    encoders = [e for e in SUPERVISION if e in set(metrics.encoder) and e != "chance"]
    out = [
        "## What each encoder was trained with",
        "",
        "A probe's `labels_used` counts the labels it was fitted on plus those its hyperparameter was chosen on "
        "(at label fraction f, a fraction f of the training *and* of the validation labels). The encoders "
        "themselves were trained as follows:",
        "",
        "| encoder | supervision | pretext task |",
        "|---|---|---|",
        *[f"| {e} | {SUPERVISION[e].level} | {SUPERVISION[e].pretext} |" for e in encoders],
        "",
    ]
    label_free = [e for e in encoders if SUPERVISION[e].level == "none"]
    rows = metrics[metrics.encoder.isin(label_free) & (metrics.probe != "end_to_end")]
    if len(label_free) > 1 and len(rows):
        table = rows.pivot_table(index=["probe", "label_fraction"], columns="encoder", values="test_accuracy")
        out += [
            "Label-free encoders compared with each other (MNIST test accuracy; sequence CPC is weakly supervised "
            "and left out here):",
            "",
            _table(table.reset_index()),
            "",
        ]
    return out


def _get(metrics: pd.DataFrame, encoder: str, probe: str, fraction: float) -> float | None:
    r = metrics[(metrics.encoder == encoder) & (metrics.probe == probe) & np.isclose(metrics.label_fraction, fraction)]
    return float(r.test_accuracy.iloc[0]) if len(r) else None


def headline(metrics: pd.DataFrame) -> dict[str, float | None]:
    """The numbers a reader wants first: with the most labels probed (normally all), on MNIST test."""
    f = float(metrics.label_fraction.max())
    return {
        "label_fraction": f,
        "cpc_mlp": _get(metrics, "cpc", "mlp", f),
        "cpc_linear": _get(metrics, "cpc", "linear", f),
        "simclr_mlp": _get(metrics, "simclr", "mlp", f),
        "simclr_linear": _get(metrics, "simclr", "linear", f),
        "patch_cpc_mlp": _get(metrics, "patch_cpc", "mlp", f),
        "patch_cpc_linear": _get(metrics, "patch_cpc", "linear", f),
        "random_mlp": _get(metrics, "random", "mlp", f),
        "random_linear": _get(metrics, "random", "linear", f),
        "supervised_end_to_end": _get(metrics, "supervised", "end_to_end", f),
        "chance": 0.1,
    }


LABEL_FREE = {"simclr": "SimCLR", "patch_cpc": "Patch CPC"}  # the label-free methods, beside sequence CPC


def method_comparison(
    metrics: pd.DataFrame, cpc_history: pd.DataFrame, histories: dict[str, pd.DataFrame | None], configuration: dict
) -> list[str]:
    """Sequence CPC and the label-free methods side by side: the same frozen-encoder probes, the same test images."""
    present = {m: h for m, h in histories.items() if h is not None and m in set(metrics.encoder)}
    if not present:
        return []
    rows = metrics[metrics.encoder.isin(["cpc", *present]) & (metrics.probe != "end_to_end")]
    table = rows.pivot_table(index=["probe", "label_fraction"], columns="encoder", values="test_accuracy").reset_index()
    out = ["## Methods side by side", "", f"Sequence CPC trained for {cpc_history['epoch_seconds'].sum():.0f} s."]
    for method, history in present.items():
        block = configuration.get(method, {})
        dataset = block.get("dataset", "mnist")
        last = history.iloc[-1]
        out.append(
            f"{LABEL_FREE[method]} trained on `{dataset}` for {int(last['epoch'])} epochs "
            f"({history['epoch_seconds'].sum():.0f} s); its last validation k-NN monitor accuracy (cosine, on the "
            f"training bank): {last.get('val_knn_accuracy', float('nan')):.4f}."
            + (" **It was trained and probed on a different dataset: its rows are not comparable.**"
               if dataset != "mnist" else "")
        )
    return out + [
        "",
        "Test accuracy of the same probes on each frozen encoder. Sequence CPC is weakly supervised (its "
        "training sequences are ordered by the digit labels); SimCLR and patch CPC use no labels, so they "
        "compare with each other as self-supervised methods.", "", _table(table), "",
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
    out = [
        "# CPC on the reference's sequence task: report",
        "",
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. All accuracies are on the **MNIST test split** "
        "(never used for training, tuning or model selection); probes are fitted on train and tuned on validation.",
        "",
        "## Headline",
        "",
        f"With {_pct(h['label_fraction'])} of the training labels:",
        "",
    ]
    if h["cpc_mlp"] is not None:
        out += [
            f"- **CPC encoder, frozen, reference MLP probe: {_pct(h['cpc_mlp'])}** test accuracy "
            f"(linear probe {_pct(h['cpc_linear']) if h['cpc_linear'] is not None else 'n/a'}).",
        ]
    if h["simclr_mlp"] is not None:
        out.append(
            f"- SimCLR encoder, frozen, the same probes: MLP {_pct(h['simclr_mlp'])}"
            + (f", linear {_pct(h['simclr_linear'])}" if h["simclr_linear"] is not None else "") + "."
        )
    if h["patch_cpc_mlp"] is not None:
        out.append(
            f"- Patch CPC encoder (label-free), frozen, the same probes: MLP {_pct(h['patch_cpc_mlp'])}"
            + (f", linear {_pct(h['patch_cpc_linear'])}" if h["patch_cpc_linear"] is not None else "") + "."
        )
    if h["random_mlp"] is not None:
        out.append(
            f"- Same architecture at random init, frozen: MLP {_pct(h['random_mlp'])}"
            + (f", linear {_pct(h['random_linear'])}" if h["random_linear"] is not None else "")
            + " (what the architecture gives without learning; its BatchNorm statistics averaged over "
            "unlabelled training images)."
        )
    if h["supervised_end_to_end"] is not None:
        out.append(f"- Supervised end to end with all labels (upper bound): {_pct(h['supervised_end_to_end'])}.")
    out += [
        "- Chance: 10.0%.",
        "",
        "Cited, not measured by this run (the public Keras CPC reference; sources in "
        "`cpc_pipeline/reporting/cited.py`):",
        "",
        *[f"- {c.what}: {_cited_value(c)} ({c.source})." for c in CITED],
        "",
        *supervision_section(probe_metrics),
    ]
    if not genuine:
        out += ["> **Warning: these figures are NOT on MNIST.** The run used the fallback source "
                f"`{data_source.get('source')}`; see the data section.", ""]
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
        _table(probe_metrics),
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
