"""SimCLR's training step rate on one device: the digits (conf/base's ``simclr``) and ResNet-18 with the CIFAR
stem on 32x32 colour pictures, each trained through the project's loop for ``--steps`` steps an epoch.

    .venv/bin/python benchmarks/simclr_rate.py [--device auto] [--steps 40] [--set trainer.compile=true]

The rate is the second epoch's (the first includes warm-up and, with ``torch.compile``, compilation):
optimiser steps per second and views per second (two views of each of ``images_per_batch`` images a step).
The CIFAR-shaped pictures are random uint8 arrays: a step's cost does not depend on what the pixels show.
Writes benchmarks/results/simclr_rate_<device>.json (or ``--name``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from _common import default_parameters, machine_info, override, write_results
from cpc_pipeline.data import load_digit_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.simclr import SimCLRConfig, fit_simclr

RESNET18_CIFAR = ["encoder={arch: resnet18, cifar_stem: true}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--set", action="append", default=[], help="simclr override, e.g. trainer.compile=true")
    parser.add_argument("--name", help="the results file's name (default: simclr_rate_<device>)")
    args = parser.parse_args()

    params = default_parameters()
    rendering = RenderingConfig.model_validate(params["rendering"])
    splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
    cifar = np.random.default_rng(0).integers(0, 256, (len(splits.train), 32, 32, 3), dtype=np.uint8)
    labels = splits.train.labels
    workloads = {
        "digits": ({"images": splits.train.images, "labels": labels}, []),
        "resnet18_cifar_stem": ({"images": cifar, "labels": labels}, RESNET18_CIFAR),
    }
    rows, device = {}, None
    for name, (train, sets) in workloads.items():
        batch = params["simclr"]["objective"]["images_per_batch"]
        cfg = SimCLRConfig.model_validate(
            override(
                params["simclr"],
                [
                    *sets,
                    *args.set,
                    f"objective.images_per_epoch={args.steps * batch}",
                    "objective.knn_bank_images=1000",
                    "trainer.epochs=2",
                    f"trainer.device={args.device}",
                    "trainer.checkpoint_path=null",
                    "trainer.progress=false",
                ],
            )
        )
        validation = {k: v[: batch * 2] for k, v in train.items()}
        _, history = fit_simclr(ImageInputs(train, validation, rendering), cfg)
        views_per_s = history[-1]["train_images_per_s"]  # the loop counts both views of every image
        rows[name] = {
            "images_per_batch": batch,
            "views_per_s": views_per_s,
            "steps_per_s": views_per_s / (2 * batch),
            "epoch_train_seconds": [h["train_seconds"] for h in history],
            "encoder": cfg.encoder.model_dump(mode="json"),
            "compile": cfg.trainer.compile,
            "bf16": cfg.trainer.bf16,
        }
        device = torch.device(
            args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        )
        print(f"{name:<22} {rows[name]['steps_per_s']:8.2f} steps/s  {views_per_s:10.0f} views/s", flush=True)
    write_results(
        args.name or f"simclr_rate_{device.type}",
        {"machine": machine_info(device), "steps": args.steps, "overrides": args.set, "workloads": rows},
    )


if __name__ == "__main__":
    main()
