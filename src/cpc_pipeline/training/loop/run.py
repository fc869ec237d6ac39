"""The loop itself: epochs of steps, metrics on the device, evaluation, schedules, checkpoints, early stopping."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from cpc_pipeline.errors import CheckpointError
from cpc_pipeline.training import distributed
from cpc_pipeline.training.loop import checkpoint as ckpt_io
from cpc_pipeline.training.loop.config import Method, TrainerConfig
from cpc_pipeline.training.loop.device import (
    EVAL_EPOCH,
    Compute,
    deterministic_algorithms,
    epoch_generator,
    wants_determinism,
)
from cpc_pipeline.training.loop.optimizer import make_optimizer

logger = logging.getLogger(__name__)

# torch.profiler ranges the loop opens, in step order (benchmarks/stage_efficiency.py reads them): making a
# batch, the method's forward and loss, the backward pass, the optimiser and schedule, the epoch's evaluation
PHASES = ("train.batch", "train.forward", "train.backward", "train.optimizer", "train.evaluate")


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    resumed_from_epoch: int | None = None


def train(
    method: Method,
    config: TrainerConfig,
    device: torch.device,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``method.model`` (already on ``device``) for ``config.epochs`` epochs: resume, then per epoch the
    steps, the evaluation and schedule, the record (log, callback, checkpoint), and the early stop."""
    with deterministic_algorithms(wants_determinism(config, device)):
        run = _Run(method, config, Compute.of(config, device))
        result = run.resume() if config.resume else TrainResult()
        for epoch in range(result.resumed_from_epoch or 0, config.epochs):
            if _reached(result.history, config):  # a resumed run that had already reached its target
                break
            row = run.evaluate(*run.train_epoch(epoch))
            result.history.append(row)
            run.record(epoch, row, result.history, on_epoch_end)
            if _reached(result.history, config):
                result.stopped_early = epoch + 1 < config.epochs
                logger.info("%s reached %s: stopping", config.early_stop_metric, config.early_stop_target)
                break
        return result


@dataclass(frozen=True)
class _Steps:
    """An epoch's steps: start, number, items, seconds, forward + backward FLOPs here (the first's x number)."""

    started: float
    count: int
    items: int
    seconds: float
    flops: float


