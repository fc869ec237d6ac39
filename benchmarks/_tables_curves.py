"""Accuracy against pretraining compute (``benchmarks/curves.py``): the table of every budget point and the plot
(``docs/<name>.svg``), both from ``benchmarks/results/<name>.json``."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable

import matplotlib
import pandas as pd

from _tables import ENCODERS, PROBES, ROOT, from_json, load, pm, table
from cpc_pipeline.methods import METHODS, in_table_order
from cpc_pipeline.reporting.plots import plot_compute_curves

POINTS = [("linear", 1.0), ("linear", 0.01), ("mlp", 1.0), ("mlp", 0.01)]


def _frame(d: dict) -> pd.DataFrame:
    rows = pd.DataFrame(d["rows"])
    stats = pd.DataFrame(list(rows.test_accuracy))
    return pd.concat([rows.drop(columns=["test_accuracy", "val_accuracy"]), stats[["mean", "std", "n"]]], axis=1)


def _parameters(env: str) -> dict:
    from kedro.config import OmegaConfigLoader

    from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS

    with warnings.catch_warnings():  # kedro's own deprecation notices, not the tables'
        warnings.simplefilter("ignore")
        return OmegaConfigLoader(str(ROOT / "conf"), env=env, **CONFIG_LOADER_ARGS)["parameters"]


def test_set_sentence(env: str) -> list[str]:
    """How far the test set's size alone lets one run's accuracy move (95 % Wilson), beside the seeds' spread: for
    the IDX sources, whose test split is their t10k file."""
    from cpc_pipeline.data.sources import MNIST_FILES
    from cpc_pipeline.evaluation import wilson_interval

    if _parameters(env).get("source", {}).get("name", "mnist") not in ("mnist", "fashion_mnist"):
        return []
    n = MNIST_FILES["t10k-labels-idx1-ubyte"][1]
    half = {a: (wilson_interval(a, n)[1] - wilson_interval(a, n)[0]) / 2 for a in (0.99, 0.9, 0.85)}
    return [
        "",
        f"The ± is the spread over seeds. The test set's size alone ({n:,} images) lets one run's accuracy move by "
        + ", ".join(f"±{100 * h:.2f} points at {100 * a:.0f} %" for a, h in half.items())
        + " (its 95 % Wilson interval).",
    ]


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
            *test_set_sentence(d["env"]),
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


def _stats(at: pd.DataFrame, probe: str, fraction: float) -> dict | None:
    r = at[(at.probe == probe) & (at.label_fraction == fraction)]
    return None if r.empty else {"mean": r.iloc[0]["mean"], "std": r.iloc[0]["std"], "n": r.iloc[0]["n"]}


def plateau_epochs(d: dict, key: str, gain: float = 0.003) -> tuple[int, bool] | None:
    """The budget a method's curve rests at, chosen on validation as ``curves.py`` stops doubling (the linear
    probe's mean validation accuracy at all labels gains less than ``gain`` over the budget before): ``(epochs,
    True)``, unless a larger budget measured later still climbs ``gain`` above it; ``(largest measured, False)``
    when no budget rests yet; None unmeasured."""
    val = {
        r["epochs"]: r["val_accuracy"]["mean"]
        for r in d["rows"]
        if r["encoder"] == key and r["probe"] == "linear" and r["label_fraction"] == 1.0
    }
    budgets = sorted(val)
    for i, (before, now) in enumerate(zip(budgets, budgets[1:])):
        later = [val[b] for b in budgets[i + 2 :]]  # a budget measured beyond it that climbs on: no plateau
        if val[now] - val[before] < gain and all(v - val[now] < gain for v in later):
            return now, True
    return (budgets[-1], False) if budgets else None


def _placed(name: str, mine: pd.DataFrame, default: int, rest: tuple[int, bool]) -> str:
    """``name``'s default budget as a share of where its curve rests, in accuracy and in training time."""
    linear = mine[(mine.probe == "linear") & (mine.label_fraction == 1.0)].set_index("epochs")
    if default not in linear.index or rest[0] not in linear.index:
        return ""
    at, top = linear.loc[default], linear.loc[rest[0]]
    where = "its plateau" if rest[1] else "its largest budget so far"
    if default == rest[0]:
        return (
            f"{name}'s default {default} epochs are {where} ({100 * at['mean']:.2f} %, {at.train_seconds / 60:.1f} min)"
        )
    return (
        f"{name}'s default {default} epochs reach {100 * at['mean']:.2f} % in {at.train_seconds / 60:.1f} min, "
        f"{100 * (top['mean'] - at['mean']):.2f} points below {where} ({rest[0]} epochs, "
        f"{top.train_seconds / 60:.1f} min)"
    )


