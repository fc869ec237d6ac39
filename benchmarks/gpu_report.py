"""The GPU check's figures in one JSON: ``benchmarks/results/gpu_<device>.json`` (and a copy in OUT_DIR).

    .venv/bin/python benchmarks/gpu_report.py OUT_DIR      # run last by benchmarks/gpu_check.sh

Reads what ``gpu_check.sh`` left in OUT_DIR: each part's exit status (summary.txt), each CUDA test's outcome
(cuda_tests.xml, JUnit), sequence CPC's time to 99 % validation sequence discrimination and training
sequences/s eager and compiled (time_to_quality_{eager,compile}.json), and SimCLR's step rates
(simclr_rate.json). A part that did not run is recorded as missing, never as a figure.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

from _common import machine_info, write_results


def test_outcomes(xml: Path) -> dict[str, str]:
    """``{test id: passed | failed | error | skipped: reason}`` from a JUnit file."""
    if not xml.exists():
        return {}
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        child = next(iter(case), None)
        tag = child.tag if child is not None and child.tag in ("failure", "error", "skipped") else "passed"
        tag = {"failure": "failed"}.get(tag, tag)
        outcomes[name] = f"skipped: {child.get('message')}" if tag == "skipped" else tag
    return outcomes


def time_to_99(path: Path) -> dict | None:
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    return {
        "reached": d["reached"].get("val_sequence_accuracy>=0.99"),
        "train_sequences_per_s_median": statistics.median(e["train_sequences_per_s"] for e in d["epochs"]),
        "epochs": [
            {k: e[k] for k in ("epoch", "pretraining_s", "val_sequence_accuracy", "train_sequences_per_s")}
            for e in d["epochs"]
        ],
    }


def main() -> None:
    out = Path(sys.argv[1])
    parts = dict(re.findall(r"^(\w+): exit (\d+)", (out / "summary.txt").read_text(), re.M))
    simclr = out / "simclr_rate.json"
    name = torch.cuda.get_device_name(0)
    payload = {
        "machine": machine_info(torch.device("cuda")),
        "device_name": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "parts_exit_status": {k: int(v) for k, v in parts.items()},
        "cuda_tests": test_outcomes(out / "cuda_tests.xml"),
        "cpc_time_to_99": {v: time_to_99(out / f"time_to_quality_{v}.json") for v in ("eager", "compile")},
        "simclr_rate": json.loads(simclr.read_text())["workloads"] if simclr.exists() else None,
    }
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    path = write_results(f"gpu_{slug}", payload)
    (out / path.name).write_text(path.read_text())


if __name__ == "__main__":
    main()
