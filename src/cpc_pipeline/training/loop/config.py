"""The loop's parameters (``trainer:`` of every method) and what it needs from a method."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from pydantic import Field, model_validator
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.training.distributed import DistributedConfig


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
    deterministic: bool | Literal["auto"] = "auto"  # auto: on for the CPU, off on CUDA (docs/reproducibility.md)
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
