"""What each change to patch CPC gives: one short pretraining per row, scored on **validation** labels only.

    make bench-patch_cpc_ablation [ARGS="--seeds 0 1 2 --rows default before"]

Every row is conf/base's ``patch_cpc`` with the overrides below, trained label-free on MNIST for the same
number of steps (``--steps`` of 32 images, one epoch), then frozen. Its features of ``--train-images``
training and ``--val-images`` validation pictures (rendered once, as the probing pipeline renders them) go
through a logistic regression (standardised features, ``C`` = 0.1) fitted on the training features and
scored on the validation ones, for every pooling of the patch codes: ``mean``, ``max``, ``grid`` (3x3
regions, the default), and ``context`` (the mean of the context network's outputs, both directions). The
table is a selection tool, so it never touches the test split; the chosen configuration's test figures
come from ``label_free.py``.

Each trained model is saved as ``data/06_models/patch_cpc_ablation/<row>_seed<seed>.pt`` (its configuration
and weights), which ``patch_cpc_diagnosis.py`` reads.

Resumable: ``benchmarks/results/patch_cpc_ablation_cpu.json`` is written after every row and seed, and a
recorded one is skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import RESULTS, default_parameters, machine_info, override, write_results
from cpc_pipeline.data import load_digit_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import pictures_for
from cpc_pipeline.models.patches import pool_grid
from cpc_pipeline.provenance import code_commit
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.patch_cpc import PatchCPCConfig, fit_patch_cpc

BEFORE = ["objective.backgrounds=image", "objective.augment.spatial_jitter=0"]  # the configuration before the change
ROWS: dict[str, tuple[str, list[str]]] = {  # name -> (what it changes, overrides of conf/base's patch_cpc)
    "before": ("one background per image, no spatial jitter (the earlier default)", BEFORE),
    "grey": ("before + every patch dropped to grey", [*BEFORE, "objective.augment.grey=1.0"]),
    "grey_half": ("before + half the patches dropped to grey", [*BEFORE, "objective.augment.grey=0.5"]),
    "jitter": ("before + spatial jitter of 4 px", [*BEFORE, "objective.augment.spatial_jitter=4"]),
    "offset_2": ("before + predictions from 2 rows below", [*BEFORE, "model.first_offset=2"]),
    "no_overlap": (
        "before + patches without overlap (stride 16: a 4x4 grid, rows 1..2)",
        [*BEFORE, "model.encoder.stride=16", "model.predict_rows=2", "model.encoder.cells=2"],
    ),
    "colour": ("before + per-patch colour change of +-0.5 per channel", [*BEFORE, "objective.augment.colour=0.5"]),
    "shuffle_colour": (
        "before + shuffled, negated channels and colour change per patch",
        [*BEFORE, "objective.augment.shuffle=1.0", "objective.augment.colour=0.5"],
    ),
    "wider": (
        "before + a wider patch encoder (128 channels, 512 hidden)",
        [*BEFORE, "model.encoder.patch_encoder.width=128", "model.encoder.patch_encoder.hidden=512"],
    ),
    "patch_backgrounds": ("before + every patch on its own background", ["objective.augment.spatial_jitter=0"]),
    "default": ("every patch on its own background + spatial jitter of 4 px (conf/base)", []),
    "default_offset_2": ("conf/base + predictions from 2 rows below", ["model.first_offset=2"]),
    "default_shuffle": (
        "conf/base + shuffled, negated channels and colour change per patch",
        ["objective.augment.shuffle=1.0", "objective.augment.colour=0.5"],
    ),
}
POOLS = ("mean", "max", "grid", "context")
MODELS = RESULTS.parents[1] / "data" / "06_models" / "patch_cpc_ablation"


@torch.no_grad()
def features(model, images: np.ndarray, to_pictures, seed: int, cells: int) -> dict[str, np.ndarray]:
    generator, out = torch.Generator().manual_seed(seed), {p: [] for p in POOLS}
    for s in range(0, len(images), 500):
        codes = model.encoder.grid(to_pictures(torch.as_tensor(images[s : s + 500]), generator))
        for pool in ("mean", "max", "grid"):
            out[pool].append(pool_grid(codes, pool, cells))
        out["context"].append(
            torch.cat([model.contexts[d](model.frame(codes, d)).mean((2, 3)) for d in model.directions], 1)
        )
    return {p: torch.cat(v).numpy() for p, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--train-images", type=int, default=10_000)
    parser.add_argument("--val-images", type=int, default=10_000)
    parser.add_argument("--mnist-root", default="../shared/data")
    args = parser.parse_args()

    params = default_parameters()
    rendering = RenderingConfig.model_validate(params["rendering"])
    splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
    inputs = ImageInputs(splits.train.to_dict(), splits.validation.to_dict(), rendering)
    to_pictures = pictures_for(splits.train.images, rendering)
    path = RESULTS / "patch_cpc_ablation_cpu.json"
    payload = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    x_train, y_train = splits.train.images[: args.train_images], splits.train.labels[: args.train_images]
    x_val, y_val = splits.validation.images[: args.val_images], splits.validation.labels[: args.val_images]
    for name in args.rows:
        what, sets = ROWS[name]
        row = payload["rows"].setdefault(name, {"what": what, "overrides": sets, "seeds": {}})
        for seed in args.seeds:
            if str(seed) in row["seeds"]:
                print(f"{name}, seed {seed}: recorded, skipped")
                continue
            batch = params["patch_cpc"]["objective"]["images_per_batch"]
            cfg = PatchCPCConfig.model_validate(
                override(
                    params["patch_cpc"],
                    [
                        *sets,
                        f"objective.images_per_epoch={args.steps * batch}",
                        "trainer.epochs=1",
                        f"trainer.seed={seed}",
                        "trainer.checkpoint_path=null",
                        "trainer.progress=false",
                    ],
                )
            )
            model, history = fit_patch_cpc(inputs, cfg)
            MODELS.mkdir(parents=True, exist_ok=True)
            torch.save(
                {"config": cfg.model_dump(mode="json"), "state_dict": model.state_dict()},
                MODELS / f"{name}_seed{seed}.pt",
            )
            started = time.perf_counter()
            cells = cfg.model.encoder.cells
            f_train = features(model, x_train, to_pictures, 1, cells)
            f_val = features(model, x_val, to_pictures, 2, cells)
            accuracy = {}
            for pool in POOLS:
                probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500, random_state=seed))
                accuracy[pool] = float(probe.fit(f_train[pool], y_train).score(f_val[pool], y_val))
            last = history[-1]
            row["seeds"][str(seed)] = {
                "val_linear_accuracy": accuracy,
                "train_seconds": last["train_seconds"],
                "probe_seconds": time.perf_counter() - started,
                "val_knn_accuracy": last["val_knn_accuracy"],
                "val_pretext_accuracy": last["val_accuracy"],
                "val_loss": last["val_loss"],
            }
            row["val_linear_accuracy"] = {
                pool: {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
                for pool in POOLS
                for v in [[s["val_linear_accuracy"][pool] for s in row["seeds"].values()]]
            }
            print(f"{name}, seed {seed}: " + ", ".join(f"{p} {100 * a:.2f}%" for p, a in accuracy.items()), flush=True)
            payload |= {
                "steps": args.steps,
                "train_images": args.train_images,
                "val_images": args.val_images,
                "machine": machine_info(torch.device("cpu")),
                "code_commit": code_commit(RESULTS.parents[1]),
            }
            write_results("patch_cpc_ablation_cpu", payload)


if __name__ == "__main__":
    main()
