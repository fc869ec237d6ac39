"""The generated block on the linear probe's solvers (docs/performance.md), from ``linear_probe_cpu.json``."""

from __future__ import annotations

from _tables import commit, cpu, from_json, table
from cpc_pipeline.methods import METHODS


@from_json("linear_probe_cpu")
def linear_probe(d: dict) -> list[str]:
    sklearn_grid = d["rows"][0]["sklearn"]["c_grid"]
    default_grid = d["rows"][0]["torch_default_grid"]["c_grid"]
    rows = [
        [
            METHODS[r["encoder"]].name,
            f"{r['dims']:,}",
            f"{100 * r['label_fraction']:g}%",
            f"{r['sklearn']['seconds']:.1f} s, {100 * r['sklearn']['test_accuracy']:.2f} ({r['sklearn']['chosen']})",
            f"{r['torch']['seconds']:.1f} s, {100 * r['torch']['test_accuracy']:.2f} ({r['torch']['chosen']})",
            f"**{r['speedup']:.1f}x**",
            f"{100 * r['test_accuracy_difference']:+.2f}",
            f"{r['torch_default_grid']['seconds']:.1f} s, {100 * r['torch_default_grid']['test_accuracy']:.2f} "
            f"({r['torch_default_grid']['chosen']})",
        ]
        for r in d["rows"]
    ]
    return [
        f"`make bench-linear_probe` → `benchmarks/results/linear_probe_cpu.json`{commit(d)}, "
        f"{d['machine']['date'][:10]}{cpu(d)} ({d['machine']['cpu_count']} cores). The features each probe was fitted "
        "on in one default `kedro run`; time of the whole C grid, C chosen on validation, MNIST **test** accuracy (%) "
        f"of the chosen C. scikit-learn and torch on the same grid (C in {sklearn_grid}), then torch on the default "
        f"grid (C in {default_grid}):",
        "",
        *table(
            [
                "features",
                "dims",
                "labels",
                "scikit-learn",
                "torch L-BFGS",
                "speed-up",
                "test difference (points)",
                "torch L-BFGS, default grid",
            ],
            rows,
        ),
    ]
