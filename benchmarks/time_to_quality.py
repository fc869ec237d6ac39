"""Time to quality: pretraining wall time until the validation sequence-discrimination accuracy first
reaches 99%, and until a probe on the frozen encoder first reaches 90% and 97% MNIST test accuracy.

    .venv/bin/python benchmarks/time_to_quality.py [--epochs 10] [--probe-train 10000] \
        [--set objective.loss=binary] [--name NAME]

Uses conf/base's parameters (the default pipeline's configuration; ``--set`` overrides a key of
``pretraining``). After every epoch the clock is paused, a copy of the encoder is frozen and the
reference's MLP probe and the logistic-regression probe are fitted on the features of ``--probe-train``
training images (all 10,000 validation images choose each probe's hyperparameter, and which of the two
probes is reported) and scored on all 10,000 MNIST test images. The probe's own cost is recorded beside
the pretraining time. Writes
benchmarks/results/time_to_quality_<device>_<loss>.json.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from _common import default_parameters, machine_info, mnist_cpc_tables, override, write_results
from cpc_pipeline.data import DigitRenderer
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.evaluation import ProbeConfig, ProbingConfig, freeze, run_probes, select_on_validation, split_features
from cpc_pipeline.training.cpc import CPCData, PretrainingConfig, make_cpc_method
from cpc_pipeline.training.loop import pick_device, seed_everything, train

TARGETS = {"val_sequence_accuracy": [0.99], "probe_test_accuracy": [0.90, 0.97]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--probe-train", type=int, default=10_000)
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--set", action="append", default=[], help="pretraining override, e.g. trainer.device=cpu")
    parser.add_argument("--name", help="the results file's name (default: time_to_quality_<device>_<loss>)")
    args = parser.parse_args()

    params = default_parameters()
    sequences = SequenceConfig.model_validate(params["sequences"])
    rendering = RenderingConfig.model_validate(params["rendering"])
    raw = override(params["pretraining"], args.set + [f"trainer.epochs={args.epochs}", "trainer.checkpoint_path=null"])
    cfg = PretrainingConfig.model_validate(raw)
    device = pick_device(cfg.trainer.device)
    seed_everything(cfg.trainer.seed)
    splits, train_table, val_table = mnist_cpc_tables(params, args.mnist_root)
    model = cfg.model.build(rendering.channels, rendering.image_size, sequences.predict_terms).to(device)
    renderer = DigitRenderer.from_config(rendering, device)
    data = CPCData.from_tables(
        splits.train, splits.validation, train_table, val_table, cfg.objective.threshold_sequences, device
    )
    method = make_cpc_method(model, cfg.objective, data, renderer, sequences.terms, cfg.trainer.channels_last)
    probing = ProbingConfig.model_validate(params["probing"])  # the pipeline's render seeds for each split
    probe_config = ProbeConfig(probes=["mlp", "linear"], label_fractions=[1.0])
    rng = np.random.default_rng(0)
    subset = np.sort(rng.choice(len(splits.train.labels), args.probe_train, replace=False))
    epochs: list[dict] = []
    clock = {"pretraining_s": 0.0}

    def after_epoch(epoch: int, row: dict[str, float]) -> None:
        clock["pretraining_s"] += row["epoch_seconds"]
        start = time.perf_counter()
        encoder = freeze(copy.deepcopy(model.encoder))
        probed = (
            {"images": splits.train.images[subset], "labels": splits.train.labels[subset]},
            *({"images": s.images, "labels": s.labels} for s in (splits.validation, splits.test)),
        )
        features = split_features(encoder, probed, rendering, probing, device)
        results = run_probes(features, probe_config, device)
        selected = select_on_validation(results)  # the probe reported is chosen on validation, never on test
        entry = {
            "epoch": epoch,
            "pretraining_s": clock["pretraining_s"],
            "probe_s": time.perf_counter() - start,
            "val_sequence_accuracy": row["val_sequence_accuracy"],
            "train_sequences_per_s": row["train_sequences_per_s"],
            "probe_selected": selected.probe,
            "probe_test_accuracy": selected.test_accuracy,
            "probe_labels_used": selected.labels_used,
            **{f"{r.probe}_val_accuracy": r.val_accuracy for r in results},
            **{f"{r.probe}_test_accuracy": r.test_accuracy for r in results},
        }
        epochs.append(entry)
        print(", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items()), flush=True)

    model.train()
    train(method, cfg.trainer, device, on_epoch_end=after_epoch)
    reached = {}
    for metric, targets in TARGETS.items():
        for target in targets:
            first = next((e for e in epochs if e[metric] >= target), None)
            reached[f"{metric}>={target}"] = (
                {
                    "epoch": first["epoch"],
                    "pretraining_s": first["pretraining_s"],
                    "pretraining_plus_one_probe_s": first["pretraining_s"] + first["probe_s"],
                }
                if first
                else None
            )
    for key, value in reached.items():
        print(f"{key:<32} {value}")
    write_results(
        args.name or f"time_to_quality_{device.type}_{cfg.objective.loss}",
        {
            "machine": machine_info(device),
            "config": {"pretraining": cfg.model_dump(mode="json"), **vars(args)},
            "epochs": epochs,
            "reached": reached,
        },
    )


if __name__ == "__main__":
    main()
