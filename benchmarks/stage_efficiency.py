"""Per-stage efficiency of the default `kedro run`: useful FLOPs, time, achieved FLOP/s against the measured
matmul peak, and where the rest of the time goes.

    .venv/bin/python benchmarks/stage_efficiency.py [--steps 12] [--mnist-root ../shared/data]

Every stage's work is built from conf/base exactly as its node builds it (``build_cpc``, ``build_simclr``,
``build_patch_cpc``, ``supervised_method``, the probing protocol's feature extraction and probes), then:

- **FLOPs** (``FlopCounterMode``: matmuls and convolutions, the useful work): one training step, forward and
  backward; one epoch-end evaluation; one batch of frozen feature extraction;
- **time**: ``--steps`` steps of the real training loop (an epoch cut short) and the epoch's evaluation, once
  plain (the figures) and once under ``torch.profiler`` (the breakdown). The profiler splits a step by the
  loop's ranges (``training/loop/run.py`` PHASES: batch, forward, backward, optimizer, evaluate) and the data
  ranges inside them (``data.render``, ``data.augment``);
- **projected to the default run**: epochs x (steps per epoch x step time + evaluation time), beside the
  FLOPs of the same work, so achieved FLOP/s and the share of the peak cover the whole stage.

The probes (scikit-learn's logistic regression and k-NN, the MLP probe) are timed on real features of the
random-init encoder (70,000 images); scikit-learn's arithmetic is not counted in FLOPs.
Writes benchmarks/results/stage_efficiency_<device>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from _common import default_parameters, machine_info, matmul_peak, mnist_cpc_tables, override, timed, write_results
from cpc_pipeline.data.augment import BatchAugment
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.data.pictures import pictures_for
from cpc_pipeline.evaluation import ProbingConfig, estimate_batchnorm_statistics, freeze, picture_batches, run_probes
from cpc_pipeline.evaluation.protocol import split_features
from cpc_pipeline.evaluation.supervised import supervised_method
from cpc_pipeline.methods import training_stages
from cpc_pipeline.models import EncoderSpec
from cpc_pipeline.training.cpc import CPCInputs, PretrainingConfig, build_cpc
from cpc_pipeline.training.host import KEEP_SUBNORMALS
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.loop import PHASES, epoch_generator, pick_device, seed_everything, train, uses_bf16
from cpc_pipeline.training.patch_cpc import PatchCPCConfig, build_patch_cpc
from cpc_pipeline.training.simclr import SimCLRConfig, build_simclr

DATA = ("data.render", "data.augment")
PARTS = ("denormals", "augment", *training_stages(), "supervised", "features", "probes")
QUIET = ["trainer.checkpoint_path=null", "trainer.progress=false", "trainer.log_epochs=false"]


class FirstSteps:
    """A method whose epochs stop after ``steps`` training batches; everything else is the method's own.
    ``stamps`` are the times the loop asked for each batch: consecutive differences are whole steps
    (the step, then making the next batch)."""

    def __init__(self, method, steps: int) -> None:
        self.method = method
        self.steps_per_epoch = min(steps, method.steps_per_epoch)
        self.stamps: list[float] = []

    def __getattr__(self, name):
        return getattr(self.method, name)

    def train_batches(self, epoch: int, generator: torch.Generator):
        self.stamps = [time.perf_counter()]
        for batch in itertools.islice(self.method.train_batches(epoch, generator), self.steps_per_epoch):
            yield batch
            self.stamps.append(time.perf_counter())

    def step_seconds(self) -> float:
        """The median step, so the first (allocations, warm-up) does not count."""
        return float(np.median(np.diff(self.stamps)[1:]))


class StepsOnly(FirstSteps):
    """:class:`FirstSteps` without the epoch's evaluation (a constant monitor): the steps alone."""

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        return {self.method.monitor: 0.0}


def denormal_steps(method, trainer, device, steps: int) -> dict[str, float]:
    """This process's median step over the first and the last 50 of ``steps`` patch CPC steps."""
    short = StepsOnly(method, steps)
    train(short, trainer.model_copy(update={"epochs": 1}), device)
    times = np.diff(short.stamps)
    return {"first50_step_s": float(np.median(times[1:51])), "last50_step_s": float(np.median(times[-50:]))}


