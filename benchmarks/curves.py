"""Accuracy against pretraining compute: each method pretrained at doubling budgets and probed with the pipeline's
own protocol, every point a ``kedro run`` of its own, with the probing stage's baselines once per seed.

    make bench-curves                                              # MNIST, conf/base -> results/curves_mnist.json
    make bench-curves ARGS="--env fashion28 --output curves_fashion"
    make bench-curves ARGS="--methods patch_cpc --epochs 1 2 4 8 16 32 --seeds 0 1 2"

A point is (method, epochs, seed). It runs in a scratch copy of the project (``data/studies/<scratch>/``, with its
own ``data/`` and ``mlflow.db``: the repository's runs are left alone), as the user would run it:

    kedro run --env <env> --pipelines <stage> --params seed=S,<stage>.trainer.epochs=E
    kedro run --env <env> --pipelines probing --namespaces probing.<method> --params seed=S

after one ``kedro run --pipelines data_processing`` for the study. The baselines' point of a seed runs the probing
stage's raw-pixel, random-init and supervised nodes (the supervised baseline as ``--supervised`` sets it). The
scratch copy's ``conf/<env>/parameters.yml`` (``conf/curve/`` for conf/base) adds what a curve needs to the
environment's parameters: the frozen linear and MLP probes at 1 % and 100 % of the labels (every choice on
validation, test scored once), and the data folders as absolute paths; its source and configuration are copied
afresh at every start, and each point records the code commit it ran. The point's figures are the catalog files
those runs wrote (``data/07_model_output/<method>_probe_results.csv`` and the method's history: epochs, images
seen, ``train_flops``, ``train_seconds``).

Resumable: the JSON is written after every point, and a point it holds is not run again. Several processes may
fill one study, each with its own ``--scratch`` (one per method, say, one per core): the JSON is merged under a
lock. A method's budgets stop doubling at its plateau: when the mean validation accuracy of the linear probe at
100 % of the labels gains less than ``--plateau`` (0.3 points) over a doubling, or at the last of ``--epochs``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from _common import RESULTS, machine_info, write_results
from cpc_pipeline.methods import METHODS
from cpc_pipeline.pipelines.probing.pipeline import probe_template
from cpc_pipeline.provenance import code_commit

ROOT = Path(__file__).resolve().parents[1]
KEDRO = str(Path(sys.executable).with_name("kedro"))
PROBE_COLUMNS = ["probe", "label_fraction", "chosen", "val_accuracy", "test_accuracy"]
CURVE_PARAMETERS = {"probing": {"probes": {"probes": ["linear", "mlp"], "label_fractions": [0.01, 1.0]}}}


def deep_update(into: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_update(into[key], value)
        else:
            into[key] = value


def scratch_project(folder: Path, env: str, supervised: dict) -> Path:
    """A copy of the project's configuration (and, for MLflow's model code paths, its source) at ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", folder)
    # kedro puts the project's src/ first on sys.path: source and configuration are copied afresh, so that each
    # sitting runs the code and parameters the points it adds record (code_commit per point)
    shutil.rmtree(folder / "src", ignore_errors=True)
    shutil.copytree(ROOT / "src" / "cpc_pipeline", folder / "src" / "cpc_pipeline")
    shutil.copytree(ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"), dirs_exist_ok=True)
    for layer in (ROOT / "data").iterdir():
        if layer.is_dir() and layer.name != "studies":
            (folder / "data" / layer.name).mkdir(parents=True, exist_ok=True)
    env_file = folder / "conf" / env / "parameters.yml"
    env_file.parent.mkdir(exist_ok=True)
    parameters = (yaml.safe_load(env_file.read_text()) or {}) if env_file.exists() else {}
    base = yaml.safe_load((ROOT / "conf" / "base" / "parameters_data_processing.yml").read_text())
    roots = parameters.get("source", {}).get("roots") or base["source"]["roots"]
    deep_update(parameters, CURVE_PARAMETERS | {"source": {"roots": [str((ROOT / r).resolve()) for r in roots]}})
    deep_update(parameters, {"probing": {"supervised": supervised}})
    env_file.write_text(yaml.safe_dump(parameters, sort_keys=False))
    (folder / "conf" / env / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{folder / 'mlflow.db'}\n"
    )
    return folder


def kedro(project: Path, env: str, log: Path, *args: str) -> None:
    command = [KEDRO, "run", "--env", env, *args]
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=project, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}): see {log}")


