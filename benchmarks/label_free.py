"""The label-free methods at about the same pretraining wall time: patch CPC trained now, SimCLR read back.

    make bench-label_free [ARGS="--seeds 0 --set trainer.epochs=2"]

For each seed, patch CPC is pretrained with conf/base's ``patch_cpc`` parameters (``--set`` overrides a
key of it) on genuine MNIST, frozen, and probed with the pipeline's own protocol (conf/base's
``probing``: features of the rendered train, validation and test splits; every hyperparameter chosen on
validation labels of the same fraction; scored once on the MNIST test split) at the label fractions of
``--fractions``. A random-init patch encoder of the same architecture goes through the same probes: what
the architecture alone gives. SimCLR's and the other encoders' figures at the same fractions are read from
``benchmarks/results/headline_cpu.json`` (the default run, 3 seeds), with SimCLR's pretraining seconds,
so the wall times can be compared.

Writes ``benchmarks/results/label_free_cpu.json`` after every seed (resumable: a seed already recorded is
skipped).
"""

from __future__ import annotations

import argparse
import json
import time

from _common import RESULTS, default_parameters, machine_info, override, write_results
from cpc_pipeline.data import load_digit_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.evaluation import ProbingConfig, freeze, run_probes, split_features
from cpc_pipeline.provenance import code_commit
from cpc_pipeline.training.loop import pick_device, seed_everything
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.patch_cpc import PatchCPCConfig, fit_patch_cpc


def probe(encoder, splits, rendering, probing: ProbingConfig, fractions, device) -> list[dict]:
    as_dicts = tuple({"images": s.images, "labels": s.labels} for s in (splits.train, splits.validation, splits.test))
    features = split_features(freeze(encoder).to(device), as_dicts, rendering, probing, device)
    config = probing.probes.model_copy(update={"label_fractions": fractions, "probes": ["mlp", "linear"]})
    return [{"probe": r.probe, "label_fraction": r.label_fraction, "test_accuracy": r.test_accuracy,
             "val_accuracy": r.val_accuracy, "labels_used": r.labels_used, "chosen": str(r.chosen)}
            for r in run_probes(features, config, device)]


def headline_rows(fractions: list[float]) -> dict:
    path = RESULTS / "headline_cpu.json"
    if not path.exists():
        return {}
    d = json.loads(path.read_text())
    rows = [{k: r[k] for k in ("encoder", "probe", "label_fraction", "test_accuracy")} for r in d["probes"]
            if r["probe"] in ("mlp", "linear") and r["label_fraction"] in fractions]
    return {"source": "benchmarks/results/headline_cpu.json", "code_commit": d["code_commit"], "seeds": d["seeds"],
            "simclr_train_seconds": d["simclr"]["train_seconds"], "simclr_epochs": d["simclr"]["epochs"], "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 1.0])
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--set", action="append", default=[], help="patch_cpc override, e.g. trainer.epochs=1")
    args = parser.parse_args()

    params = default_parameters()
    rendering = RenderingConfig.model_validate(params["rendering"])
    probing = ProbingConfig.model_validate(params["probing"])
    splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
    as_dict = lambda s: {"images": s.images, "labels": s.labels}  # noqa: E731
    path = RESULTS / "label_free_cpu.json"
    payload = json.loads(path.read_text()) if path.exists() else {"seeds": {}}
    for seed in args.seeds:
        if str(seed) in payload["seeds"]:
            print(f"seed {seed}: recorded, skipped")
            continue
        raw = override(params["patch_cpc"], [*args.set, f"trainer.seed={seed}",
                                                             "trainer.checkpoint_path=null", "trainer.progress=false"])
        cfg = PatchCPCConfig.model_validate(raw)
        device = pick_device(cfg.trainer.device)
        started = time.perf_counter()
        model, history = fit_patch_cpc(ImageInputs(as_dict(splits.train), as_dict(splits.validation), rendering), cfg)
        train_seconds = sum(row["train_seconds"] for row in history)
        trained = probe(model.encoder, splits, rendering, probing, args.fractions, device)
        seed_everything(seed)
        random = probe(cfg.model.build(rendering.channels, rendering.image_size).encoder, splits, rendering, probing,
                       args.fractions, device)
        payload["seeds"][str(seed)] = {
            "train_seconds": train_seconds, "epoch_seconds": sum(row["epoch_seconds"] for row in history),
            "wall_s": time.perf_counter() - started, "history": history,
            "patch_cpc": trained, "random_patch_encoder": random,
        }
        for r in trained:
            print(f"seed {seed}: patch CPC {r['probe']} at {r['label_fraction']:g}: {100 * r['test_accuracy']:.2f}%")
        payload |= {"config": cfg.model_dump(mode="json", exclude={"trainer": {"seed"}}), "fractions": args.fractions,
                    "machine": machine_info(device), "code_commit": code_commit(RESULTS.parents[1]),
                    "headline": headline_rows(args.fractions)}
        write_results("label_free_cpu", payload)


if __name__ == "__main__":
    main()
