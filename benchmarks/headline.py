"""The headline results: the default protocol once per seed, aggregated from the MLflow store.

    make bench-headline ARGS="--seeds 0 1 2"
    .venv/bin/python benchmarks/headline.py --seeds 0 1 2 [--env binary --pipelines data_processing,pretraining]

For each seed, the MLflow store (``mlflow.db``) is searched for a FINISHED ``kedro run`` of this code
commit and configuration with that seed (the tags :mod:`cpc_pipeline.hooks` puts on every run). A seed
found is read back; a seed missing runs now, as ``kedro run [--env E] [--pipelines P] --params seed=S`` in
its own process (its log under ``data/08_reporting/headline_logs/``). So a study can span several
sittings, and rerunning the command after a finished study only re-aggregates.

Writes ``benchmarks/results/headline_<device>.json`` (``headline_<device>_<env>.json`` for another
environment) after every seed: for every (encoder, probe, label fraction) the mean, sample standard
deviation, min, max and each seed's value of the MNIST test accuracy (and of the validation accuracy
the selection saw, macro-F1 and the labels used); CPC pretraining's validation figures and its time to
99% validation sequence-discrimination; SimCLR's; each stage's time; the code commit, configuration hash
and machine. ``benchmarks/readme_tables.py`` turns it into the README's result tables.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import torch
from mlflow.entities import Run

from _common import machine_info, write_results
from cpc_pipeline.methods import METHODS, supervision_level
from cpc_pipeline.metric_names import parse_probe_metric
from cpc_pipeline.hooks import run_config_hash
from cpc_pipeline.provenance import UNKNOWN, code_commit, pipelines_tag

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "cpc_pipeline"
TARGET = 0.99  # validation sequence-discrimination
LAST_EPOCH = (
    "val_sequence_accuracy",
    "val_accuracy",
    "val_candidates",
    "val_chance_accuracy",
    "val_mi_bound",
    "val_loss",
    "train_loss",
)

LABEL_FREE = [
    m.stage for m in METHODS.values() if m.label_free
]  # stages whose k-NN monitor and training time the study keeps


def stats(per_seed: dict[int, float]) -> dict[str, object]:
    """Mean, sample standard deviation (n - 1), min, max and every seed's value."""
    values = [v for v in per_seed.values() if v is not None and not math.isnan(v)]
    if not values:
        return {"n": 0, "per_seed": {str(k): v for k, v in per_seed.items()}}
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "per_seed": {str(k): v for k, v in per_seed.items()},
    }


def find_run(client: mlflow.MlflowClient, experiment_id: str, tags: dict[str, str]) -> Run | None:
    """The newest FINISHED parent run carrying every tag in ``tags``."""
    query = " and ".join([f"tags.`{k}` = '{v}'" for k, v in tags.items()] + ["attributes.status = 'FINISHED'"])
    runs = client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"], max_results=50)
    runs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return runs[0] if runs else None


