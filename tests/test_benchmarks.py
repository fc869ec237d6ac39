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

    before = [{"encoder": "cpc", "probe": "mlp", "label_fraction": 0.01, "test_accuracy": 0.97},
              {"encoder": "cpc", "probe": "knn", "label_fraction": 1.0, "test_accuracy": 0.98},
              {"encoder": "supervised", "probe": "end_to_end", "label_fraction": 0.1, "test_accuracy": 0.95}]
    after = [dict(r) for r in before] + [{"encoder": "simclr", "probe": "mlp", "label_fraction": 0.01,
                                         "test_accuracy": 0.9}]  # only in one run: not compared
    after[2]["test_accuracy"] = 0.953
    check = compare_runs(after, before)
    assert (check["compared"], check["equal"]) == (3, 2)
    assert check["max_abs_diff_per_encoder"]["cpc"] == 0
    assert abs(check["max_abs_diff_per_encoder"]["supervised"] - 0.003) < 1e-12
