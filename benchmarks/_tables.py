"""What every generated block of README.md and docs/*.md is made with: the JSON loader, the Markdown table
writer, number formats and the names of encoders and probes (the blocks themselves: ``_tables_results.py`` and
``_tables_performance.py``; the driver: ``readme_tables.py``)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path

from cpc_pipeline.methods import in_table_order

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RANDOM_PATCH_ENCODER = "random_patch_encoder"  # a baseline of the label-free study only (benchmarks/label_free.py)
ENCODERS = {m.key: m.label for m in in_table_order()} | {RANDOM_PATCH_ENCODER: "patch encoder, random init"}
PROBES = {"linear": "linear", "mlp": "MLP", "knn": "k-NN", "end_to_end": "end to end"}


def table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A Markdown table's lines."""
    head = list(head)
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def from_json(name: str) -> Callable[[Callable[[dict], list[str]]], Callable[[], str]]:
    """A block generator fed with ``benchmarks/results/<name>.json`` (its lines joined), or a line saying the
    JSON is missing."""

    def wrap(render: Callable[[dict], list[str]]) -> Callable[[], str]:
        def block() -> str:
            d = load(name)
            if d is None:
                return f"Not measured yet: `benchmarks/results/{name}.json` is missing.\n"
            return "\n".join(render(d)) + "\n"

        return block

    return wrap


def pct(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{100 * x:.{digits}f}"


def pm(s: dict | None, scale: float = 100, digits: int = 2, unit: str = "") -> str:
    """``mean ± std`` of a statistics block ("" when no seed has it)."""
    if not s or not s.get("n"):
        return ""
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}{unit}"


def spread(values: list[float], scale: float = 100, digits: int = 2) -> str:
    """``mean ± sample std`` of a list of per-seed values; the value alone for one seed."""
    if len(values) < 2:
        return f"{scale * values[0]:.{digits}f}" if values else ""
    return f"{scale * statistics.mean(values):.{digits}f} ± {scale * statistics.stdev(values):.{digits}f}"


def commit(d: dict) -> str:
    return f", code commit `{d['code_commit'][:10]}`" if d.get("code_commit") else ""


def cpu(d: dict) -> str:
    """Where the run recorded it, the CPU it ran on: figures compare within one CPU model only."""
    return f", on an {d['machine']['cpu_model']}" if d["machine"].get("cpu_model") else ""


def accuracy(rows: Iterable[dict]) -> dict[tuple[str, str, float], dict]:
    """``(encoder, probe, label fraction) -> test-accuracy statistics`` of a study's result rows."""
    return {(r["encoder"], r["probe"], r["label_fraction"]): r["test_accuracy"] for r in rows}


COLUMNS = [("linear", 0.01), ("linear", 1.0), ("mlp", 0.01), ("mlp", 1.0)]
COLUMN_HEADS = [f"{PROBES[p]}, {f:.0%} labels" for p, f in COLUMNS]