class _Run:
    """One training run's state and its phases: what :func:`train` strings together."""

    def __init__(self, method: Method, config: TrainerConfig, compute: Compute) -> None:
        self.method, self.config, self.compute = method, config, compute
        if compute.device.type == "cpu":  # pinned: CPU kernels split their reductions by the thread count
            torch.set_num_threads(config.num_threads or torch.get_num_threads())
        self.threads = torch.get_num_threads()
        self.optimizer, self.scheduler = make_optimizer(method.model, config, method.steps_per_epoch)
        if config.checkpoint_path and distributed.local_rank() == 0:  # room for the weights and two Adam moments
            weights = sum(p.numel() * p.element_size() for p in method.model.state_dict().values())
            ckpt_io.check_checkpoint_writable(config.checkpoint_path, 3 * weights)
        self.per_step = config.schedule != "plateau"
        if compute.bf16 and compute.device.type == "cpu":
            logger.info(
                "Training under bf16 autocast on the CPU (bf16 matrix units); trainer.bf16: cuda or false for fp32"
            )
        # a live bar on a terminal only: in a log file its updates are fragments, and each epoch's INFO line says it all
        self.show_bar = config.progress and sys.stderr.isatty()
        self.step = method.training_step
        self.flops_per_step: float | None = None  # counted on this run's first step (torch's FlopCounterMode)
        if config.compile:
            try:
                self.step = torch.compile(method.training_step)
            except Exception as err:  # noqa: BLE001 - compile is an optimisation, never a requirement
                logger.warning("torch.compile unavailable (%s); training eagerly", err)

    def resume(self) -> TrainResult:
        """The model, optimiser, schedule, RNG and history of ``trainer.checkpoint_path``, where it stopped."""
        config, device = self.config, self.compute.device
        ckpt = ckpt_io.load_checkpoint(config.checkpoint_path, device)
        try:
            self.method.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(
                f"checkpoint {config.checkpoint_path} does not fit this run ({type(err).__name__}: "
                f"{str(err).splitlines()[0]}): it was written for another model or optimiser. Nothing was changed; "
                "point trainer.checkpoint_path elsewhere, or set trainer.resume to false to start afresh"
            ) from err
        ckpt_io._set_rng_state(ckpt["rng"])
        logger.info("Resumed from %s after epoch %d", config.checkpoint_path, ckpt["epoch"])
        if device.type == "cpu" and ckpt.get("threads", self.threads) != self.threads:
            logger.warning(
                "The checkpoint was written with %d CPU threads, this run has %d: the resumed run can "
                "differ from an uninterrupted one in the last bits (set trainer.num_threads)",
                ckpt["threads"],
                self.threads,
            )
        return TrainResult(history=ckpt["history"], resumed_from_epoch=ckpt["epoch"] + 1)

    def train_epoch(self, epoch: int) -> tuple[dict[str, float], _Steps]:
        """One epoch of steps -> its row so far (epoch, train metrics summed on the device, read once), its steps."""
        method, config, compute = self.method, self.config, self.compute
        method.model.train()
        generator = epoch_generator(compute.device, config.seed, epoch, distributed.rank())
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        started = time.perf_counter()
        items = 0
        bar = tqdm(
            _labelled(method.train_batches(epoch, generator), PHASES[0]),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            total=method.steps_per_epoch,  # so the bar shows an ETA
            disable=not self.show_bar,
            leave=False,
            mininterval=2.0,
        )
        for i, batch in enumerate(bar):
            counting = self.flops_per_step is None
            with FlopCounterMode(display=False) if counting else contextlib.nullcontext() as counter:
                with torch.profiler.record_function(PHASES[1]), compute.autocast():
                    loss, metrics, n = self.step(batch)
                with torch.profiler.record_function(PHASES[2]):
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
            self.flops_per_step = float(counter.get_total_flops()) if counting else self.flops_per_step  # once a run
            with torch.profiler.record_function(PHASES[3]):
                self.optimizer.step()
                if self.per_step:
                    self.scheduler.step()
            items += n
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0) + v.detach()
                counts[k] = counts.get(k, 0) + n
            if self.show_bar and i % 20 == 0:  # the only host sync inside the epoch
                bar.set_postfix(
                    loss=f"{(sums['loss'] / counts['loss']).item():.3f}",
                    acc=f"{(sums['accuracy'] / counts['accuracy']).item():.3f}",
                    **{f"{method.items_name}/s": f"{items / (time.perf_counter() - started):.0f}"},
                )
        steps = _Steps(started, i + 1, items, time.perf_counter() - started, (self.flops_per_step or 0.0) * (i + 1))
        return {"epoch": epoch + 1, **{f"train_{k}": float(v / counts[k]) for k, v in sums.items()}}, steps

    def evaluate(self, row: dict[str, float], steps: _Steps) -> dict[str, float]:
        """``row`` with the validation metrics, the plateau schedule's step, the learning rate and the timings."""
        method, compute = self.method, self.compute
        method.model.eval()
        with torch.no_grad(), compute.autocast(), torch.profiler.record_function(PHASES[4]):
            row |= {
                f"val_{k}": v
                for k, v in method.evaluate(epoch_generator(compute.device, self.config.seed, EVAL_EPOCH)).items()
            }
        if not self.per_step:
            self.scheduler.step(row[f"val_{method.monitor}"])
        row |= {
            "learning_rate": self.optimizer.param_groups[0]["lr"],
            "train_seconds": steps.seconds,
            "epoch_seconds": time.perf_counter() - steps.started,
            f"train_{method.items_name}_per_s": steps.items / steps.seconds,
            "train_flops": steps.flops * distributed.world_size(),  # forward and backward, every process's
            "train_steps": steps.count,  # x the global batch below: what the epoch saw (curves' images_seen)
            "world_size": distributed.world_size(),  # throughputs and train metrics are over the global batch
            **method.global_batch(),
        }
        if compute.device.type == "cuda":
            row["gpu_peak_memory_mib"] = torch.cuda.max_memory_allocated(compute.device) / 2**20
        return row

    def record(self, epoch: int, row: dict[str, float], history: list[dict[str, float]], on_epoch_end) -> None:
        """The epoch's log line, the caller's callback, and the checkpoint (each machine's first process)."""
        logger.log(
            logging.INFO if self.config.log_epochs else logging.DEBUG,
            "epoch %d: %s",
            epoch + 1,
            ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch" and not math.isnan(v)),
        )
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if self.config.checkpoint_path and distributed.local_rank() == 0:
            ckpt_io.save_checkpoint(
                self.config.checkpoint_path,
                model=self.method.model.state_dict(),
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                rng=ckpt_io._rng_state(),
                history=history,
                epoch=epoch,
                threads=self.threads,
            )


def _labelled(batches: Iterable[Any], name: str) -> Iterator[Any]:
    """``batches`` with every ``next`` inside a profiler range: making a batch (sampling, rendering,
    augmenting) runs lazily in the method's generator, so without this torch.profiler would blame it on
    whatever the loop happened to be doing."""
    iterator = iter(batches)
    while True:
        with torch.profiler.record_function(name):
            batch = next(iterator, _END)
        if batch is _END:
            return
        yield batch


_END = object()


def _reached(history: list[dict[str, float]], config: TrainerConfig) -> bool:
    if not history or config.early_stop_metric is None:
        return False
    if config.early_stop_metric not in history[-1]:
        raise KeyError(
            f"early_stop_metric {config.early_stop_metric!r} is not reported; choose one of {sorted(history[-1])}"
        )
    return history[-1][config.early_stop_metric] >= config.early_stop_target
