"""Raw digit sources: genuine MNIST through torchvision, or scikit-learn's bundled digits as fallback.

Every source returns the same thing, a :class:`DigitSplits`: uint8 images of shape ``(N, 28, 28)``
(white digit on black, as MNIST) with int64 labels, for a train, a validation and a test split, and the
name and location of the source actually used, so that a fallback is never hidden downstream.

MNIST is split as the reference CPC code splits it: the first 50,000 training images train, the last
10,000 validate, and the 10,000 MNIST test images are kept apart for the final evaluation.
"""

from __future__ import annotations

import gzip
import logging
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cpc_pipeline.errors import UserError

logger = logging.getLogger(__name__)

SOURCES = ("mnist", "sklearn_digits")

# name -> (IDX magic number, number of items); images are 28x28.
MNIST_FILES: dict[str, tuple[int, int]] = {
    "train-images-idx3-ubyte": (2051, 60_000),
    "train-labels-idx1-ubyte": (2049, 60_000),
    "t10k-images-idx3-ubyte": (2051, 10_000),
    "t10k-labels-idx1-ubyte": (2049, 10_000),
}


class DataSourceError(UserError):
    """A digit source is missing, unreachable or corrupt; the message says which file and what to do."""


@dataclass(frozen=True)
class DigitSplit:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 of one split."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.shape[1:] != (28, 28) or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, 28, 28), got {self.images.dtype} {self.images.shape}")
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
    source: str  # "mnist" or "sklearn_digits"
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


# --------------------------------------------------------------------------------------------- MNIST
def _idx_header(path: Path, opener) -> tuple[int, tuple[int, ...]]:
    with opener(path, "rb") as fh:
        head = fh.read(4)
        if len(head) < 4:
            raise DataSourceError(f"MNIST file {path} is truncated: it has no IDX header.")
        magic = struct.unpack(">i", head)[0]
        ndim = magic & 0xFF
        dims_raw = fh.read(4 * ndim)
        if len(dims_raw) < 4 * ndim:
            raise DataSourceError(f"MNIST file {path} is truncated inside its IDX header.")
        return magic, struct.unpack(f">{ndim}i", dims_raw)


def check_mnist_file(path: Path, magic: int, count: int) -> None:
    """Raise :class:`DataSourceError` naming ``path`` unless it is a complete IDX file of ``count`` items."""
    try:
        found_magic, dims = _idx_header(path, open)
    except OSError as err:
        raise DataSourceError(f"MNIST file {path} cannot be read: {err}") from err
    expected_dims = (count, 28, 28) if magic == 2051 else (count,)
    if found_magic != magic or dims != expected_dims:
        raise DataSourceError(
            f"MNIST file {path} is corrupt: header says magic {found_magic} dims {dims}, "
            f"expected magic {magic} dims {expected_dims}. Delete it so it can be downloaded again."
        )
    expected_size = 4 + 4 * len(dims) + int(np.prod(dims))
    size = path.stat().st_size
    if size != expected_size:
        raise DataSourceError(
            f"MNIST file {path} is corrupt or truncated: {size:,} bytes, expected {expected_size:,}. "
            "Delete it so it can be downloaded again."
        )


