"""The Markdown report: a person reads it top to bottom (plain Python, no Kedro)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.sources.common import SOURCE_NAMES
from cpc_pipeline.methods import METHODS, Method, headline_method
from cpc_pipeline.reporting.cited import CITED
from cpc_pipeline.reporting.sections import (
    cited_value,
    headline_lines,
    markdown_table,
    method_comparison,
    supervision_section,
)


class ReportingConfig(StrictModel):
    """``params:reporting``."""

    embedding: Literal["tsne", "pca"] = "tsne"
    embedding_points: int = Field(2000, ge=10)  # test images in the 2-D map
    headline_probe: Literal["mlp", "linear", "knn"] = "mlp"  # its confusion matrix is plotted
    seed: int = Field(0, ge=0)


def run_headline(trained: dict[str, bool]) -> Method:
    """The run's main method: the registry's first trained method that did train in this run (``trained``: by
    registry key; sequence CPC does not on a folder of pictures), else the registry's first."""
    methods = [m for m in METHODS.values() if m.trains and trained.get(m.key)]
    return methods[0] if methods else headline_method()


def dataset_name(data_source: dict) -> str:
    """What the pictures are, for titles and text: MNIST, Fashion-MNIST, or the fallback digits."""
    source = str(data_source.get("source", "digits"))
    return SOURCE_NAMES.get(source, source)


def source_warning(data_source: dict) -> list[str]:
    """The report's first lines when the digits are not MNIST (the offline fallback, or another dataset), so that
    nobody reads its figures as MNIST's."""
    if data_source.get("source") in ("mnist", "folder"):  # a folder: the title says whose pictures
        return []
    return [
        f"> **Warning: these figures are NOT on MNIST.** The run used the source `{data_source.get('source')}` "
        f"(read from `{data_source.get('location')}`), so they do not compare with MNIST's; the data section "
        "says what it is.",
        "",
    ]


def plots(dataset: str, method: str, sequences: bool = True) -> list[tuple[str, str]]:
    """The report's figures (file, caption), written beside it by the reporting stage; ``method``: the headline's."""
    preview = (
        "Sample sequences (positives count up; negatives have every future digit wrong)"
        if sequences
        else "The first validation pictures"
    )
    return [
        ("sequence_preview.png", preview),
        ("pretraining_curves_plot.png", f"{method} pretraining curves"),
        ("step_accuracy_plot.png", "Validation accuracy per prediction step"),
        ("label_efficiency_plot.png", "Probe test accuracy vs fraction of labels"),
        ("confusion_matrix_plot.png", f"Confusion matrix of the headline probe on {dataset} test"),
        ("embedding_plot.png", f"2-D map of the {method} encoder's test features"),
    ]


def probes_section(probe_metrics: pd.DataFrame, dataset: str) -> list[str]:
    return [
        f"## Probes and baselines ({dataset} test)",
        "",
        "One row per (encoder, probe, label fraction); `chosen` is the hyperparameter picked on the "
        "`selection_labels` validation images, `labels_used` = `train_labels` + `selection_labels`. The "
        "`supervised` encoder itself was trained with all labels (its `end_to_end` rows are trained end to end "
        "with only that fraction); `encoder_supervision` says what each encoder's own training used.",
        "",
        markdown_table(probe_metrics),
        "",
    ]