def run_point(project: Path, env: str, key: str, epochs: int, seed: int, log: Path, params: str = "") -> dict:
    """Pretrain method ``key`` for ``epochs`` epochs with ``seed`` (and the stage's extra ``params``, ``k=v,...``
    without the stage's prefix), probe it, read back what the runs wrote."""
    method = METHODS[key]
    extra = [f"{method.stage}.{p}" for p in params.split(",") if p]  # the probing run rebuilds the same model
    started = time.perf_counter()
    kedro(
        project,
        env,
        log,
        "--pipelines",
        method.stage,
        "--params",
        ",".join([f"seed={seed}", f"{method.stage}.trainer.epochs={epochs}", *extra]),
    )
    kedro(
        project,
        env,
        log,
        "--pipelines",
        "probing",
        "--namespaces",
        f"probing.{key}",
        "--params",
        ",".join([f"seed={seed}", *extra]),
    )
    history = pd.read_csv(project / "data" / "07_model_output" / f"{method.history}.csv")
    per_step = "global_images_per_batch" if "global_images_per_batch" in history else "global_sequences_per_batch"
    probes = pd.read_csv(project / "data" / "07_model_output" / f"{key}_probe_results.csv")
    return {
        "epochs": int(history.epoch.max()),
        "images_seen": float((history.train_steps * history[per_step]).sum()),  # sequence CPC: its image pool
        "train_flops": float(history.train_flops.sum()),
        "train_seconds": float(history.train_seconds.sum()),
        "point_seconds": time.perf_counter() - started,
        "probes": probes[PROBE_COLUMNS].to_dict("records"),
    }


def run_baselines(project: Path, env: str, seed: int, log: Path) -> dict:
    """The probing stage's baselines with ``seed``: raw pixels, the random-init encoder and the supervised encoder
    (end to end as the study's ``probing.supervised`` says, then frozen and probed like the others)."""
    keys = [k for k, m in METHODS.items() if not m.trains]
    nodes = [f"probing.{n}" for n in ("initialise_random_encoder", "train_supervised_baseline")]
    template = [n.name for n in probe_template().nodes]  # each encoder's freeze, features and probes
    probes = [f"probing.{k}.{n}" for k in keys for n in template] + ["probing.pixel_weights"]  # kept in memory
    started = time.perf_counter()
    for run in (nodes, probes):
        kedro(project, env, log, "--pipelines", "probing", "--nodes", ",".join(run), "--params", f"seed={seed}")
    output = project / "data" / "07_model_output"
    history = pd.read_csv(output / "supervised_history.csv").query("label_fraction == 1.0")
    rows = [pd.read_csv(output / f"{key}_probe_results.csv").assign(encoder=key) for key in keys]
    rows.append(pd.read_csv(output / "end_to_end_results.csv"))
    return {
        "epochs": int(history.epoch.max()),  # the supervised encoder's; pixels and random init train nothing
        "images_seen": float((history.train_steps * history.global_samples_per_batch).sum()),
        "train_flops": float(history.train_flops.sum()),
        "train_seconds": float(history.train_seconds.sum()),
        "point_seconds": time.perf_counter() - started,
        "probes": pd.concat(rows)[["encoder", *PROBE_COLUMNS]].to_dict("records"),
    }


def aggregate(points: dict[str, dict]) -> list[dict]:
    """Rows ``{encoder, probe, label_fraction, epochs, images_seen, train_flops, train_seconds, test_accuracy:
    {mean, std, per_seed}, val_accuracy: {...}}``, one per (method, epochs, probe, fraction) over its seeds."""
    groups: dict[tuple, dict[int, dict]] = {}
    for point in points.values():
        for probe in point["probes"]:
            key = (probe.get("encoder", point["encoder"]), point["epochs"], probe["probe"], probe["label_fraction"])
            groups.setdefault(key, {})[point["seed"]] = point | probe
    rows = []
    for (encoder, epochs, probe, fraction), by_seed in sorted(groups.items()):
        spread = lambda m: {  # noqa: E731
            "mean": statistics.fmean(r[m] for r in by_seed.values()),
            "std": statistics.stdev([r[m] for r in by_seed.values()]) if len(by_seed) > 1 else 0.0,
            "n": len(by_seed),
            "per_seed": {str(s): r[m] for s, r in sorted(by_seed.items())},
        }
        rows.append(
            {
                "encoder": encoder,
                "probe": probe,
                "label_fraction": fraction,
                "epochs": epochs,
                **{m: spread(m)["mean"] for m in ("images_seen", "train_flops", "train_seconds")},
                "test_accuracy": spread("test_accuracy"),
                "val_accuracy": spread("val_accuracy"),
            }
        )
    return rows


