"""``probing.probes``: which probes run, at which label fractions, with which hyperparameter grids."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cpc_pipeline.config import StrictModel

PROBES = ("mlp", "linear", "knn")


class MLPProbeConfig(StrictModel):
    hidden: int = Field(128, ge=1)
    norm: Literal["batch", "layer", "none"] = "batch"
    epochs: int = Field(15, ge=1)
    features_per_batch: int = Field(64, ge=2)
    learning_rate: float = Field(1e-3, gt=0)


class LinearProbeConfig(StrictModel):
    c_grid: list[float] = Field([0.001, 0.01, 0.1, 1.0, 10.0, 100.0], min_length=1)  # inverse L2 strengths
    max_iter: int = Field(500, ge=10)  # L-BFGS iterations per C
    solver: Literal["torch", "sklearn"] = "torch"  # full-batch L-BFGS in torch, warm-started along the grid

    @field_validator("c_grid")
    @classmethod
    def _positive(cls, grid: list[float]) -> list[float]:
        if any(c <= 0 for c in grid) or len(set(grid)) < len(grid):
            raise ValueError(f"c_grid must hold distinct positive strengths, got {grid}")
        return grid


class KNNProbeConfig(StrictModel):
    k_grid: list[int] = Field([1, 5, 20], min_length=1)


class ProbeConfig(StrictModel):
    probes: list[Literal["mlp", "linear", "knn"]] = Field(list(PROBES), min_length=1)
    label_fractions: list[float] = Field([0.01, 0.1, 1.0], min_length=1)
    mlp: MLPProbeConfig = MLPProbeConfig()
    linear: LinearProbeConfig = LinearProbeConfig()
    knn: KNNProbeConfig = KNNProbeConfig()
    seed: int = Field(0, ge=0)

    @field_validator("label_fractions")
    @classmethod
    def _fractions(cls, fractions: list[float]) -> list[float]:
        bad = [f for f in fractions if not 0 < f <= 1]
        if bad:
            raise ValueError(f"label_fractions must lie in (0, 1], got {bad}")
        return fractions