def history(client: mlflow.MlflowClient, run_id: str, key: str) -> list[float]:
    return [m.value for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def read_seed(client: mlflow.MlflowClient, experiment_id: str, parent: Run) -> dict[str, object]:
    """Everything the study keeps of one seed's run, from its MLflow stage runs."""
    children = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    stages = {c.data.tags.get("kedro.stage", c.info.run_name): c for c in children}
    out: dict[str, object] = {
        "run_id": parent.info.run_id,
        "run_name": parent.info.run_name,
        "run_wall_s": (parent.info.end_time - parent.info.start_time) / 1000,
        "stage_wall_seconds": {s: c.data.metrics.get("stage_wall_seconds") for s, c in stages.items()},
    }
    if "pretraining" in stages:
        run_id = stages["pretraining"].info.run_id
        seq = history(client, run_id, "pretraining.val_sequence_accuracy")
        seconds = history(client, run_id, "pretraining.epoch_seconds")
        reached = next((i for i, v in enumerate(seq) if v >= TARGET), None)
        out["pretraining"] = {
            "epochs": len(seq),
            **{key: stages["pretraining"].data.metrics.get(f"pretraining.{key}") for key in LAST_EPOCH},
            "epoch_to_99": None if reached is None else reached + 1,
            "seconds_to_99": None if reached is None else sum(seconds[: reached + 1]),
            "train_sequences_per_s": statistics.fmean(history(client, run_id, "pretraining.train_sequences_per_s")),
            "history": {"val_sequence_accuracy": seq, "epoch_seconds": seconds},
        }
    for method in LABEL_FREE:
        if method in stages:
            run_id = stages[method].info.run_id
            out[method] = {
                "val_knn_accuracy": stages[method].data.metrics.get(f"{method}.val_knn_accuracy"),
                "train_seconds": sum(history(client, run_id, f"{method}.epoch_seconds")),
                "epochs": len(history(client, run_id, f"{method}.epoch_seconds")),
            }
    if "probing" in stages:
        rows: dict[tuple[str, str, float], dict[str, float]] = {}
        for key, value in stages["probing"].data.metrics.items():
            parsed = parse_probe_metric(key.removeprefix("probing."))
            if parsed:
                encoder, probe, fraction, measure = parsed
                rows.setdefault((encoder, probe, fraction), {})[measure] = value
        out["probes"] = [{"encoder": e, "probe": p, "label_fraction": f, **v} for (e, p, f), v in sorted(rows.items())]
    return out


def aggregate(seeds: dict[int, dict]) -> dict[str, object]:
    """Per-seed records -> statistics across seeds."""
    out: dict[str, object] = {}
    probes: dict[tuple, dict[int, dict]] = {}
    for seed, record in seeds.items():
        for row in record.get("probes", []):
            probes.setdefault((row["encoder"], row["probe"], row["label_fraction"]), {})[seed] = row
    if probes:
        out["probes"] = [
            {
                "encoder": encoder,
                "probe": probe,
                "label_fraction": fraction,
                "encoder_supervision": supervision_level(encoder),
                "labels_used": max(r.get("labels_used", 0) for r in by_seed.values()),
                **{
                    m: stats({s: r.get(m) for s, r in by_seed.items()})
                    for m in ("test_accuracy", "val_accuracy", "test_macro_f1")
                },
            }
            for (encoder, probe, fraction), by_seed in sorted(probes.items())
        ]
    for block in ("pretraining", *LABEL_FREE):
        records = {s: r[block] for s, r in seeds.items() if block in r}
        if records:
            keys = [k for k, v in next(iter(records.values())).items() if not isinstance(v, dict)]
            out[block] = {k: stats({s: r[k] for s, r in records.items()}) for k in keys}
            if block == "pretraining":
                out[block]["not_reached_99"] = [s for s, r in records.items() if r["epoch_to_99"] is None]
    stages = sorted({st for r in seeds.values() for st in r["stage_wall_seconds"]})
    out["stage_wall_seconds"] = {
        st: stats({s: r["stage_wall_seconds"].get(st) for s, r in seeds.items()}) for st in stages
    }
    out["run_wall_s"] = stats({s: r["run_wall_s"] for s, r in seeds.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--env", default=None, help="Kedro configuration environment (default: base, with conf/local)")
    parser.add_argument("--pipelines", default=None, help="kedro run --pipelines (default: the whole chain)")
    parser.add_argument("--allow-dirty", action="store_true", help="run with uncommitted changes to src/ or conf/")
    parser.add_argument("--no-run", action="store_true", help="only aggregate the seeds already in the store")
    args = parser.parse_args()

    os.chdir(ROOT)
    commit = code_commit(ROOT)
    if (commit == UNKNOWN or commit.endswith("-dirty")) and not args.allow_dirty and not args.no_run:
        raise SystemExit(
            f"code commit is {commit!r}: commit src/ and conf/ first (or --allow-dirty), so that "
            "each figure can be traced to the code that produced it"
        )
    env_name = args.env or "base"
    pipelines = pipelines_tag(args.pipelines.split(",") if args.pipelines else None)
    tags = {
        "cpc.code_commit": commit,
        "cpc.config_hash": run_config_hash(ROOT, args.env),
        "cpc.env": env_name,
        "cpc.pipelines": pipelines,
    }
    mlflow.set_tracking_uri(f"sqlite:///{ROOT / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = f"headline_{device.type}" + ("" if env_name == "base" else f"_{env_name}")
    logs = ROOT / "data" / "08_reporting" / "headline_logs"
    kedro = str(Path(sys.executable).with_name("kedro"))

    seeds: dict[int, dict] = {}
    reused: list[int] = []
    for seed in args.seeds:
        experiment = client.get_experiment_by_name(EXPERIMENT)
        run = find_run(client, experiment.experiment_id, tags | {"cpc.seed": str(seed)}) if experiment else None
        if run is not None:
            reused.append(seed)
            print(f"seed {seed}: read back run {run.info.run_id} ({run.info.run_name})", flush=True)
        elif args.no_run:
            print(f"seed {seed}: not in the store, skipped (--no-run)", flush=True)
            continue
        else:
            cmd = [kedro, "run", "--params", f"seed={seed}"]
            cmd += ["--env", args.env] if args.env else []
            cmd += ["--pipelines", args.pipelines] if args.pipelines else []
            logs.mkdir(parents=True, exist_ok=True)
            log = logs / f"{name}_seed{seed}.log"
            print(f"seed {seed}: {' '.join(cmd[1:])} (log: {log.relative_to(ROOT)})", flush=True)
            start = time.perf_counter()
            with log.open("w") as fh:
                status = subprocess.run(
                    cmd,
                    cwd=ROOT,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env=os.environ | {"KEDRO_DISABLE_TELEMETRY": "1"},
                ).returncode
            if status != 0:
                raise SystemExit(f"seed {seed}: kedro run failed (exit {status}); see {log}")
            experiment = client.get_experiment_by_name(EXPERIMENT)
            run = find_run(client, experiment.experiment_id, tags | {"cpc.seed": str(seed)})
            if run is None:
                raise SystemExit(f"seed {seed}: the run finished but carries no matching tags {tags}")
            print(f"seed {seed}: done in {time.perf_counter() - start:.0f} s", flush=True)
        seeds[seed] = read_seed(client, run.info.experiment_id, run)
        write_results(
            name,
            {
                "study": "headline",
                "env": env_name,
                "pipelines": pipelines,
                "seeds": sorted(seeds),
                "code_commit": commit,
                "config_hash": tags["cpc.config_hash"],
                "how": "kedro run --params seed=S"
                + (f" --env {args.env}" if args.env else "")
                + (f" --pipelines {args.pipelines}" if args.pipelines else "")
                + "; statistics over seeds: mean, sample std (n - 1), min, max",
                "machine": machine_info(device),
                "chance": {"probe_accuracy": 0.1, "sequence_accuracy": 0.5},
                **aggregate(seeds),
                "per_seed": {str(s): r for s, r in sorted(seeds.items())},
            },
        )
    print(f"seeds read back: {reused or 'none'}; run now: {[s for s in seeds if s not in reused] or 'none'}")


if __name__ == "__main__":
    main()