def _check_gzip(path: Path) -> None:
    """A ``.gz`` beside a missing extracted file must match torchvision's md5 before we extract it."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import check_integrity

    md5 = dict(MNIST.resources)[path.name]
    if not check_integrity(str(path), md5):
        raise DataSourceError(
            f"MNIST archive {path} is corrupt (md5 differs from torchvision's {md5}). "
            "Delete it so it can be downloaded again."
        )


def mnist_files_present(root: Path) -> bool:
    """True when every MNIST file (extracted, or as its .gz) is under ``root/MNIST/raw``."""
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / n).exists() or (raw / f"{n}.gz").exists() for n in MNIST_FILES)


def _verify_and_extract(root: Path) -> None:
    raw = Path(root) / "MNIST" / "raw"
    for name, (magic, count) in MNIST_FILES.items():
        path = raw / name
        if not path.exists():
            gz = raw / f"{name}.gz"
            _check_gzip(gz)
            with gzip.open(gz, "rb") as src:
                data = src.read()
            path.write_bytes(data)
        check_mnist_file(path, magic, count)


def _read_mnist(root: Path, validation_size: int) -> DigitSplits:
    from torchvision.datasets import MNIST

    _verify_and_extract(root)
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    n_train = len(train.targets) - validation_size
    if not 0 < n_train:
        raise DataSourceError(
            f"source.validation_size={validation_size} leaves no training images "
            f"(MNIST train has {len(train.targets)})."
        )
    images, labels = train.data.numpy(), train.targets.numpy().astype(np.int64)
    return DigitSplits(
        train=DigitSplit(images[:n_train], labels[:n_train]),
        validation=DigitSplit(images[n_train:], labels[n_train:]),
        test=DigitSplit(test.data.numpy(), test.targets.numpy().astype(np.int64)),
        source="mnist",
        location=str((Path(root) / "MNIST" / "raw").resolve()),
        files=tuple(str((Path(root) / "MNIST" / "raw" / name).resolve()) for name in MNIST_FILES),
    )


def _download_mnist(root: Path, timeout_s: float) -> None:
    from torchvision.datasets import MNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # torchvision's urlopen has none: never hang on a dead network
    try:
        MNIST(str(root), train=True, download=True)
    except Exception as err:  # noqa: BLE001 - every mirror failed: report it as one clear error
        raise DataSourceError(f"MNIST download into {root} failed: {err}") from err
    finally:
        socket.setdefaulttimeout(previous)


def load_mnist(
    roots: Sequence[str | Path], download: bool, validation_size: int = 10_000, timeout_s: float = 30.0
) -> DigitSplits:
    """Read MNIST from the first of ``roots`` that holds it, else download it into ``roots[0]``."""
    for root in map(Path, roots):
        if mnist_files_present(root):
            return _read_mnist(root, validation_size)
    searched = ", ".join(str(Path(r) / "MNIST" / "raw") for r in roots)
    if not download:
        raise DataSourceError(f"MNIST files not found in {searched} and download is disabled.")
    target = Path(roots[0])
    logger.info("MNIST not found in %s; downloading it into %s", searched, target)
    _download_mnist(target, timeout_s)
    return _read_mnist(target, validation_size)


# ---------------------------------------------------------------------------- scikit-learn fallback
SKLEARN_SPLIT = (0.7, 0.15, 0.15)  # train / validation / test of the 1,797 images, stratified-free


def upscale_sklearn_digits(images_8x8: np.ndarray) -> np.ndarray:
    """0..16 8x8 digits -> uint8 28x28, the digit in the central 20x20 box as MNIST places it."""
    x = torch.as_tensor(images_8x8, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = F.pad(x, (4, 4, 4, 4))
    return (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def load_sklearn_digits(seed: int = 0) -> DigitSplits:
    """scikit-learn's bundled 1,797 handwritten digits (offline), shuffled with ``seed`` and split 70/15/15."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = upscale_sklearn_digits(bunch.images)
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_train = int(len(order) * SKLEARN_SPLIT[0])
    n_val = int(len(order) * SKLEARN_SPLIT[1])
    parts = np.split(order, [n_train, n_train + n_val])
    train, val, test = (DigitSplit(images[p], labels[p]) for p in parts)
    return DigitSplits(train, val, test, source="sklearn_digits", location="sklearn.datasets.load_digits")


# ------------------------------------------------------------------------------------ one entry point
def load_digit_splits(
    source: str,
    roots: Sequence[str | Path],
    download: bool = True,
    fallback: bool = True,
    validation_size: int = 10_000,
    seed: int = 0,
    timeout_s: float = 30.0,
) -> DigitSplits:
    """Load ``source``; when MNIST is neither found nor downloadable and ``fallback`` is set, log why and
    how to fix it, then use scikit-learn's digits. Corrupt files always raise: they are never papered over."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "sklearn_digits":
        return load_sklearn_digits(seed)
    try:
        return load_mnist(roots, download, validation_size, timeout_s)
    except DataSourceError as err:
        corrupt = any(mnist_files_present(Path(r)) for r in roots)
        if corrupt or not fallback:
            raise
        logger.warning(
            "MNIST is unavailable (%s). FALLING BACK to scikit-learn's bundled 8x8 digits (1,797 images, "
            "upscaled to 28x28): results are NOT comparable with MNIST. To use MNIST, place the files "
            "train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), "
            "t10k-labels-idx1-ubyte(.gz) in <root>/MNIST/raw/ and list <root> under "
            "source.roots (e.g. in conf/local/parameters_data_processing.yml), or allow "
            "the download.",
            err,
        )
        return load_sklearn_digits(seed)
