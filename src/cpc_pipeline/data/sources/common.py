"""What every source returns: train, validation and test splits of uint8 28x28 images with their labels, and
the name and location of the source actually used; the IDX files' names, and the one error for bad data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpc_pipeline.errors import UserError

SOURCES = ("mnist", "fashion_mnist", "sklearn_digits")
SOURCE_NAMES = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "sklearn_digits": "scikit-learn's 8x8 digits",
    "folder": "folder",
}

# name -> (IDX magic number, number of items); images are 28x28.
MNIST_FILES: dict[str, tuple[int, int]] = {
    "train-images-idx3-ubyte": (2051, 60_000),
    "train-labels-idx1-ubyte": (2049, 60_000),
    "t10k-images-idx3-ubyte": (2051, 10_000),
    "t10k-labels-idx1-ubyte": (2049, 10_000),
}


class DataSourceError(UserError):
    """A digit source is missing, unreachable or corrupt; the message says which file and what to do."""


def check_labels(labels: np.ndarray, path: str | Path, dataset: str, classes: int = 10) -> None:
    """Raise DataSourceError naming ``path`` unless ``labels`` are class indices ``0 .. classes - 1`` with every
    class present: a damaged labels file is stopped where it is read, before anything is written to data/."""
    bad = np.unique(labels[(labels < 0) | (labels >= classes)])
    absent = sorted(set(range(classes)) - set(np.unique(labels).tolist()))
    if bad.size or absent:
        what = (
            f"{int(((labels < 0) | (labels >= classes)).sum()):,} label(s) outside 0-{classes - 1} "
            f"(values {', '.join(map(str, bad[:5].tolist()))}{', ...' if bad.size > 5 else ''})"
            if bad.size
            else f"no image of class(es) {', '.join(map(str, absent))}"
        )
        raise DataSourceError(
            f"{dataset} labels file {path} holds {what}: it is damaged or not {dataset}'s. Nothing was written to "
            "data/; replace the file with the original (or delete it so that it is downloaded again)"
        )


@dataclass(frozen=True)
class DigitSplit:
    """Images and labels ``(N,)`` int64 of one split: uint8 ``(N, 28, 28)`` digits, which the renderer draws, or
    uint8 ``(N, S, S, C)`` pictures (C 1 or 3: a folder source's), which are used as they are; label -1: none."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        digits = self.images.ndim == 3 and self.images.shape[1:] == (28, 28)
        shape = self.images.shape
        pictures = self.images.ndim == 4 and shape[-1] in (1, 3) and shape[1] == shape[2]
        if not (digits or pictures) or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (N, 28, 28) digits or (N, S, S, C) pictures, got {self.images.dtype} "
                f"{self.images.shape}"
            )
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, np.ndarray]:
        return {"images": self.images, "labels": self.labels}

    @classmethod
    def from_dict(cls, data: dict[str, np.ndarray]) -> DigitSplit:
        return cls(images=np.asarray(data["images"]), labels=np.asarray(data["labels"], dtype=np.int64))


@dataclass(frozen=True)
class DigitSplits:
    train: DigitSplit
    validation: DigitSplit
    test: DigitSplit
    source: str  # one of SOURCES
    location: str  # where the files were read from
    files: tuple[str, ...] = ()  # the raw files read (their md5 identifies the data in MLflow)

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "location": self.location,
            "files": list(self.files),
            "train_images": len(self.train),
            "validation_images": len(self.validation),
            "test_images": len(self.test),
        }