def write_report(
    data_source: dict,
    configuration: dict[str, Any],
    probe_metrics: pd.DataFrame,
    stage_wall_times: dict[str, float],
    histories: dict[str, pd.DataFrame],
) -> str:
    """The report; ``configuration``: the run's parameters (printed at the end), plain or validated blocks;
    ``histories``: each trained method's per-epoch table, by its registry key."""
    configuration = {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in configuration.items()}
    main = run_headline({key: len(history) > 0 for key, history in histories.items()})
    pretraining_history = histories[main.key]
    last = pretraining_history.iloc[-1]
    sequences = configuration.get("sequences", {})
    loss = configuration.get("pretraining", {}).get("objective", {}).get("loss", "infonce")
    genuine = data_source.get("source") == "mnist"
    folder = data_source.get("source") == "folder"
    labelled = len(probe_metrics) > 0
    dataset = dataset_name(data_source)
    title = (
        f"{main.name} on the pictures in {data_source.get('location')}"
        if folder
        else "CPC on the reference's sequence task"
    )
    out = [f"# {title}: report", "", *source_warning(data_source)]
    not_trained = [METHODS[key].name for key, history in histories.items() if len(history) == 0]
    if not_trained:
        out += [f"Not trained on this source (the run's log says why): {', '.join(not_trained)}.", ""]
    out += [
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. All accuracies are on the **"
        f"{dataset} test split** (never used for training, tuning or model selection); probes are "
        "fitted on train and tuned on validation.",
        "",
        "## Headline",
        "",
        *(
            headline_lines(probe_metrics, main)
            if labelled
            else [
                "These pictures have no labels, so no probe was fitted and there is no accuracy to report: the "
                "training curves, the map of the features and the MLflow runs are what this run gives.",
            ]
        ),
        "",
        *(
            []
            if folder  # the cited figures are the digits'
            else [
                "Cited, not measured by this run (sources in `cpc_pipeline/reporting/cited.py`):",
                "",
                *[f"- {c.what}: {cited_value(c)} ({c.source})." for c in CITED],
                "",
            ]
        ),
        *(supervision_section(probe_metrics, dataset) if labelled else []),
    ]
    classes = data_source.get("classes")
    out += [
        "## Data",
        "",
        f"- Source: `{data_source.get('source')}` read from `{data_source.get('location')}`"
        + (" (genuine MNIST, md5-checked)." if genuine else f" ({dataset}, not MNIST)."),
        f"- Images: {data_source.get('train_images')} train / {data_source.get('validation_images')} validation / "
        f"{data_source.get('test_images')} test"
        + (f"; {len(classes)} classes ({', '.join(classes)})." if classes else "; no labels." if folder else "."),
        *(
            [f"- Files skipped or converted: {', '.join(f'{k[6:]} {v}' for k, v in skipped.items())}."]
            if (skipped := {k: v for k, v in data_source.items() if k.startswith("files_")})
            else []
        ),
        *(
            []
            if folder
            else [
                f"- Sequences: {sequences.get('terms')} context + {sequences.get('predict_terms')} predicted images; "
                f"{sequences.get('validation_sequences')} validation and {sequences.get('test_sequences')} test "
                "sequences (fixed tables), training sequences as configured below."
            ]
        ),
        "",
        f"## Pretraining: {main.name}",
        "",
        (f"Loss `{loss}`, " if main is headline_method() else "")
        + f"{int(last['epoch'])} epochs ({pretraining_history['epoch_seconds'].sum():.0f} s). Last epoch "
        "on validation: "
        + ", ".join(
            f"{name} {last[col]:.4f}"
            for col, name in (
                ("val_loss", "loss"),
                ("val_accuracy", "contrastive accuracy"),
                ("val_candidates", "among this many valid candidates"),
                ("val_chance_accuracy", "its chance"),
                ("val_mi_bound", "MI bound (nats)"),
                ("val_sequence_accuracy", "sequence-discrimination accuracy (chance 0.5)"),
                ("val_knn_accuracy", "k-NN monitor accuracy"),
            )
            if col in last and pd.notna(last[col])
        )
        + ".",
        "",
        *method_comparison(probe_metrics, histories, configuration, dataset),
        *(probes_section(probe_metrics, dataset) if labelled else []),
        "## Plots",
        "",
    ]
    for path, caption in plots(dataset, main.name, sequences=not folder):
        out += [f"### {caption}", "", f"![{caption}]({path})", ""]
    out += ["## Wall time per stage", "", "| stage | seconds |", "|---|---|"]
    for stage, seconds in stage_wall_times.items():
        out.append(f"| {stage} | {seconds:.1f} |")
    out += [
        "",
        "Node time of each stage before reporting, as its MLflow stage run recorded it (`stage_wall_seconds`); the "
        "reporting stage's own time is in its MLflow run.",
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(configuration, indent=2, default=str),
        "```",
        "",
    ]
    return "\n".join(out)