def denormals(steps: int, mnist_root: str) -> dict[str, float]:
    """Patch CPC's steps with subnormal floats flushed (as every `kedro run` process does) and kept
    (``CPC_KEEP_SUBNORMALS=1``), each in a fresh process: the flag must be set before the threads exist."""
    row: dict[str, float] = {"steps": steps, "projected_s": 0.0}
    for key, env in (("subnormals_kept", {KEEP_SUBNORMALS: "1"}), ("flushed", {})):
        out = subprocess.run(
            [sys.executable, __file__, "--denormal-child", str(steps), "--mnist-root", mnist_root],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        )
        child = json.loads(out.stdout.strip().splitlines()[-1])
        row |= {f"{key}_{k}": v for k, v in child.items()}
    row["speedup_last50"] = row["subnormals_kept_last50_step_s"] / row["flushed_last50_step_s"]
    return row


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def method_flops(method, device: torch.device, seed: int) -> tuple[int, int]:
    """FLOPs of one training step (forward + backward) and of one epoch-end evaluation."""
    method.model.train()
    batch = next(iter(method.train_batches(0, epoch_generator(device, seed, 0))))

    def step() -> None:
        loss, _, _ = method.training_step(batch)
        loss.backward()

    step_flops = count_flops(step)
    method.model.zero_grad(set_to_none=True)
    method.model.eval()
    with torch.no_grad():
        eval_flops = count_flops(lambda: method.evaluate(epoch_generator(device, seed, 0)))
    return step_flops, eval_flops


def ranges(prof, names) -> dict[str, list[tuple[float, float]]]:
    """Each named profiler range's (start, end) intervals in µs."""
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for event in prof.events():
        if event.name in out:
            out[event.name].append((event.time_range.start, event.time_range.end))
    return out


def inside(intervals, outer) -> float:
    """Seconds of ``intervals`` that lie inside one of ``outer``."""
    return sum(e - s for s, e in intervals if any(os_ <= s and e <= oe for os_, oe in outer)) / 1e6


def loop_profile(method, trainer, device, steps: int) -> dict[str, float]:
    """``steps`` steps of the real loop and the evaluation: seconds per step and per evaluation (plain run),
    and the profiled run's shares of a step (per phase, and rendering and augmentation inside the batch
    phase) and of the evaluation (rendering)."""
    short = FirstSteps(method, steps)
    row = train(short, trainer, device).history[-1]
    step_s = short.step_seconds()
    eval_s = row["epoch_seconds"] - row["train_seconds"]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train(short, trainer, device)
    spans = ranges(prof, (*PHASES, *DATA))
    seconds = {name: sum(e - s for s, e in spans[name]) / 1e6 for name in PHASES}
    step_total = sum(seconds[name] for name in PHASES[:4])
    shares = {f"step_share_{name.split('.')[1]}": seconds[name] / step_total for name in PHASES[:4]}
    for name in DATA:
        shares[f"step_share_{name.split('.')[1]}"] = inside(spans[name], spans[PHASES[0]]) / step_total
    shares["eval_share_render"] = inside(spans["data.render"], spans[PHASES[4]]) / max(seconds[PHASES[4]], 1e-9)
    shares["profiler_overhead"] = short.step_seconds() / step_s - 1  # the profiled run's median step
    return {"step_s": step_s, "eval_s": eval_s, "profiled_steps": short.steps_per_epoch} | shares


def training_stage(
    method,
    trainer,
    device,
    steps: int,
    epochs: int,
    seed: int,
    peaks: dict[str, float],
    steps_total: int | None = None,
    evals_total: float | None = None,
) -> dict[str, float]:
    """One training stage's row: per-step and per-evaluation figures, projected to the default run; its share
    of the measured matmul peak of the precision it trains in (``trainer.bf16`` on this device)."""
    precision = "bf16" if uses_bf16(trainer.bf16, device) else "fp32"
    peak = peaks[precision]
    step_flops, eval_flops = method_flops(method, device, seed)
    figures = loop_profile(method, trainer, device, steps)
    steps_total = steps_total or epochs * method.steps_per_epoch
    evals_total = epochs if evals_total is None else evals_total
    seconds = steps_total * figures["step_s"] + evals_total * figures["eval_s"]
    flops = steps_total * step_flops + evals_total * eval_flops
    return figures | {
        "precision": precision,
        "peak_flop_s": peak,
        "steps": steps_total,
        "evaluations": evals_total,
        "step_flops": step_flops,
        "eval_flops": eval_flops,
        "step_flop_s": step_flops / figures["step_s"],
        "step_share_of_peak": step_flops / figures["step_s"] / peak,
        "projected_s": seconds,
        "flops": flops,
        "flop_s": flops / seconds,
        "share_of_peak": flops / seconds / peak,
        "eval_share_of_time": evals_total * figures["eval_s"] / seconds,
    }


