"""The benchmarks' shared helpers (benchmarks/_common.py)."""

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