def curves_headline(name: str, dataset: str, anchors: tuple[str, ...] = ()) -> Callable[[], str]:
    """Each pretraining method at the default budget of its environment and at its plateau (or the largest budget
    measured), beside the baselines of the same study and cited outside anchors, from ``<name>.json``."""
    from cpc_pipeline.reporting.cited import cited

    @from_json(name)
    def render(d: dict) -> list[str]:
        frame = _frame(d)
        params = _parameters(d["env"])
        rows, places = [], []

        def add(label: str, labels: str, at: pd.DataFrame, minutes: str) -> None:
            cells = [pm(_stats(at, p, f)) for p, f in POINTS]
            if any(cells):
                rows.append([label, labels, *cells, minutes])

        for method in in_table_order():
            mine = frame[frame.encoder == method.key]
            if not method.trains or mine.empty:
                continue
            default = params[method.parameters]["trainer"]["epochs"]
            rest = plateau_epochs(d, method.key)
            budgets = [(default, "default budget")]
            budgets += [] if rest[0] == default else [(rest[0], "plateau" if rest[1] else "largest budget so far")]
            for epochs, what in budgets:
                at = mine[mine.epochs == epochs]
                if not at.empty:
                    seeds = int(at["n"].max())
                    label = f"{ENCODERS[method.key]}, {what}: {epochs} epochs" + (
                        f" ({seeds} seed{'s' if seeds > 1 else ''} so far)" if seeds < 3 else ""
                    )
                    add(label, method.supervision.level, at, f"{at.iloc[0].train_seconds / 60:.1f}")
            places.append(_placed(method.name, mine, default, rest))
        for method in in_table_order():
            if not method.trains:
                at = frame[frame.encoder == method.key]
                add(ENCODERS[method.key], method.supervision.level, at, "")
                end = [_stats(at, "end_to_end", f) for f in (1.0, 0.01)]
                if any(end):
                    label = f"same encoder trained end to end ({int(at.iloc[0].epochs)} epochs, not frozen)"
                    minutes = f"{at.iloc[0].train_seconds / 60:.1f}"
                    rows.append([label, "full", "", "", pm(end[0]), pm(end[1]), minutes])
        for key in anchors:
            c = cited(key)
            what = c.what.split(": ", 1)[1].removesuffix(", test accuracy")
            rows.append([f"{what} (**cited**: {c.source.split(' (')[0]})", c.labels, f"{100 * c.value:.1f}", *[""] * 4])
        return [
            f"{dataset} **test** accuracy (%), mean ± std over the seeds, every choice on validation labels, from "
            f"`benchmarks/results/{name}.json` (`{d['env']}` configuration; the plateau is where a doubling of the "
            "budget gained under 0.3 validation points and no larger budget measured climbs on; curves and every "
            "budget: [docs/results.md]"
            "(docs/results.md#accuracy-against-pretraining-compute)).",
            "",
            *table(["encoder", "labels", *(f"{PROBES[p]}, {f:.0%} labels" for p, f in POINTS), "train min"], rows),
            "",
            "Where the default run sits (linear probe, all labels): " + "; ".join(p for p in places if p) + ".",
            *test_set_sentence(d["env"]),
        ]

    return render


def _relative(text: str) -> str:
    """Paths into a project's ``data/`` as the project names them, wherever the study ran."""
    return re.sub(r'"/[^"]*?/(data/studies/)', r'"\1', text)


def tuning_table(name: str, dataset: str, compared: str | None = None) -> Callable[[], str]:
    """``benchmarks/tuning.py``'s settings, best validation first: each change, its training minutes and the
    validation and test accuracy of the frozen linear and MLP probes at all labels; ``compared``: what the
    settings are when they are paths to compare (``folder_source.py``), not choices."""
    import json

    @from_json(name)
    def render(d: dict) -> list[str]:
        rows = [
            [
                f"`{r['setting']}`" + (" (chosen)" if i == 0 and not compared else ""),
                f"`{_relative(json.dumps(r['changes']))}`" if r["changes"] else "the environment's",
                f"{r['train_seconds'] / 60:.1f}",
                str(r["val_accuracy_linear"]["n"]),
                *(pm(r[f"{of}_{probe}"]) for probe in ("linear", "mlp") for of in ("val_accuracy", "test_accuracy")),
            ]
            for i, r in enumerate(d["rows"])
        ]
        what = compared or (
            f"{METHODS[d['method']].name} at `{d['env']}`'s settings changed one at a time. Chosen on the validation "
            "accuracy of the linear probe (all labels); the test columns are recorded, never used to choose."
        )
        return [
            f"{dataset}: {what} From `benchmarks/results/{name}.json` ({d['machine'].get('cpu_model', '')}, "
            f"{d['threads']} thread(s), code commit `{d['code_commit'][:10]}`).",
            "",
            *table(
                [
                    "setting",
                    "change",
                    "train min",
                    "seeds",
                    "linear, validation",
                    "linear, test",
                    "MLP, validation",
                    "MLP, test",
                ],
                rows,
            ),
        ]

    return render