def plateaued(points: dict[str, dict], key: str, epochs: list[int], at: int, gain: float) -> bool:
    """Whether method ``key``'s mean validation accuracy (linear, all labels) rose less than ``gain`` from the
    budget before ``at`` to ``at``: a selection on validation labels only."""

    def mean_val(e: int) -> float | None:
        values = [
            p["val_accuracy"]
            for point in points.values()
            if point["encoder"] == key and point["epochs"] == e
            for p in point["probes"]
            if p["probe"] == "linear" and p["label_fraction"] == 1.0
        ]
        return statistics.fmean(values) if values else None

    i = epochs.index(at)
    before, now = (mean_val(epochs[i - 1]) if i else None), mean_val(at)
    return before is not None and now is not None and now - before < gain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=[m.key for m in METHODS.values() if m.trains])
    parser.add_argument("--epochs", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--env", default="base")
    parser.add_argument("--plateau", type=float, default=0.003)
    parser.add_argument("--output", default="curves_mnist")
    parser.add_argument(
        "--params",
        default="",
        help="extra runtime parameters for the training run, without the stage's prefix: "
        "'objective.temperature=0.2,trainer.learning_rate=0.6' (a tuning study: give it its own --output)",
    )
    parser.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--scratch", help="the scratch project's folder under data/studies/ (default: --output's name)")
    parser.add_argument(
        "--supervised",
        default="{}",
        type=json.loads,
        help="the supervised baseline's settings over the environment's probing.supervised, as JSON: "
        '\'{"epochs": 30, "schedule": "warmup_cosine", "augment": {"crop_scale": [0.8, 1.0]}}\'',
    )
    args = parser.parse_args()
    env = "curve" if args.env == "base" else args.env
    project = scratch_project(ROOT / "data" / "studies" / (args.scratch or args.output), env, args.supervised)
    log = project / "study.log"
    path = RESULTS / f"{args.output}.json"
    points = json.loads(path.read_text())["points"] if path.exists() else {}
    if not (project / "data" / "02_intermediate" / "train_digits.pkl").exists():
        kedro(project, env, log, "--pipelines", "data_processing")
    for seed in args.seeds if args.baselines else []:
        name = f"baselines/seed={seed}"
        if name not in points:
            print(f"{name}: running (log: {log})", flush=True)
            points[name] = {"encoder": "baselines", "seed": seed, "code_commit": code_commit(ROOT)} | run_baselines(
                project, env, seed, log
            )
            save(path, args, points)
    for key in args.methods:
        for epochs in args.epochs:
            for seed in args.seeds:
                name = f"{key}/epochs={epochs}/seed={seed}"
                if name not in points:
                    print(f"{name}: running (log: {log})", flush=True)
                    points[name] = {"encoder": key, "seed": seed, "code_commit": code_commit(ROOT)} | run_point(
                        project, env, key, epochs, seed, log, args.params
                    )
                    save(path, args, points)
            if plateaued(points, key, args.epochs, epochs, args.plateau):
                print(f"{key}: plateau at {epochs} epochs (validation gain under {100 * args.plateau:g} points)")
                break
    save(path, args, points)


def save(path: Path, args, points: dict[str, dict]) -> None:
    """Write the study's JSON, merged under a lock with the points other processes of the same study wrote meanwhile
    (several ``curves.py`` may fill one study, each with its own ``--scratch``); ``points`` gains theirs."""
    command = f'make bench-curves ARGS="{" ".join(sys.argv[1:])}"'
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        on_disk = json.loads(path.read_text()) if path.exists() else {}
        for key in ("env", "params", "supervised"):
            if key in on_disk and on_disk[key] != getattr(args, key):
                raise SystemExit(
                    f"{path} was measured with {key}={on_disk[key]!r}, not {getattr(args, key)!r}: "
                    "give a different study its own --output"
                )
        points.update(on_disk.get("points", {}) | points)
        write_results(
            path.stem,
            {
                "what": "test accuracy against pretraining compute: frozen linear and MLP probes at 1 % and 100 % of "
                "the labels, each point a kedro run of its own (choices on validation, test scored once)",
                "commands": sorted(set(on_disk.get("commands", [])) | {command}),
                "env": args.env,
                "params": args.params,
                "supervised": args.supervised,
                "seeds": sorted({p["seed"] for p in points.values()}),
                "code_commit": code_commit(ROOT),
                "machine": machine_info(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
                "threads": torch.get_num_threads(),
                "rows": aggregate(points),
                "points": points,
            },
        )


if __name__ == "__main__":
    main()
