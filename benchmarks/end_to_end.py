"""End to end: each stage of `kedro run` in its own process, with wall time and peak memory.

    .venv/bin/python benchmarks/end_to_end.py [--env smoke] [--params "source.roots=[../shared/data]"]

Runs `kedro run --pipelines <stage>` for each stage of `cpc_pipeline.hooks.STAGES` in turn
(each reads what the previous wrote), and records per stage: the process's wall time, the node time
the pipeline's hook measured (data/08_reporting/stage_wall_times.json) and the process's peak resident memory (RSS). Writes
benchmarks/results/end_to_end_<env>.json (end_to_end_default.json without --env).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from _common import machine_info, write_results
from cpc_pipeline.hooks import STAGES  # the pipeline's stages, in run order

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default=None, help="Kedro configuration environment (default: local over base)")
    parser.add_argument("--params", default=None, help="passed to kedro run --params")
    args = parser.parse_args()
    kedro = str(Path(sys.executable).with_name("kedro"))
    env = os.environ | {"KEDRO_DISABLE_TELEMETRY": "1"}
    rows = {}
    for stage in STAGES:
        cmd = [kedro, "run", "--pipelines", stage]
        if args.env:
            cmd += ["--env", args.env]
        if args.params:
            cmd += ["--params", args.params]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS (KiB on Linux)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed")
        peak = usage.ru_maxrss
        rows[stage] = {"process_wall_s": wall, "peak_rss_mib": peak / 1024}
        print(f"{stage:<16} {wall:8.1f} s   peak RSS {peak / 1024:8.0f} MiB", flush=True)
    times = json.loads((ROOT / "data" / "08_reporting" / "stage_wall_times.json").read_text())
    for stage in STAGES:
        rows[stage]["node_wall_s"] = times.get(stage)
    total = sum(r["process_wall_s"] for r in rows.values())
    print(f"{'total':<16} {total:8.1f} s")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    write_results(f"end_to_end_{args.env or 'default'}", {
        "machine": machine_info(device), "config": vars(args), "results": rows, "total_wall_s": total,
    })


if __name__ == "__main__":
    main()
