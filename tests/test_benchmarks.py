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
