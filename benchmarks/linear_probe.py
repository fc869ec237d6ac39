"""The linear probe's two solvers on the same frozen features: full-batch L-BFGS in torch, warm-started along the C
grid (``probing.probes.linear.solver: torch``, the default), against scikit-learn's ``LogisticRegression`` per C
(``solver: sklearn``), each choosing C on validation and scored once on the test split, at 100 % and 1 % of the
labels.

    make bench-linear_probe                                        # -> benchmarks/results/linear_probe_cpu.json
    make bench-linear_probe ARGS="--project ../elsewhere --methods patch_cpc"

The features are those the probing stage fitted its probes on in the last ``kedro run`` of the project at
``--project`` (the catalog's ``<method>_features``, ``data/04_feature``): each trained encoder frozen and applied to
that run's rendered train, validation and test pictures. Timed: each solver's whole grid, one after the other on the
same threads; scikit-learn on ``--sklearn-grid`` (the grid of the earlier default, 0.01-1), torch on it too (equal
accuracy, the speed-up) and on the default grid (0.001-100).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import torch

from _common import RESULTS, default_parameters, machine_info, write_results
from cpc_pipeline.evaluation.probes import label_subsets
from cpc_pipeline.evaluation.probes.linear import fit_linear_probe
from cpc_pipeline.evaluation.protocol import ProbingConfig
from cpc_pipeline.methods import METHODS


def features_of(project: Path, key: str) -> dict[str, np.ndarray]:
    """Method ``key``'s probe features as ``project``'s last run left them (the catalog's ``<key>_features``)."""
    path = project / "data" / "04_feature" / f"{key}_features.pkl"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run the chain there first (kedro run)")
    with path.open("rb") as fh:
        return pickle.load(fh)


FITS = {  # name -> (solver, grid: None for conf/base's)
    "sklearn": ("sklearn", "sklearn_grid"),
    "torch": ("torch", "sklearn_grid"),
    "torch_default_grid": ("torch", None),
}


def fit(features: dict[str, np.ndarray], fraction: float, linear, seed: int, device) -> dict:
    """One linear probe at ``fraction`` of the labels, its C chosen on validation, timed; test scored once."""
    keep, keep_val = label_subsets(features["train_y"], features["validation_y"], fraction, seed)
    start = time.perf_counter()
    chosen, val_acc, pred = fit_linear_probe(
        features["train_x"][keep],
        features["train_y"][keep],
        features["validation_x"][keep_val],
        features["validation_y"][keep_val],
        features["test_x"],
        linear,
        seed,
        device,
    )
    return {
        "seconds": time.perf_counter() - start,
        "chosen": chosen,
        "c_grid": linear.c_grid,
        "labels_used": int(len(keep) + len(keep_val)),
        "val_accuracy": val_acc,
        "test_accuracy": float((pred == features["test_y"]).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path(__file__).parents[1])
    parser.add_argument("--methods", nargs="+", default=[m.key for m in METHODS.values() if m.trains])
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0, 0.01])
    parser.add_argument("--sklearn-grid", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--output", default="linear_probe_cpu")
    args = parser.parse_args()
    device = torch.device("cpu")
    probing = ProbingConfig.model_validate(default_parameters()["probing"])
    path = RESULTS / f"{args.output}.json"
    rows = json.loads(path.read_text())["rows"] if path.exists() else []  # resumable: what is recorded is kept
    done = {(r["encoder"], r["label_fraction"]) for r in rows}
    for key in args.methods:
        features = None
        for fraction in args.fractions:
            if (key, fraction) in done:
                continue
            features = features if features is not None else features_of(args.project.resolve(), key)
            row = {"encoder": key, "label_fraction": fraction, "dims": int(features["train_x"].shape[1])}
            for name, (solver, grid) in FITS.items():
                update = {"solver": solver} | ({"c_grid": args.sklearn_grid} if grid else {})
                row[name] = fit(features, fraction, probing.probes.linear.model_copy(update=update), 0, device)
            row["speedup"] = row["sklearn"]["seconds"] / row["torch"]["seconds"]
            row["test_accuracy_difference"] = row["torch"]["test_accuracy"] - row["sklearn"]["test_accuracy"]
            said = " | ".join(
                f"{name} {row[name]['seconds']:.1f} s, test {row[name]['test_accuracy']:.4f} ({row[name]['chosen']})"
                for name in FITS
            )
            print(f"{key} at {fraction:g} of the labels: {said} | {row['speedup']:.1f}x", flush=True)
            rows.append(row)
            write_results(
                args.output,
                {
                    "what": "the linear probe: torch L-BFGS warm-started along the C grid against scikit-learn's "
                    "LogisticRegression, on the same frozen features, C chosen on validation, test scored once",
                    "command": "make bench-linear_probe",
                    "max_iter": probing.probes.linear.max_iter,
                    "machine": machine_info(device),
                    "rows": rows,
                },
            )


if __name__ == "__main__":
    main()
