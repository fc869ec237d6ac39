"""The benchmarks' helpers (benchmarks/_common.py, the end-to-end probe check)."""

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from _common import override  # noqa: E402


def test_override_applies_yaml_values_to_a_copy():
    base = {"trainer": {"epochs": 10, "distributed": {"nproc_per_node": 1}}}
    changed = override(base, ["trainer.distributed.nproc_per_node=2", "objective.images_per_batch=32"])
    assert changed["trainer"]["distributed"]["nproc_per_node"] == 2 and changed["objective"]["images_per_batch"] == 32
    # a measured bug: overrides written into the caller's dict made the next "one process" run use two
    assert base == {"trainer": {"epochs": 10, "distributed": {"nproc_per_node": 1}}}


def test_the_end_to_end_probe_check_finds_equal_and_moved_results(tmp_path):
    import json

    import pandas as pd
    from end_to_end import HEADLINE, compare_with_headline

    seed0 = json.loads(HEADLINE.read_text())["per_seed"]["0"]["probes"]
    table = pd.DataFrame(seed0)
    table.to_csv(tmp_path / "same.csv", index=False)
    same = compare_with_headline(tmp_path / "same.csv", HEADLINE)
    assert same["compared"] == len(seed0) and same["equal_to_seed"] == same["compared"] == same["within_range_pm_std"]
    table.loc[0, "test_accuracy"] -= 0.2  # far outside any seed's range
    table.to_csv(tmp_path / "moved.csv", index=False)
    moved = compare_with_headline(tmp_path / "moved.csv", HEADLINE)
    assert moved["within_range_pm_std"] == moved["compared"] - 1
    assert moved["max_abs_diff_to_seed"] > 0.19


def test_the_end_to_end_run_check_counts_equal_results_and_the_largest_move_per_encoder():
    from end_to_end import compare_runs

    before = [
        {"encoder": "cpc", "probe": "mlp", "label_fraction": 0.01, "test_accuracy": 0.97},
        {"encoder": "cpc", "probe": "knn", "label_fraction": 1.0, "test_accuracy": 0.98},
        {"encoder": "supervised", "probe": "end_to_end", "label_fraction": 0.1, "test_accuracy": 0.95},
    ]
    after = [dict(r) for r in before] + [
        {"encoder": "simclr", "probe": "mlp", "label_fraction": 0.01, "test_accuracy": 0.9}
    ]  # only in one run: not compared
    after[2]["test_accuracy"] = 0.953
    check = compare_runs(after, before)
    assert (check["compared"], check["equal"]) == (3, 2)
    assert check["max_abs_diff_per_encoder"]["cpc"] == 0
    assert abs(check["max_abs_diff_per_encoder"]["supervised"] - 0.003) < 1e-12


