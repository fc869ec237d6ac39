"""The report's computed sections: the headline figures, what each encoder was trained with, the methods side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cpc_pipeline.evaluation.supervision import SUPERVISION


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
            markdown_table(table.reset_index()),
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
        "compare with each other as self-supervised methods.", "", markdown_table(table), "",
    ]
