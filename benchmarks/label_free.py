"""The label-free methods side by side on one machine: patch CPC and SimCLR pretrained with conf/base's
parameters, beside a random-init encoder of each architecture and the supervised baseline, every encoder
frozen and probed with the pipeline's own protocol.

    make bench-label_free                                   # MNIST, seeds 0 1 2 -> label_free_cpu.json
    make bench-label_free ARGS="--dataset fashion_mnist"    # Fashion-MNIST   -> label_free_fashion_cpu.json

For each seed: SimCLR (``simclr``) and patch CPC (``patch_cpc``, ``--set`` overrides one of its keys) train on
the training split without labels, and their pretraining seconds are recorded, so the JSON shows which
had more time on this machine. The probes are conf/base's ``probing`` (features of the rendered train,
validation and test splits; every hyperparameter chosen on validation labels of the same fraction; scored
once on the **test** split) at ``--fractions``, for the MLP and the linear probe. Baselines: a random-init
patch encoder and a random-init reference encoder (BatchNorm statistics estimated on unlabelled images),
and the reference encoder trained end to end with labels (``probing.supervised``).

MNIST is rendered as everywhere in the project (conf/base ``rendering``); Fashion-MNIST (Debian's
``dataset-fashion-mnist``, or ``--fashion-root``) as grey 64x64 pictures with no background, the form in
which outside results are reported.

Resumable: the JSON is written after every encoder of every seed, and what it holds is skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _common import RESULTS, default_parameters, machine_info, override, write_results
from cpc_pipeline.data import load_digit_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import pictures_for
from cpc_pipeline.data.sources import FASHION_MNIST_DEBIAN
from cpc_pipeline.methods import METHODS
from cpc_pipeline.evaluation import ProbeResult, ProbingConfig, freeze, run_probes, split_features, train_end_to_end
from cpc_pipeline.models import EncoderSpec
from cpc_pipeline.pipelines.probing.nodes import initialise_random_encoder
from cpc_pipeline.provenance import code_commit
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.loop import pick_device, seed_everything
from cpc_pipeline.training.patch_cpc import PatchCPCConfig, fit_patch_cpc
from cpc_pipeline.training.simclr import SimCLRConfig, fit_simclr

FITS = {PatchCPCConfig: fit_patch_cpc, SimCLRConfig: fit_simclr}  # a label-free method's training, by its configuration

PROBES = ["mlp", "linear"]


def probe(encoder, splits, rendering, probing: ProbingConfig, fractions, device) -> list[dict]:
    as_dicts = tuple(s.to_dict() for s in (splits.train, splits.validation, splits.test))
    features = split_features(freeze(encoder).to(device), as_dicts, rendering, probing, device)
    config = probing.probes.model_copy(update={"label_fractions": fractions, "probes": PROBES})
    return [
        {
            "probe": r.probe,
            "label_fraction": r.label_fraction,
            "test_accuracy": r.test_accuracy,
            "val_accuracy": r.val_accuracy,
            "labels_used": r.labels_used,
            "chosen": str(r.chosen),
        }
        for r in run_probes(features, config, device)
    ]


def supervised(splits, rendering, encoder: dict, probing: ProbingConfig, fractions, device) -> list[dict]:
    """The reference encoder trained end to end with the labels of each fraction (epoch chosen on validation)."""
    rows = []
    for fraction in fractions:
        _, history, predictions, (n_train, n_selection) = train_end_to_end(
            splits.train,
            splits.validation,
            splits.test,
            pictures_for(splits.train.images, rendering, device),
            EncoderSpec.model_validate(encoder),
            fraction,
            probing.supervised,
            probing.probes.seed,
            probing.split_render_seed("test"),
            device,
        )
        best = next(r for r in history if r["selected"])
        r = ProbeResult.score(
            "end_to_end",
            fraction,
            n_train,
            n_selection,
            f"epoch={int(best['epoch'])}",
            best["val_accuracy"],
            splits.test.labels,
            predictions,
        )
        rows.append(
            {
                "probe": r.probe,
                "label_fraction": fraction,
                "test_accuracy": r.test_accuracy,
                "val_accuracy": r.val_accuracy,
                "labels_used": r.labels_used,
                "chosen": str(r.chosen),
            }
        )
    return rows


def summary(values: list[float], keys: list[str]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
        "per_seed": dict(zip(keys, values)),
    }


def rows(seeds: dict) -> list[dict]:
    """``{encoder, probe, label_fraction, test_accuracy: {mean, std, n, per_seed}}`` over the recorded seeds."""
    groups: dict[tuple, dict[str, float]] = {}
    for seed, record in seeds.items():
        for encoder, results in record["probes"].items():
            for r in results:
                groups.setdefault((encoder, r["probe"], r["label_fraction"]), {})[seed] = r["test_accuracy"]
    return [
        {"encoder": e, "probe": p, "label_fraction": f, "test_accuracy": summary(list(v.values()), list(v))}
        for (e, p, f), v in groups.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 1.0])
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--fashion-root", default=FASHION_MNIST_DEBIAN)
    parser.add_argument("--set", action="append", default=[], help="patch_cpc override, e.g. trainer.epochs=1")
    parser.add_argument("--simclr-set", action="append", default=[], help="simclr override")
    parser.add_argument("--name", help="the results file's name (default: label_free[_fashion]_cpu)")
    args = parser.parse_args()

    params = default_parameters()
    probing = ProbingConfig.model_validate(params["probing"])
    if args.dataset == "mnist":
        rendering = RenderingConfig.model_validate(params["rendering"])
        splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
        name = "label_free_cpu"
    else:
        rendering = RenderingConfig(image_size=params["rendering"]["image_size"], color=False)
        splits = load_digit_splits("fashion_mnist", [args.fashion_root, "data/01_raw"], download=True)
        name = "label_free_fashion_cpu"
    name = args.name or name
    inputs = ImageInputs(splits.train.to_dict(), splits.validation.to_dict(), rendering)
    path = RESULTS / f"{name}.json"
    payload = json.loads(path.read_text()) if path.exists() else {"seeds": {}}
    quiet = ["trainer.checkpoint_path=null", "trainer.progress=false"]
    reference = params["pretraining"]["model"]["encoder"]
    for seed in args.seeds:
        record = payload["seeds"].setdefault(str(seed), {"probes": {}, "train_seconds": {}, "history": {}})
        patch_cfg = PatchCPCConfig.model_validate(
            override(params["patch_cpc"], [*args.set, f"trainer.seed={seed}", *quiet])
        )
        simclr_cfg = SimCLRConfig.model_validate(
            override(params["simclr"], [*args.simclr_set, f"trainer.seed={seed}", *quiet])
        )
        device = pick_device(patch_cfg.trainer.device)
        seeded_probing = probing.model_copy(
            update={"probes": probing.probes.model_copy(update={"seed": seed}), "random_encoder_seed": seed}
        )

        def random_patch():
            seed_everything(seed)
            return patch_cfg.model.build(rendering.channels, rendering.image_size).encoder

        def trained(fit, cfg):
            def make():
                model, history = fit(inputs, cfg)
                record["history"][fit.__name__] = history
                record["train_seconds"][fit.__name__] = sum(row["train_seconds"] for row in history)
                return model.encoder

            return make

        configs = {PatchCPCConfig: patch_cfg, SimCLRConfig: simclr_cfg}  # the label-free methods' configurations
        encoders = {
            **{m.key: trained(FITS[m.config], configs[m.config]) for m in METHODS.values() if m.label_free},
            "random_patch_encoder": random_patch,
            "random": lambda: initialise_random_encoder(splits.train.to_dict(), rendering, reference, seeded_probing),
        }
        for encoder, make in [*encoders.items(), ("supervised", None)]:
            if encoder in record["probes"]:
                print(f"seed {seed}, {encoder}: recorded, skipped")
                continue
            started = time.perf_counter()
            if make is None:
                record["probes"][encoder] = supervised(
                    splits, rendering, reference, seeded_probing, args.fractions, device
                )
            else:
                record["probes"][encoder] = probe(make(), splits, rendering, seeded_probing, args.fractions, device)
            record.setdefault("wall_s", {})[encoder] = time.perf_counter() - started
            for r in record["probes"][encoder]:
                print(
                    f"seed {seed}, {encoder} {r['probe']} at {r['label_fraction']:g}: {100 * r['test_accuracy']:.2f}%"
                )
            payload |= {
                "dataset": args.dataset,
                "rendering": rendering.model_dump(),
                "fractions": args.fractions,
                "patch_cpc_config": patch_cfg.model_dump(mode="json", exclude={"trainer": {"seed"}}),
                "simclr_config": simclr_cfg.model_dump(mode="json", exclude={"trainer": {"seed"}}),
                "machine": machine_info(device),
                "code_commit": code_commit(RESULTS.parents[1]),
                "data": splits.summary(),
            }
            payload["rows"] = rows(payload["seeds"])
            write_results(name, payload)


if __name__ == "__main__":
    main()
