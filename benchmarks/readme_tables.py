"""The measured figures in README.md and docs/*.md, generated from the committed JSON under benchmarks/results/.

    .venv/bin/python benchmarks/readme_tables.py          # rewrite every generated block (make readme)
    .venv/bin/python benchmarks/readme_tables.py --check  # exit 1 when a page differs from the JSON

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``: edit its generator
(``_tables_results.py``, ``_tables_performance.py``), never the block. Each generator makes one block from one or
two JSON files, and each block appears in exactly one page;
the test suite runs ``--check``, so a figure that disagrees with its JSON fails CI. The plots in ``FIGURES``
(``docs/*.svg``) are written and checked the same way, byte for byte. Figures the project did not
measure come from ``cpc_pipeline.reporting.cited`` and say "cited".
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from cpc_pipeline.reporting.cited import FASHION_MNIST_CITED
from _tables import ROOT
from _tables_performance import (
    components,
    distributed,
    end_to_end,
    quick_start,
    speed_steps,
    stage_efficiency,
    time_to_quality,
)
from _tables_curves import curves_figure, curves_headline, curves_table, tuning_table
from _tables_probes import linear_probe
from _tables_results import (
    binary,
    headline,
    label_free_study,
    patch_cpc_ablation,
    patch_cpc_diagnosis,
    pretraining,
    results,
)

README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)


def pages() -> list[Path]:
    """Every page that may hold generated blocks: the README and the documentation."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


GENERATORS: dict[str, Callable[[], str]] = {
    "quick-start": quick_start,
    "headline": headline,
    "results": results,
    "pretraining": pretraining,
    "binary": binary,
    "label-free": label_free_study("label_free_cpu", "MNIST"),
    "label-free-fashion": label_free_study(
        "label_free_fashion_cpu", "Fashion-MNIST", tuple(f.key for f in FASHION_MNIST_CITED)
    ),
    "patch-cpc-ablation": patch_cpc_ablation,
    "patch-cpc-diagnosis": patch_cpc_diagnosis,
    "time-to-quality": time_to_quality,
    "speed-steps": speed_steps,
    "components": components,
    "stage-efficiency": stage_efficiency,
    "end-to-end": end_to_end,
    "distributed": distributed,
    "linear-probe": linear_probe,
    "curves-mnist": curves_table("curves_mnist", "MNIST (64x64 rendered)"),
    "curves-fashion": curves_table("curves_fashion", "Fashion-MNIST (28x28)"),
    "tuning-simclr-fashion": tuning_table("tuning_simclr_fashion28", "Fashion-MNIST (28x28)"),
    "folder-source": tuning_table(
        "folder_source_fashion28",
        "Fashion-MNIST (28x28)",
        "SimCLR read from the IDX files (`default`) and from the same pictures as PNG class folders (`png_folders`), "
        "the same seeds, through `kedro run` both ways.",
    ),
    "headline-fashion": curves_headline(
        "curves_fashion", "Fashion-MNIST (28x28)", tuple(f.key for f in FASHION_MNIST_CITED if f.labels == "full")
    ),
}

# generated pictures, written like the blocks and checked byte for byte (a JSON not yet measured: no file)
FIGURES: dict[Path, Callable[[], bytes | None]] = {
    ROOT / "docs" / "curves_mnist.svg": curves_figure("curves_mnist", "MNIST (64x64 rendered)"),
    ROOT / "docs" / "curves_fashion.svg": curves_figure("curves_fashion", "Fashion-MNIST (28x28)"),
}


def render(text: str) -> str:
    """``text`` with every generated block replaced by what the JSON says now."""

    def block(m: re.Match) -> str:
        if m["name"] not in GENERATORS:
            raise SystemExit(f"generated block {m['name']!r} has no generator; known: {sorted(GENERATORS)}")
        return m.group(1) + GENERATORS[m["name"]]() + m.group(4)

    return BLOCK.sub(block, text)


def check_placement(texts: dict[Path, str]) -> None:
    """Every generator's block appears in exactly one page."""
    where: dict[str, list[str]] = {}
    for path, text in texts.items():
        for m in BLOCK.finditer(text):
            where.setdefault(m["name"], []).append(path.relative_to(ROOT).as_posix())
    wrong = {name: where.get(name, []) for name in GENERATORS if len(where.get(name, [])) != 1}
    if wrong:
        raise SystemExit(f"each generated block must appear in exactly one page; found: {wrong}")


def _drawn_by(svg: bytes) -> str:
    """The matplotlib version an SVG names (its bytes depend on it: another version is not a stale figure)."""
    found = re.search(rb"Matplotlib v([\w.]+)", svg)
    return found.group(1).decode() if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from the JSON")
    args = parser.parse_args()
    texts = {path: path.read_text() for path in pages()}
    check_placement(texts)
    stale = []
    for path, text in texts.items():
        new = render(text)
        if new != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(new)
    for path, figure in FIGURES.items():
        picture = figure()
        if picture is not None and path.exists() and args.check and _drawn_by(path.read_bytes()) != _drawn_by(picture):
            print(f"{path.relative_to(ROOT)} was drawn by matplotlib {_drawn_by(path.read_bytes())}: not compared")
            continue
        if picture is not None and (not path.exists() or path.read_bytes() != picture):
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_bytes(picture)
    if args.check:
        if stale:
            sys.exit(
                f"{', '.join(stale)} differ from benchmarks/results/*.json: run `make readme` "
                "(benchmarks/readme_tables.py)"
            )
        print("README.md and docs/*.md agree with benchmarks/results/*.json")
        return
    print(f"regenerated: {', '.join(stale)}" if stale else "every page already agreed with the JSON")


if __name__ == "__main__":
    main()
