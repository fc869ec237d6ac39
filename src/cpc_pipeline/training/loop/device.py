"""Where and how a run computes: the device, seeding, bf16 autocast, deterministic kernels, each epoch's generator."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from cpc_pipeline.training import distributed
from cpc_pipeline.training.loop.config import TrainerConfig


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
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
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


class ComputeSettings(Protocol):
    """Any parameter block that says how to compute: ``trainer`` blocks, the supervised baseline's."""

    channels_last: bool
    bf16: bool | str


@dataclass(frozen=True)
class Compute:
    """Where and how a model computes, resolved once: its device, the memory layout of its weights and pictures, and
    whether it runs under bf16 autocast. The one home of these settings: the loop, the methods' batch builders and
    validation, and the supervised baseline all take them from here."""

    device: torch.device
    channels_last: bool = False
    bf16: bool = False  # resolved for this device (:func:`uses_bf16`)

    @classmethod
    def of(cls, settings: ComputeSettings, device: torch.device) -> Compute:
        return cls(device, settings.channels_last, uses_bf16(settings.bf16, device))

    @property
    def layout(self) -> torch.memory_format:
        """The pictures' memory format: channels innermost, or plain."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def place(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` on the device, its convolution weights in the layout."""
        return module.to(
            self.device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format
        )

    def autocast(self) -> torch.autocast:
        """bf16 autocast where it is on, a no-op elsewhere."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
