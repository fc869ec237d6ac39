"""One training loop for every method: device, bf16 autocast, compile, checkpoint/resume, progress,
per-epoch metrics through a callback, learning-rate schedules, early stopping and determinism.

A *method* (CPC, SimCLR, ...) supplies the model, its batches and its loss; the loop owns everything
else. Metrics are accumulated on the device and read back once per epoch (and at the progress bar's
refresh), so the inner loop never waits for the host.

Determinism (``deterministic``, on by default on the CPU): every random draw of a method comes from the
generator the loop hands it, seeded by ``(seed, epoch)``; initialisation comes from the seeded global
RNG; the thread count is pinned; and ``torch.use_deterministic_algorithms`` makes PyTorch choose
kernels that reduce in a fixed order. Without the last, two identical CPU runs drift apart in the low
bits after a few steps (measured: the gradient of the gather ``codes[sequences]`` accumulates in a
thread-dependent order) and end at visibly different losses. With it, two runs with the same seed and
configuration give identical weights, and a resumed run equals the uninterrupted one bit for bit.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn
from tqdm.auto import tqdm

from cpc_pipeline.config import StrictModel
from cpc_pipeline.errors import CheckpointError
from cpc_pipeline.training import distributed
from cpc_pipeline.training.distributed import DistributedConfig

logger = logging.getLogger(__name__)

# torch.profiler ranges the loop opens, in step order (benchmarks/stage_efficiency.py reads them): making a
# batch, the method's forward and loss, the backward pass, the optimiser and schedule, the epoch's evaluation
PHASES = ("train.batch", "train.forward", "train.backward", "train.optimizer", "train.evaluate")


class TrainerConfig(StrictModel):
    epochs: int = Field(10, ge=1, le=10_000)
    learning_rate: float = Field(1e-3, gt=0, le=10)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(0.9, ge=0, lt=1)  # sgd only
    schedule: Literal["plateau", "warmup_cosine"] = "plateau"  # plateau: per epoch on val monitor
    warmup_epochs: int = Field(0, ge=0)  # warmup_cosine: linear warmup, then cosine decay per step to 0
    plateau_factor: float = Field(1 / 3, gt=0, lt=1)
    plateau_patience: int = Field(2, ge=0)
    min_learning_rate: float = Field(1e-4, ge=0)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    bf16: bool | Literal["cuda"] = "cuda"  # bf16 autocast: on CUDA only | true: also on a CPU with AMX | false
    compile: bool = False  # torch.compile the model (falls back to eager if it fails)
    channels_last: bool = True
    num_threads: int | None = Field(None, ge=1)  # CPU intra-op threads; None = torch's default, pinned
    deterministic: bool | Literal["auto"] = "auto"  # auto: on for the CPU, off on CUDA (README: the cost)
    seed: int = Field(0, ge=0)
    checkpoint_path: str | None = "data/06_models/cpc_checkpoint.pt"
    resume: bool = False
    early_stop_metric: str | None = None  # e.g. val_sequence_accuracy
    early_stop_target: float | None = None  # stop once the metric reaches this value
    progress: bool = True  # a progress bar with an ETA when stderr is a terminal
    log_epochs: bool = True  # one INFO line per epoch (False: DEBUG, for many short probe fits)
    distributed: DistributedConfig = DistributedConfig()  # processes that train together (default: one)

    @model_validator(mode="after")
    def _consistent(self) -> TrainerConfig:
        if self.resume and not self.checkpoint_path:
            raise ValueError("resume is true but checkpoint_path is empty")
        if self.resume and not Path(self.checkpoint_path).is_file():
            raise ValueError(f"resume is true but there is no checkpoint at {self.checkpoint_path}")
        if self.schedule == "warmup_cosine" and self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs})")
        if (self.early_stop_metric is None) != (self.early_stop_target is None):
            raise ValueError("early_stop_metric and early_stop_target must be set together")
        return self


class Method(Protocol):
    """What the loop needs from a training method."""

    model: nn.Module
    monitor: str  # validation metric the plateau schedule watches (lower is better)
    items_name: str  # what a throughput counts, e.g. "sequences"
    steps_per_epoch: int  # optimiser steps per epoch (the per-step schedules need it)

    def global_batch(self) -> dict[str, int]:
        """What one step covers across all processes, e.g. ``{"global_images_per_batch": 512}``."""

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterable[Any]: ...

    def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        """-> (loss, metric sums as 0-d device tensors, number of items the sums are over)."""

    def evaluate(self, generator: torch.Generator) -> dict[str, float]: ...


def pick_device(name: str = "auto") -> torch.device:
    """``cuda`` > ``mps`` > ``cpu`` for ``auto``; an explicit device that is missing is an error."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        raise RuntimeError(f"device {name!r} was asked for but is not available here")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_process(config: TrainerConfig, *inputs: Any) -> torch.device:
    """This process's training device, the global RNG seeded (every rank initialises the same weights). In a
    launched worker (``config.distributed``) it first joins the process group and compares its ``inputs``
    (data and configuration) with rank 0's."""
    device = pick_device(config.device)
    if config.distributed.enabled:
        device = distributed.init_worker(config.distributed, device)
        distributed.check_same_inputs(*inputs)
    seed_everything(config.seed)
    return device


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (Intel AMX tiles), where oneDNN's bf16
    convolutions and matmuls run several times faster than fp32 ones; elsewhere bf16 on the CPU is emulated
    and slower than fp32. ``torch.cpu._is_amx_tile_supported`` is private, so its absence means no."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe and probe() and torch.backends.mkldnn.is_available())


