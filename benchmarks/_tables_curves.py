"""Accuracy against pretraining compute (``benchmarks/curves.py``): the table of every budget point and the plot
(``docs/<name>.svg``), both from ``benchmarks/results/<name>.json``."""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib
import pandas as pd

from _tables import ENCODERS, PROBES, from_json, load, pm, table
from cpc_pipeline.methods import METHODS, in_table_order
from cpc_pipeline.reporting.plots import plot_compute_curves

POINTS = [("linear", 1.0), ("linear", 0.01), ("mlp", 1.0), ("mlp", 0.01)]


def _frame(d: dict) -> pd.DataFrame:
    rows = pd.DataFrame(d["rows"])
    stats = pd.DataFrame(list(rows.test_accuracy))
    return pd.concat([rows.drop(columns=["test_accuracy", "val_accuracy"]), stats[["mean", "std", "n"]]], axis=1)


def curves_table(name: str, dataset: str) -> Callable[[], str]:
    """One row per (method, budget): epochs, images seen, FLOPs, minutes, then test accuracy mean ± std over the
    seeds for the frozen linear and MLP probes at 100 % and 1 % of the labels; the baselines last; then the plot
    (:func:`curves_figure`, ``docs/<name>.svg``)."""

    @from_json(name)
    def render(d: dict) -> list[str]:
        frame = _frame(d)
        rows = []
        for method in in_table_order():
            mine = frame[frame.encoder == method.key]
            for epochs in sorted(set(mine.epochs)):
                at = mine[mine.epochs == epochs]
                first = at.iloc[0]
                cells = [
                    pm({"mean": r.iloc[0]["mean"], "std": r.iloc[0]["std"], "n": r.iloc[0]["n"]}) if len(r) else ""
                    for r in (at[(at.probe == p) & (at.label_fraction == f)] for p, f in POINTS)
                ]
                seeds = int(at["n"].max())
                trained = method.trains or method.key == "supervised"
                rows.append(
                    [
                        ENCODERS[method.key]
                        if method.key != "supervised" or "end_to_end" not in set(at.probe)
                        else f"{ENCODERS[method.key]} (frozen; end to end: {pm(_end(at))})",
                        f"{epochs}" if trained else "",
                        f"{first.images_seen / 1e6:.2f} M" if trained else "",
                        f"{first.train_flops / 1e12:,.0f}" if trained else "",
                        f"{first.train_seconds / 60:.1f}" if trained else "",
                        str(seeds),
                        *cells,
                    ]
                )
        machine = d["machine"].get("cpu_model") or d["machine"].get("device", "")
        return [
            f"{dataset}, `{d['env']}` configuration, test accuracy (%) mean ± std over the seeds, every choice on "
            f"validation; from `benchmarks/results/{name}.json` (its `commands`: {len(d['commands'])} process(es); "
            f"{machine}, {d['threads']} thread(s) a process, code commit `{d['code_commit'][:10]}`):",
            "",
            *table(
                ["encoder", "epochs", "images seen", "TFLOPs", "train min", "seeds"]
                + [f"{PROBES[p]}, {f:.0%} labels" for p, f in POINTS],
                rows,
            ),
            "",
            f"![{dataset}: test accuracy against pretraining FLOPs, mean ± std of the seeds]({name}.svg)",
        ]

    return render


def _end(at: pd.DataFrame) -> dict | None:
    r = at[(at.probe == "end_to_end") & (at.label_fraction == 1.0)]
    return None if r.empty else {"mean": r.iloc[0]["mean"], "std": r.iloc[0]["std"], "n": r.iloc[0]["n"]}


def curves_figure(name: str, dataset: str) -> Callable[[], bytes | None]:
    """The plot as SVG bytes, the same for the same JSON (no date, a fixed hash salt), or None without the JSON."""

    def figure() -> bytes | None:
        d = load(name)
        if d is None:
            return None
        frame = _frame(d)
        curves = frame[frame.encoder.map(lambda k: k in METHODS and METHODS[k].trains) & (frame.probe != "end_to_end")]
        flat = frame[~frame.index.isin(curves.index) & (frame.probe != "end_to_end")]
        out = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
            plot_compute_curves(curves, dataset, flat).savefig(out, format="svg", metadata={"Date": None})
        return out.getvalue()

    return figure
