"""Validated settings of the digit data, shared by every pipeline that reads or renders digits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.folder import FolderSourceConfig, check_folder_named

SPLITS = ("train", "validation", "test")  # every split, in this order wherever a seed depends on it


class SourceConfig(StrictModel):
    """``params:source``: the run's pictures. MNIST, Fashion-MNIST or the 8x8 digits (28x28 grey, ten classes, drawn
    by the renderer), or ``folder``: your own pictures as they are (``folder``: :class:`FolderSourceConfig`)."""

    name: Literal["mnist", "fashion_mnist", "sklearn_digits", "folder"] = "mnist"
    folder: FolderSourceConfig | None = None
    roots: list[str] = Field(default_factory=lambda: ["data/01_raw"], min_length=1)
    download: bool = True
    fallback_to_sklearn_digits: bool = True
    validation_size: int = Field(10_000, ge=1, le=59_999)
    download_timeout_s: float = Field(30.0, gt=0)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _folder_named(self) -> SourceConfig:
        check_folder_named("name", self.name, self.folder)
        return self


class SequenceConfig(StrictModel):
    terms: int = Field(4, ge=1, le=64)
    predict_terms: int = Field(4, ge=1, le=64)
    train_sequences: int = Field(390 * 32, ge=2)
    validation_sequences: int = Field(78 * 32, ge=2)
    test_sequences: int = Field(78 * 32, ge=2)
    seed: int = Field(0, ge=0)

    @property
    def length(self) -> int:
        return self.terms + self.predict_terms

    def table_size(self, split: str) -> int:
        return {"train": self.train_sequences, "validation": self.validation_sequences, "test": self.test_sequences}[
            split
        ]

    def table_seed(self, split: str) -> int:
        """Each split's fixed table has its own seed: ``seed`` + the split's place in SPLITS."""
        return self.seed + SPLITS.index(split)


class RenderingConfig(StrictModel):
    image_size: int = Field(64, ge=8, le=512)
    color: bool = True
    texture_size: int = Field(256, ge=8, le=4096)
    texture_seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _texture_holds_a_crop(self) -> RenderingConfig:
        if self.color and self.texture_size < self.image_size:
            raise ValueError(f"texture_size ({self.texture_size}) must be >= image_size ({self.image_size})")
        return self

    @property
    def channels(self) -> int:
        return 3 if self.color else 1


class PreviewConfig(StrictModel):
    """The rendered sample sequences of the data_processing stage."""

    sequences_per_label: int = Field(3, ge=1, le=16)
    seed: int = Field(0, ge=0)