def extraction(
    encoder,
    images: np.ndarray,
    rendering: RenderingConfig,
    probing: ProbingConfig,
    device,
    peak: float,
    total_images: int,
) -> dict[str, float]:
    """Frozen feature extraction of ``images`` (timed, FLOPs counted), projected to ``total_images``."""
    to_pictures = pictures_for(images, rendering, device)
    batch = probing.extraction_images_per_batch
    with torch.inference_mode():
        flops_per_image = count_flops(lambda: encoder(to_pictures(torch.as_tensor(images[:batch]), None))) / batch
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for pictures in picture_batches(images, to_pictures, 0, batch, device):
                encoder(pictures)
        profiled = time.perf_counter() - start
        start = time.perf_counter()
        for pictures in picture_batches(images, to_pictures, 0, batch, device):
            encoder(pictures)
        seconds = time.perf_counter() - start
    render = sum(e - s for s, e in ranges(prof, ["data.render"])["data.render"]) / 1e6 / profiled
    per_image = seconds / len(images)
    return {
        "images_per_s": 1 / per_image,
        "flops_per_image": flops_per_image,
        "share_render": render,
        "images": total_images,
        "projected_s": per_image * total_images,
        "flops": flops_per_image * total_images,
        "flop_s": flops_per_image / per_image,
        "share_of_peak": flops_per_image / per_image / peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12, help="training steps timed per stage (at least 3)")
    parser.add_argument("--extraction-images", type=int, default=4096, help="images timed per feature extraction")
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--denormal-steps", type=int, default=300, help="patch CPC steps, flushed and not")
    parser.add_argument("--denormal-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, help="measure only these parts")
    args = parser.parse_args()
    params = default_parameters()
    rendering = RenderingConfig.model_validate(params["rendering"])
    probing = ProbingConfig.model_validate(params["probing"])
    splits, train_table, val_table = mnist_cpc_tables(params, args.mnist_root)
    as_dict = lambda s: {"images": s.images, "labels": s.labels}  # noqa: E731
    image_inputs = ImageInputs(as_dict(splits.train), as_dict(splits.validation), rendering)
    device = pick_device(probing.device)
    if args.denormal_child:  # one side of the "denormals" part, in its own process
        cfg = PatchCPCConfig.model_validate(override(params["patch_cpc"], QUIET))
        method, _ = build_patch_cpc(image_inputs, cfg)
        print(json.dumps(denormal_steps(method, cfg.trainer, device, args.denormal_child)))
        return
    peaks = {name: matmul_peak(device, dtype, 5) for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    peak = peaks["fp32"]  # feature extraction runs in fp32
    print(", ".join(f"{name} matmul peak {p / 1e9:.1f} GFLOP/s" for name, p in peaks.items()), flush=True)
    rows: dict[str, dict] = {}

    def report(name: str, row: dict) -> None:
        rows[name] = row
        print(
            f"{name:<24} {row['projected_s']:8.1f} s projected  {row['flops'] / 1e12:7.2f} TFLOP  "
            f"{row['flop_s'] / 1e9:6.1f} GFLOP/s ({row['share_of_peak']:.0%} of peak)",
            flush=True,
        )

    if "denormals" in args.parts:  # patch CPC's steps with subnormal floats flushed and kept
        rows["patch_cpc, subnormal floats"] = denormals(args.denormal_steps, args.mnist_root)
        print("patch_cpc, subnormal floats:", rows["patch_cpc, subnormal floats"], flush=True)

    if "augment" in args.parts:  # SimCLR's colour jitter, both ways BatchAugment.colour can run it
        cfg = SimCLRConfig.model_validate(params["simclr"])
        augment = BatchAugment(cfg.objective.augment)
        pictures = (
            pictures_for(splits.train.images, rendering, device)(
                torch.as_tensor(splits.train.images[:256], device=device), None
            )
            + 1
        ) / 2
        gen = torch.Generator(device=device).manual_seed(0)
        rows["colour jitter, 256 images"] = {
            f"{name}_s": timed(lambda: augment.colour(pictures, gen, subset=subset), device, 5)["median_s"]
            for name, subset in (("every_image", False), ("chosen_images", True))
        } | {"projected_s": 0.0}
        print("colour jitter, 256 images:", rows["colour jitter, 256 images"], flush=True)

    # ---- the three pretraining stages
    if "pretraining" in args.parts:
        cfg = PretrainingConfig.model_validate(override(params["pretraining"], QUIET))
        method, _ = build_cpc(
            CPCInputs(
                splits.train,
                splits.validation,
                train_table,
                val_table,
                SequenceConfig.model_validate(params["sequences"]),
                rendering,
            ),
            cfg,
        )
        report(
            "pretraining (CPC)",
            training_stage(
                method,
                cfg.trainer.model_copy(update={"epochs": 1}),
                device,
                args.steps,
                cfg.trainer.epochs,
                cfg.trainer.seed,
                peaks,
            ),
        )
    for stage, config_class, build in (
        ("simclr", SimCLRConfig, build_simclr),
        ("patch_cpc", PatchCPCConfig, build_patch_cpc),
    ):
        if stage not in args.parts:
            continue
        cfg = config_class.model_validate(override(params[stage], QUIET))
        method, _ = build(image_inputs, cfg)
        report(
            stage,
            training_stage(
                method,
                cfg.trainer.model_copy(update={"epochs": 1}),
                device,
                args.steps,
                cfg.trainer.epochs,
                cfg.trainer.seed,
                peaks,
            ),
        )

    # ---- probing: the supervised baseline at every label fraction, profiled at the largest
    spec = EncoderSpec.model_validate(params["pretraining"]["model"]["encoder"])
    renderer = pictures_for(splits.train.images, rendering, device)
    fractions = sorted(probing.probes.label_fractions)
    built = [
        supervised_method(
            splits.train, splits.validation, renderer, spec, f, probing.supervised, probing.probes.seed, device
        )
        for f in fractions
    ]
    steps_total = sum(trainer.epochs * method.steps_per_epoch for method, trainer, _ in built)
    # evaluations scale with each fraction's validation labels; + one test prediction (10,000 images) each
    evals = sum(trainer.epochs * len(method.val_y) + len(splits.test.labels) for method, trainer, _ in built) / len(
        splits.validation.labels
    )
    method, trainer, _ = built[-1]
    if "supervised" in args.parts:
        report(
            "supervised baseline",
            training_stage(
                method,
                trainer.model_copy(update={"epochs": 1, "log_epochs": False}),
                device,
                args.steps,
                trainer.epochs,
                trainer.seed,
                peaks,
                steps_total,
                evals,
            ),
        )

    # ---- probing: features of every encoder, the random encoder's statistics, the probes
    seed_everything(probing.random_encoder_seed)
    reference = spec.build(rendering.channels, rendering.image_size).to(device)
    n_stats = probing.random_encoder_statistics_images
    all_images = sum(len(s.labels) for s in (splits.train, splits.validation, splits.test))
    sample = splits.train.images[: args.extraction_images]
    start = time.perf_counter()
    estimate_batchnorm_statistics(
        reference, picture_batches(sample, renderer, 0, probing.extraction_images_per_batch, device)
    )
    stats_s = (time.perf_counter() - start) / len(sample) * n_stats
    reference = freeze(reference)
    row = extraction(reference, sample, rendering, probing, device, peak, 4 * all_images)
    row["projected_s"] += stats_s  # the random encoder's BatchNorm statistics: a forward pass over n_stats images
    if "features" in args.parts:
        report("features, 4 reference encoders", row)
        patch_spec = EncoderSpec.model_validate(params["patch_cpc"]["model"]["encoder"])
        patch_encoder = freeze(patch_spec.build(rendering.channels, rendering.image_size).to(device))
        report(
            "features, patch encoder", extraction(patch_encoder, sample, rendering, probing, device, peak, all_images)
        )
    if "probes" not in args.parts:
        write(rows, args, device, peaks)
        return

    features = split_features(
        reference, (as_dict(splits.train), as_dict(splits.validation), as_dict(splits.test)), rendering, probing, device
    )
    probe_rows = {}
    for probe in probing.probes.probes:
        config = probing.probes.model_copy(update={"probes": [probe]})
        start = time.perf_counter()
        run_probes(features, config, device)
        probe_rows[probe] = time.perf_counter() - start
        print(f"probe {probe}: {probe_rows[probe]:.1f} s per encoder (every label fraction)", flush=True)
    encoders = 5
    rows["probes, 5 encoders"] = {"per_encoder_s": probe_rows, "projected_s": encoders * sum(probe_rows.values())}
    write(rows, args, device, peaks)


def write(rows: dict, args, device: torch.device, peaks: dict[str, float]) -> None:
    total = sum(r["projected_s"] for r in rows.values())
    print(f"{'total (projected work)':<24} {total:8.1f} s", flush=True)
    write_results(
        f"stage_efficiency_{device.type}",
        {
            "machine": machine_info(device),
            "config": vars(args),
            "matmul_peak_fp32_flop_s": peaks["fp32"],
            "matmul_peak_bf16_flop_s": peaks["bf16"],
            "results": rows,
            "projected_total_s": total,
        },
    )


if __name__ == "__main__":
    main()
