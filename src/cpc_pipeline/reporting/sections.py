"""The report's computed sections: the headline figures, what each encoder was trained with, the methods side by
side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cpc_pipeline.methods import METHODS, Method, headline_method


def markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def cited_value(figure) -> str:
    return pct(figure.value) if figure.unit == "fraction" else f"{figure.value:,.0f} {figure.unit}"


def supervision_section(metrics: pd.DataFrame, dataset: str) -> list[str]:
    """What each encoder's own training used, and the label-free methods compared with each other."""
    methods = [m for m in METHODS.values() if m.key in set(metrics.encoder)]
    out = [
        "## What each encoder was trained with",
        "",
        "A probe's `labels_used` counts the labels it was fitted on plus those its hyperparameter was chosen on "
        "(at label fraction f, a fraction f of the training *and* of the validation labels). The encoders "
        "themselves were trained as follows:",
        "",
        "| encoder | supervision | pretext task |",
        "|---|---|---|",
        *[f"| {m.key} | {m.supervision.level} | {m.supervision.pretext} |" for m in methods],
        "",
    ]
    label_free = [m.key for m in methods if m.supervision.level == "none"]
    rows = metrics[metrics.encoder.isin(label_free) & (metrics.probe != "end_to_end")]
    if len(label_free) > 1 and len(rows):
        table = rows.pivot_table(index=["probe", "label_fraction"], columns="encoder", values="test_accuracy")
        weak = [m.name for m in methods if m.supervision.level != "none"]
        out += [
            f"Label-free encoders compared with each other ({dataset} test accuracy; "
            f"{', '.join(weak) or 'no other encoder'} left out here, as trained with labels):",
            "",
            markdown_table(table.reset_index()),
            "",
        ]
    return out


def test_accuracy(metrics: pd.DataFrame, encoder: str, probe: str, fraction: float) -> float | None:
    r = metrics[(metrics.encoder == encoder) & (metrics.probe == probe) & np.isclose(metrics.label_fraction, fraction)]
    return float(r.test_accuracy.iloc[0]) if len(r) else None


def with_interval(metrics: pd.DataFrame, encoder: str, probe: str, fraction: float) -> str | None:
    """``98.1% [97.8, 98.4]``: the test accuracy and its Wilson 95 % interval for the test set's size."""
    r = metrics[(metrics.encoder == encoder) & (metrics.probe == probe) & np.isclose(metrics.label_fraction, fraction)]
    if not len(r):
        return None
    r = r.iloc[0]
    if "test_accuracy_low95" not in r:
        return pct(r.test_accuracy)
    return f"{pct(r.test_accuracy)} [{100 * r.test_accuracy_low95:.1f}, {100 * r.test_accuracy_high95:.1f}]"


def end_to_end_accuracy(metrics: pd.DataFrame, fraction: float) -> float | None:
    """The test accuracy of the encoder trained end to end with ``fraction`` of the labels (not frozen)."""
    r = metrics[(metrics.probe == "end_to_end") & np.isclose(metrics.label_fraction, fraction)]
    return float(r.test_accuracy.iloc[0]) if len(r) else None


def chance_accuracy(metrics: pd.DataFrame) -> float:
    """The chance row's accuracy: one over the number of classes."""
    return float(metrics[metrics.encoder == "chance"].test_accuracy.iloc[0])


def frozen_above_supervised(metrics: pd.DataFrame, fraction: float) -> list[str]:
    """``encoder probe accuracy`` of every frozen probe at ``fraction`` on an encoder trained without all the labels
    that scores above the encoder trained end to end with the same labels: where there are any, that baseline bounds
    nothing and is not called a bound."""
    end_to_end = end_to_end_accuracy(metrics, fraction)
    if end_to_end is None:
        return []
    fully_supervised = [key for key, m in METHODS.items() if m.supervision.level == "full"]
    rows = metrics[
        np.isclose(metrics.label_fraction, fraction)
        & (metrics.probe != "end_to_end")
        & ~metrics.encoder.isin(["chance", *fully_supervised])
        & (metrics.test_accuracy > end_to_end)
    ]
    return [
        f"{METHODS[r.encoder].name if r.encoder in METHODS else r.encoder} {r.probe} {pct(r.test_accuracy)}"
        for r in rows.itertuples()
    ]


def headline_lines(metrics: pd.DataFrame, main: Method | None = None) -> list[str]:
    """One line per encoder with its frozen MLP and linear probes at the most labels probed (normally all), then
    the supervised encoder trained end to end and chance; ``main`` (the run's headline method) in bold."""
    main = main or headline_method()
    f = float(metrics.label_fraction.max())
    out = [
        f"With {pct(f)} of the training labels (test accuracy [its Wilson 95 % interval for the test set's size]):",
        "",
    ]
    for m in METHODS.values():
        mlp, linear = with_interval(metrics, m.key, "mlp", f), with_interval(metrics, m.key, "linear", f)
        if mlp is None and linear is None:
            continue
        probes = ", ".join(f"{name} {value}" for name, value in (("MLP", mlp), ("linear", linear)) if value is not None)
        bold = m is main
        out.append(
            f"- {'**' if bold else ''}{m.name} encoder, frozen: {probes}{'**' if bold else ''} "
            f"(supervision: {m.supervision.level})."
        )
    end_to_end = end_to_end_accuracy(metrics, f)
    if end_to_end is not None:
        above = frozen_above_supervised(metrics, f)
        out.append(
            f"- The reference encoder trained end to end with these labels: {pct(end_to_end)}"
            + (
                f"; **not an upper bound**: frozen probes score above it ({'; '.join(above)}), so it is "
                "under-trained at this budget."
                if above
                else " (an upper bound for the frozen probes here)."
            )
        )
    out.append(f"- Chance: {pct(chance_accuracy(metrics))}.")
    return out


def method_comparison(
    metrics: pd.DataFrame, histories: dict[str, pd.DataFrame | None], configuration: dict, dataset: str
) -> list[str]:
    """The pretraining methods side by side: the same frozen-encoder probes, the same test images."""
    present = {
        m: histories.get(m.key)
        for m in METHODS.values()
        if m.trains and m.key in set(metrics.encoder) and histories.get(m.key) is not None
    }
    if len(present) < 2:
        return []
    rows = metrics[metrics.encoder.isin([m.key for m in present]) & (metrics.probe != "end_to_end")]
    table = rows.pivot_table(index=["probe", "label_fraction"], columns="encoder", values="test_accuracy").reset_index()
    out = ["## Methods side by side", ""]
    for method, history in present.items():
        other = configuration.get(method.parameters, {}).get("dataset", "mnist") == "cifar10"
        last = history.iloc[-1]
        knn = last.get("val_knn_accuracy")
        out.append(
            f"{method.name} trained on {'CIFAR-10' if other else dataset} for {int(last['epoch'])} epochs "
            f"({history['epoch_seconds'].sum():.0f} s)"
            + (
                f"; its last validation k-NN monitor accuracy (cosine, on the training bank): {knn:.4f}"
                if knn is not None and pd.notna(knn)
                else ""
            )
            + "."
            + (" **It was trained and probed on a different dataset: its rows are not comparable.**" if other else "")
        )
    label_free = [m.name for m in present if m.label_free]
    return out + [
        "",
        "Test accuracy of the same probes on each frozen encoder, with each method's own supervision beside it in "
        f"the table above; {' and '.join(label_free) or 'none'} use no labels, so they compare with each other as "
        "self-supervised methods.",
        "",
        markdown_table(table),
        "",
    ]