def uses_bf16(setting: bool | str, device: torch.device) -> bool:
    """Whether training runs under bf16 autocast: ``"cuda"`` on CUDA only; ``True`` on CUDA and on a CPU with
    bf16 matrix units (:func:`cpu_has_bf16_matrix_units`; other devices and CPUs train in fp32); ``False`` never.
    Losses and similarities stay float32 either way (:mod:`cpc_pipeline.losses.precision`)."""
    if setting is False:
        return False
    if device.type == "cuda":
        return True
    return setting is True and device.type == "cpu" and cpu_has_bf16_matrix_units()


def wants_determinism(config: TrainerConfig, device: torch.device) -> bool:
    return device.type != "cuda" if config.deterministic == "auto" else config.deterministic


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """``torch.use_deterministic_algorithms(enabled)`` (and cuDNN's matching flags) for the block only:
    the setting is process-wide, and a probe or a test run afterwards must not inherit it."""
    if enabled:  # cuBLAS needs a fixed workspace for reproducible matmuls; read when cuBLAS starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and before[3]
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2], before[3]


EVAL_EPOCH = 10**6  # validation draws the same renders every epoch


def epoch_generator(device: torch.device, seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    """Each epoch's randomness depends only on (seed, epoch, rank): a resumed run draws the same data, and
    each process of a distributed run draws its own (rank 0 draws what one process would)."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch + (rank << 40))


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    resumed_from_epoch: int | None = None


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Atomic: a crash while writing never leaves a half checkpoint behind (nor do two writers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")  # machines sharing a disk never share a tmp file
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: torch.device) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, or one error that names the file and says what to do."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
        missing = {"model", "optimizer", "scheduler", "rng", "history", "epoch"} - set(ckpt)
    except Exception as err:  # noqa: BLE001 - unpickling fails in many ways; all mean a damaged file
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}): "
            "it is damaged or not a checkpoint. Nothing was changed; move it aside and set trainer.resume to false "
            "to start afresh"
        ) from err
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {sorted(missing)}: it was not written by this project's "
                              "training loop. Set trainer.resume to false, or point trainer.checkpoint_path at one")
    return ckpt


def make_optimizer(model: nn.Module, config: TrainerConfig, steps_per_epoch: int):
    """Adam + plateau (the reference CPC's) or SGD/Adam + linear warmup and per-step cosine decay."""
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.schedule == "plateau":
        return optimizer, torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience,
            min_lr=config.min_learning_rate,
        )
    warm, total = config.warmup_epochs * steps_per_epoch, config.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train(
    method: Method,
    config: TrainerConfig,
    device: torch.device,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``method.model`` (already on ``device``) for ``config.epochs`` epochs."""
    with deterministic_algorithms(wants_determinism(config, device)):
        return _train(method, config, device, on_epoch_end)


def _train(method: Method, config: TrainerConfig, device: torch.device, on_epoch_end) -> TrainResult:
    model = method.model
    if device.type == "cpu":  # pinned: CPU kernels split their reductions by the thread count
        torch.set_num_threads(config.num_threads or torch.get_num_threads())
    threads = torch.get_num_threads()
    optimizer, scheduler = make_optimizer(model, config, method.steps_per_epoch)
    per_step = config.schedule != "plateau"
    result = TrainResult()
    start_epoch = 0
    if config.resume:
        ckpt = load_checkpoint(config.checkpoint_path, device)
        try:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(
                f"checkpoint {config.checkpoint_path} does not fit this run ({type(err).__name__}: "
                f"{str(err).splitlines()[0]}): it was written for another model or optimiser. Nothing was changed; "
                "point trainer.checkpoint_path elsewhere, or set trainer.resume to false to start afresh"
            ) from err
        _set_rng_state(ckpt["rng"])
        result.history = ckpt["history"]
        start_epoch = ckpt["epoch"] + 1
        result.resumed_from_epoch = start_epoch
        logger.info("Resumed from %s after epoch %d", config.checkpoint_path, ckpt["epoch"])
        if device.type == "cpu" and ckpt.get("threads", threads) != threads:
            logger.warning("The checkpoint was written with %d CPU threads, this run has %d: the resumed run can "
                           "differ from an uninterrupted one in the last bits (set trainer.num_threads)",
                           ckpt["threads"], threads)

    use_bf16 = uses_bf16(config.bf16, device)
    if use_bf16 and device.type == "cpu":
        logger.info("Training under bf16 autocast on the CPU (bf16 matrix units); trainer.bf16: cuda or false for fp32")
    # a live bar on a terminal only: in a log file its updates are fragments, and each epoch's INFO line says it all
    show_bar = config.progress and sys.stderr.isatty()
    step = method.training_step
    if config.compile:
        try:
            step = torch.compile(method.training_step)
        except Exception as err:  # noqa: BLE001 - compile is an optimisation, never a requirement
            logger.warning("torch.compile unavailable (%s); training eagerly", err)

    for epoch in range(start_epoch, config.epochs):
        if _reached(result.history, config):  # a resumed run that had already reached its target
            break
        model.train()
        generator = epoch_generator(device, config.seed, epoch, distributed.rank())
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        started = time.perf_counter()
        items = 0
        bar = tqdm(
            _labelled(method.train_batches(epoch, generator), PHASES[0]),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            total=method.steps_per_epoch,  # so the bar shows an ETA
            disable=not show_bar,
            leave=False,
            mininterval=2.0,
        )
        for i, batch in enumerate(bar):
            with torch.profiler.record_function(PHASES[1]), torch.autocast(device.type, dtype=torch.bfloat16,
                                                                           enabled=use_bf16):
                loss, metrics, n = step(batch)
            with torch.profiler.record_function(PHASES[2]):
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            with torch.profiler.record_function(PHASES[3]):
                optimizer.step()
                if per_step:
                    scheduler.step()
            items += n
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0) + v.detach()
                counts[k] = counts.get(k, 0) + n
            if show_bar and i % 20 == 0:  # the only host sync inside the epoch
                rate = items / (time.perf_counter() - started)
                bar.set_postfix(
                    loss=f"{(sums['loss'] / counts['loss']).item():.3f}",
                    acc=f"{(sums['accuracy'] / counts['accuracy']).item():.3f}",
                    **{f"{method.items_name}/s": f"{rate:.0f}"},
                )
        train_seconds = time.perf_counter() - started
        row: dict[str, float] = {"epoch": epoch + 1}
        row |= {f"train_{k}": float(v / counts[k]) for k, v in sums.items()}
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16), \
                torch.profiler.record_function(PHASES[4]):
            row |= {f"val_{k}": v for k, v in method.evaluate(epoch_generator(device, config.seed, EVAL_EPOCH)).items()}
        if not per_step:
            scheduler.step(row[f"val_{method.monitor}"])
        row |= {
            "learning_rate": optimizer.param_groups[0]["lr"],
            "train_seconds": train_seconds,
            "epoch_seconds": time.perf_counter() - started,
            f"train_{method.items_name}_per_s": items / train_seconds,
        }
        if distributed.is_distributed():  # throughputs and train metrics above are over the global batch
            row |= {"world_size": distributed.world_size(), **method.global_batch()}
        if device.type == "cuda":
            row["gpu_peak_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        result.history.append(row)
        logger.log(
            logging.INFO if config.log_epochs else logging.DEBUG, "epoch %d: %s", epoch + 1,
            ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch" and not math.isnan(v)),
        )
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if config.checkpoint_path and distributed.local_rank() == 0:  # each machine's first process
            save_checkpoint(
                config.checkpoint_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(), rng=_rng_state(), history=result.history, epoch=epoch,
                threads=threads,
            )
        if _reached(result.history, config):
            result.stopped_early = epoch + 1 < config.epochs
            logger.info("%s reached %s: stopping", config.early_stop_metric, config.early_stop_target)
            break
    return result


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
            f"early_stop_metric {config.early_stop_metric!r} is not reported; "
            f"choose one of {sorted(history[-1])}"
        )
    return history[-1][config.early_stop_metric] >= config.early_stop_target
