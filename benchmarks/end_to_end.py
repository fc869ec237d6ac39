"""End to end: each stage of `kedro run` in its own process, with wall time and peak memory.

    .venv/bin/python benchmarks/end_to_end.py [--env smoke] [--params "source.roots=[../shared/data]"]
        [--name NAME] [--variant "what it is"] [--compare-with benchmarks/results/end_to_end_<earlier>.json]

Runs `kedro run --pipelines <stage>` for each stage of `cpc_pipeline.hooks.STAGES` in turn (each reads what the
previous wrote), and records per stage: the process's wall time, the node time its MLflow stage run recorded
(``stage_wall_seconds``) and the process's peak resident memory (RSS). Writes
benchmarks/results/end_to_end_<env>.json (end_to_end_default.json without --env; --name chooses another), with the
CPU's model (runs are comparable on one model only) and, on the default configuration, the run's probe results.
``--compare-with`` an earlier run's JSON compares the two runs' probe results one by one (how many are equal
exactly, and the largest difference per encoder): on one machine, a change that keeps what is computed gives equal
results.

On the default configuration it also compares the run's probe_metrics.csv with the multi-seed default runs of
benchmarks/results/headline_cpu.json (an earlier, slower code): for every result both have, the test accuracy
beside that study's seed-0 figure and its range over seeds, so that a faster run is seen to give the same results
(within seed-to-seed noise; exactly, where nothing it computes changed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import torch

from _common import machine_info, write_results
from cpc_pipeline.hooks import STAGES  # the pipeline's stages, in run order
from cpc_pipeline.tracking import latest_stage_wall_times

ROOT = Path(__file__).resolve().parents[1]
PROBE_METRICS = ROOT / "data" / "08_reporting" / "probe_metrics.csv"
HEADLINE = ROOT / "benchmarks" / "results" / "headline_cpu.json"


def compare_with_headline(probe_metrics: Path, headline: Path, seed: int = 0) -> dict:
    """This run's test accuracies against the headline study's: per (encoder, probe, label fraction) both
    have, this run's figure, the study's figure at ``seed`` (this run's seed) and its seeds' mean, std, min
    and max; and how many lie within the seeds' range widened by one std on each side."""
    import pandas as pd

    study = json.loads(headline.read_text())
    ours = pd.read_csv(probe_metrics)
    rows = []
    for r in study["probes"]:
        mine = ours[
            (ours.encoder == r["encoder"])
            & (ours.probe == r["probe"])
            & ((ours.label_fraction - r["label_fraction"]).abs() < 1e-9)
        ]
        if mine.empty:
            continue
        acc = r["test_accuracy"]
        rows.append(
            {
                "encoder": r["encoder"],
                "probe": r["probe"],
                "label_fraction": r["label_fraction"],
                "this_run": float(mine.test_accuracy.iloc[0]),
                "study_seed": acc["per_seed"].get(str(seed)),
                **{k: acc[k] for k in ("mean", "std", "min", "max", "n")},
            }
        )
    within = [r for r in rows if r["min"] - r["std"] <= r["this_run"] <= r["max"] + r["std"]]
    same_seed = [abs(r["this_run"] - r["study_seed"]) for r in rows if r["study_seed"] is not None]
    return {
        "headline": str(headline.relative_to(ROOT)),
        "headline_code_commit": study.get("code_commit"),
        "seed": seed,
        "rows": rows,
        "compared": len(rows),
        "within_range_pm_std": len(within),
        "equal_to_seed": sum(d == 0 for d in same_seed),
        "max_abs_diff_to_seed": max(same_seed, default=None),
    }


KEYS = ["encoder", "probe", "label_fraction"]


def probe_rows(probe_metrics: Path) -> list[dict]:
    """The run's probe_metrics.csv as rows (encoder, probe, label fraction, test and validation accuracy), kept in
    the JSON so that two runs (another commit, another machine) can be compared result by result later."""
    import pandas as pd

    table = pd.read_csv(probe_metrics)
    return table[KEYS + ["val_accuracy", "test_accuracy"]].to_dict("records")


def compare_runs(this: list[dict], other: list[dict]) -> dict:
    """Result-by-result test accuracies of two runs' :func:`probe_rows`: how many both have, how many are equal
    exactly, and per encoder the largest difference (points of accuracy, 0 to 1)."""
    key = lambda r: (r["encoder"], r["probe"], round(float(r["label_fraction"]), 9))  # noqa: E731
    theirs = {key(r): float(r["test_accuracy"]) for r in other}
    pairs = [(r["encoder"], float(r["test_accuracy"]), theirs[key(r)]) for r in this if key(r) in theirs]
    largest: dict[str, float] = {}
    for encoder, a, b in pairs:
        largest[encoder] = max(largest.get(encoder, 0.0), abs(a - b))
    return {"compared": len(pairs), "equal": sum(a == b for _, a, b in pairs), "max_abs_diff_per_encoder": largest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default=None, help="Kedro configuration environment (default: local over base)")
    parser.add_argument("--params", default=None, help="passed to kedro run --params")
    parser.add_argument(
        "--name", default=None, help="the JSON's name: end_to_end_<name>.json (default: the env, or 'default')"
    )
    parser.add_argument("--variant", default=None, help="what this run is, in words, for docs/performance.md")
    parser.add_argument(
        "--compare-with",
        default=None,
        type=Path,
        help="an earlier end_to_end_*.json: compare this run's probe results with its, one by one",
    )
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
    mlflow.set_tracking_uri(f"sqlite:///{ROOT / 'mlflow.db'}")
    experiment = mlflow.get_experiment_by_name("cpc_pipeline")
    times = latest_stage_wall_times(list(STAGES), experiment.experiment_id) if experiment else {}
    for stage in STAGES:
        rows[stage]["node_wall_s"] = times.get(stage)
    total = sum(r["process_wall_s"] for r in rows.values())
    print(f"{'total':<16} {total:8.1f} s")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = {"env": args.env, "params": args.params}
    payload = {"machine": machine_info(device), "config": config, "results": rows, "total_wall_s": total}
    if args.variant:
        payload["variant"] = args.variant
    if PROBE_METRICS.exists() and args.env is None:
        payload["probe_metrics"] = probe_rows(PROBE_METRICS)
    if args.compare_with is not None:
        other = json.loads(args.compare_with.read_text())
        payload["run_check"] = check = {
            "other": args.compare_with.name,
            "other_code_commit": other.get("code_commit"),
            **compare_runs(payload["probe_metrics"], other["probe_metrics"]),
        }
        print(
            f"probe results equal to {args.compare_with.name}'s: {check['equal']} of {check['compared']}; largest "
            f"difference per encoder {check['max_abs_diff_per_encoder']}"
        )
    if args.env is None and args.params is None and HEADLINE.exists():
        payload["probe_check"] = check = compare_with_headline(PROBE_METRICS, HEADLINE)
        print(
            f"probe results within the headline study's seeds (range +- std): {check['within_range_pm_std']} of "
            f"{check['compared']}; equal to its seed {check['seed']}: {check['equal_to_seed']}; largest difference "
            f"{check['max_abs_diff_to_seed']}"
        )
    write_results(f"end_to_end_{args.name or args.env or 'default'}", payload)


if __name__ == "__main__":
    main()
