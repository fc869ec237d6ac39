"""Genuine MNIST in torchvision's layout (``MNIST/raw``), checked file by file, downloaded with torchvision when
absent and allowed; split as the reference splits it (the last 10,000 training images validate)."""

from __future__ import annotations

import gzip
import logging
import socket
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cpc_pipeline.data.sources.common import MNIST_FILES, DataSourceError, DigitSplit, DigitSplits, check_labels

logger = logging.getLogger(__name__)


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
    raw = Path(root) / "MNIST" / "raw"
    check_labels(labels, raw / "train-labels-idx1-ubyte", "MNIST")
    check_labels(test.targets.numpy(), raw / "t10k-labels-idx1-ubyte", "MNIST")
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
