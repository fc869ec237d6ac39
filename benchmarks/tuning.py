"""A method's settings tuned on validation: each setting a ``kedro run`` of the method's stage and of its probes,
as a curve point is (``curves.py``), one setting changed at a time from the environment's, then the best ones
together; the choice reads validation accuracy only (frozen linear probe, all labels, mean of the seeds).

    make bench-tuning ARGS="--env fashion28 --method simclr --epochs 4 \\
        --setting 'flip={\"objective\": {\"augment\": {\"flip_p\": 0.5}}}'"

``--setting NAME=JSON`` names a change of the method's parameters (without the stage's key), written into the
scratch project's ``conf/<env>/parameters_tuning.yml`` for that point's two runs. Resumable: the JSON
(``benchmarks/results/tuning_<method>_<env>.json``) is written after every point and a point it holds is not run
again; ``--seeds`` adds seeds to the settings named.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
import yaml

from _common import RESULTS, machine_info, write_results
from curves import ROOT, kedro, run_point, scratch_project
from cpc_pipeline.methods import METHODS
from cpc_pipeline.provenance import code_commit


def parse(setting: str) -> tuple[str, dict]:
    name, _, changes = setting.partition("=")
    return name, json.loads(changes)


def apply(project: Path, env: str, stage: str, changes: dict) -> None:
    """The setting's changes as the scratch environment's ``parameters_tuning.yml`` (none: no file)."""
    path = project / "conf" / env / "parameters_tuning.yml"
    path.unlink(missing_ok=True)
    if changes:
        path.write_text(yaml.safe_dump({stage: changes}, sort_keys=False))


def validation(point: dict, probe: str = "linear", fraction: float = 1.0, of: str = "val_accuracy") -> float:
    return next(p[of] for p in point["probes"] if p["probe"] == probe and p["label_fraction"] == fraction)


def summary(points: dict[str, dict]) -> list[dict]:
    """Per setting: its changes, and the validation and test accuracy (linear and MLP, all labels) over seeds."""
    by_setting: dict[str, list[dict]] = {}
    for point in points.values():
        by_setting.setdefault(point["setting"], []).append(point)
    rows = []
    for name, runs in by_setting.items():
        stat = lambda values: {  # noqa: E731
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values),
            "per_seed": {str(r["seed"]): v for r, v in zip(runs, values)},
        }
        rows.append(
            {
                "setting": name,
                "changes": runs[0]["changes"],
                "train_seconds": statistics.fmean(r["train_seconds"] for r in runs),
                **{
                    f"{of}_{probe}": stat([validation(r, probe, 1.0, of) for r in runs])
                    for of in ("val_accuracy", "test_accuracy")
                    for probe in ("linear", "mlp")
                },
            }
        )
    return sorted(rows, key=lambda r: -r["val_accuracy_linear"]["mean"])


def run_settings(
    name: str, env: str, method: str, epochs: int, seeds: list[int], settings: list[tuple[str, dict]], what: str
) -> None:
    """Every (setting, seed) point not yet in ``benchmarks/results/<name>.json``, the environment as it is
    ("default") first, each written as it ends."""
    path = RESULTS / f"{name}.json"
    on_disk = json.loads(path.read_text()) if path.exists() else {}
    points = on_disk.get("points", {})
    scratch_env = "curve" if env == "base" else env
    project = scratch_project(ROOT / "data" / "studies" / name, scratch_env, {})
    if not (project / "data" / "02_intermediate" / "train_digits.pkl").exists():
        kedro(project, scratch_env, project / "study.log", "--pipelines", "data_processing")
    for setting, changes in [("default", {}), *settings]:
        for seed in seeds:
            key = f"{setting}/epochs={epochs}/seed={seed}"
            if key in points:
                continue
            print(f"{key}: running ({changes or 'the environment as it is'})", flush=True)
            apply(project, scratch_env, METHODS[method].stage, changes)
            point = run_point(project, scratch_env, method, epochs, seed, project / "study.log")
            points[key] = {"setting": setting, "changes": changes, "seed": seed, "code_commit": code_commit(ROOT)}
            points[key] |= point
            command = f"benchmarks/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}".strip()
            write_results(
                name,
                {
                    "what": what,
                    "commands": sorted(set(on_disk.get("commands", [])) | {command}),
                    "env": env,
                    "method": method,
                    "code_commit": code_commit(ROOT),
                    "machine": machine_info(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
                    "threads": torch.get_num_threads(),
                    "rows": summary(points),
                    "points": points,
                },
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="fashion28")
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--setting", action="append", default=[], help="NAME=JSON (repeatable)")
    args = parser.parse_args()
    what = (
        f"{args.method} settings on {args.env}, {args.epochs} epochs each, chosen on validation (frozen linear probe, "
        "all labels); test recorded, never used to choose"
    )
    settings = list(map(parse, args.setting))
    run_settings(f"tuning_{args.method}_{args.env}", args.env, args.method, args.epochs, args.seeds, settings, what)


if __name__ == "__main__":
    main()