def test_the_gpu_check_parses_and_starts_and_skips_its_cuda_parts_here(tmp_path):
    import subprocess

    import torch

    script = REPO / "benchmarks" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    if torch.cuda.is_available():
        return  # on a GPU the script is the check itself (minutes): run it by hand
    done = subprocess.run(
        ["bash", str(script), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert "available False" in summary and "skipped: no CUDA device here" in summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.txt"]  # no figures without a GPU


def test_the_gpu_report_reads_each_tests_outcome_and_the_time_to_99(tmp_path):
    import json

    from gpu_report import test_outcomes, time_to_99

    (tmp_path / "t.xml").write_text(
        '<testsuites><testsuite><testcase classname="tests.test_cuda" name="test_a"/>'
        '<testcase classname="tests.test_cuda" name="test_b"><failure message="boom"/></testcase>'
        '<testcase classname="tests.x" name="test_c"><skipped message="needs two GPUs"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert test_outcomes(tmp_path / "t.xml") == {
        "tests.test_cuda::test_a": "passed",
        "tests.test_cuda::test_b": "failed",
        "tests.x::test_c": "skipped: needs two GPUs",
    }
    epochs = [
        {"epoch": e, "pretraining_s": 10.0 * e, "val_sequence_accuracy": a, "train_sequences_per_s": r}
        for e, a, r in [(1, 0.95, 900.0), (2, 0.991, 1000.0), (3, 0.995, 1100.0)]
    ]
    reached = {"val_sequence_accuracy>=0.99": {"epoch": 2, "pretraining_s": 20.0}}
    (tmp_path / "q.json").write_text(json.dumps({"epochs": epochs, "reached": reached}))
    got = time_to_99(tmp_path / "q.json")
    assert got["reached"]["pretraining_s"] == 20.0 and got["train_sequences_per_s_median"] == 1000.0
    assert time_to_99(tmp_path / "missing.json") is None


def test_the_curve_study_aggregates_seeds_per_budget_and_stops_at_the_plateau():
    from curves import aggregate, plateaued

    def point(epochs, seed, val, test):
        probe = {"probe": "linear", "label_fraction": 1.0, "chosen": "C=1"}
        probes = [probe | {"val_accuracy": val, "test_accuracy": test}]
        return {
            "encoder": "patch_cpc",
            "seed": seed,
            "epochs": epochs,
            "images_seen": 1000.0 * epochs,
            "train_flops": 1e12 * epochs,
            "train_seconds": 60.0 * epochs,
            "probes": probes,
        }

    points = {
        "a": point(1, 0, 0.90, 0.89),
        "b": point(1, 1, 0.92, 0.91),
        "c": point(2, 0, 0.95, 0.94),
        "d": point(2, 1, 0.95, 0.96),
        "e": point(4, 0, 0.952, 0.95),
        "f": point(4, 1, 0.952, 0.95),
    }
    rows = aggregate(points)
    assert [(r["epochs"], r["train_flops"]) for r in rows] == [(1, 1e12), (2, 2e12), (4, 4e12)]
    assert rows[0]["test_accuracy"]["per_seed"] == {"0": 0.89, "1": 0.91}
    assert abs(rows[1]["test_accuracy"]["mean"] - 0.95) < 1e-12 and rows[1]["test_accuracy"]["std"] > 0
    epochs = [1, 2, 4, 8]
    assert not plateaued(points, "patch_cpc", epochs, 1, 0.003)  # nothing before the first budget
    assert not plateaued(points, "patch_cpc", epochs, 2, 0.003)  # validation rose 4 points
    assert plateaued(points, "patch_cpc", epochs, 4, 0.003)  # then 0.2 points: the plateau (validation only)


def test_the_curve_tables_and_plot_come_from_the_study_json(tmp_path, monkeypatch):
    import json

    import _tables
    from _tables_curves import curves_figure, curves_table
    from curves import aggregate

    def probes(base, encoder=None):
        rows = [
            {"probe": p, "label_fraction": f, "chosen": "", "val_accuracy": base, "test_accuracy": base - 0.01}
            for p in ("linear", "mlp")
            for f in (0.01, 1.0)
        ]
        return [r | ({"encoder": encoder} if encoder else {}) for r in rows]

    def point(encoder, epochs, seed, base, baseline=False):
        budget = {"epochs": epochs, "images_seen": 5e4 * epochs, "train_flops": 1e12 * epochs, "train_seconds": 60.0}
        listed = probes(base, "pixels") + probes(base + 0.02, "supervised") if baseline else probes(base)
        return {"encoder": encoder, "seed": seed, **budget, "probes": listed}

    points = {f"{e}/{s}": point("simclr", e, s, 0.80 + 0.02 * e + 0.001 * s) for e in (1, 2) for s in (0, 1, 2)} | {
        f"baselines/{s}": point("baselines", 40, s, 0.85, baseline=True) for s in (0, 1, 2)
    }
    rows = aggregate(points)
    assert {r["encoder"] for r in rows} == {"simclr", "pixels", "supervised"}  # a baseline point's rows keep theirs
    study = {"env": "fashion28", "commands": ["make bench-curves"], "machine": {"cpu_model": "CPU"}, "threads": 1}
    (tmp_path / "curves_x.json").write_text(json.dumps(study | {"code_commit": "0" * 40, "rows": rows}))
    monkeypatch.setattr(_tables, "RESULTS", tmp_path)
    text = curves_table("curves_x", "Fashion-MNIST")()
    lines = [line for line in text.splitlines() if line.startswith("| SimCLR")]
    assert len(lines) == 2 and "| 2 | 0.10 M | 2 | 1.0 | 3 | 83.10 ± 0.10 |" in lines[1]
    assert "raw pixels" in text and "curves_x.svg" in text
    picture = curves_figure("curves_x", "Fashion-MNIST")()
    assert picture.startswith(b"<?xml") and b"SimCLR" in picture  # text kept as text (svg.fonttype none)
    assert picture == curves_figure("curves_x", "Fashion-MNIST")()  # byte for byte: --check can compare it
    assert curves_figure("missing", "MNIST")() is None


def test_the_headline_rests_each_curve_where_a_doubling_gained_under_the_plateau_on_validation():
    from _tables_curves import plateau_epochs

    def row(epochs, val, test):
        stats = lambda x: {"mean": x, "std": 0.0, "n": 3, "per_seed": {}}  # noqa: E731
        return {
            "encoder": "simclr",
            "probe": "linear",
            "label_fraction": 1.0,
            "epochs": epochs,
            "val_accuracy": stats(val),
            "test_accuracy": stats(test),
        }

    rising = {"rows": [row(2, 0.85, 0.99), row(4, 0.88, 0.10)]}
    assert plateau_epochs(rising, "simclr") == (4, False)  # still rising: the largest budget, not a plateau
    resting = {"rows": [*rising["rows"], row(8, 0.882, 0.5), row(16, 0.95, 0.5)]}
    assert plateau_epochs(resting, "simclr") == (16, False)  # 4 -> 8 rested, but 16 climbed on: no plateau yet
    resting["rows"][-1] = row(16, 0.884, 0.5)
    assert plateau_epochs(resting, "simclr") == (8, True)  # the first doubling under 0.3 points, test unread
    assert plateau_epochs(resting, "patch_cpc") is None


def test_a_plot_drawn_by_another_matplotlib_is_told_apart_from_a_stale_one():
    from readme_tables import _drawn_by

    assert _drawn_by(b"<dc:creator>Matplotlib v3.11.2, https://matplotlib.org/</dc:creator>") == "3.11.2"
    assert _drawn_by(b"<svg></svg>") == ""
