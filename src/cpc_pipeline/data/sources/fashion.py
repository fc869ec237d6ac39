"""Fashion-MNIST (MNIST's IDX format): Debian's ``dataset-fashion-mnist`` package, torchvision's layout, or a
folder of your own; downloaded with torchvision when absent and allowed."""

from __future__ import annotations

import gzip
import socket
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cpc_pipeline.data.sources.common import MNIST_FILES, DataSourceError, DigitSplit, DigitSplits, check_labels

FASHION_MNIST_DEBIAN = "/usr/share/datasets/fashion-mnist"  # `apt-get install dataset-fashion-mnist`


def fashion_folder(root: Path) -> Path | None:
    """The folder under ``root`` that holds the four Fashion-MNIST files (extracted or .gz): ``root`` itself
    (Debian's flat layout, or your own folder) or ``root/FashionMNIST/raw`` (torchvision's)."""
    for folder in (root, root / "FashionMNIST" / "raw"):
        if all((folder / n).exists() or (folder / f"{n}.gz").exists() for n in MNIST_FILES):
            return folder
    return None


def read_idx(path: Path, magic: int, count: int) -> np.ndarray:
    """A complete IDX file (or its ``.gz``) of ``count`` items -> uint8 array; a clear error when it is not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as err:
        raise DataSourceError(f"IDX file {path} cannot be read: {err}") from err
    dims = (count, 28, 28) if magic == 2051 else (count,)
    header = 4 + 4 * len(dims)
    if (
        len(data) < header
        or struct.unpack(">i", data[:4])[0] != magic
        or struct.unpack(f">{len(dims)}i", data[4:header]) != dims
        or len(data) != header + int(np.prod(dims))
    ):
        raise DataSourceError(
            f"IDX file {path} is corrupt or truncated: expected magic {magic}, dims {dims} "
            f"and {header + int(np.prod(dims)):,} bytes, found {len(data):,} bytes."
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def load_fashion_mnist(
    roots: Sequence[str | Path], download: bool, validation_size: int = 10_000, timeout_s: float = 30.0
) -> DigitSplits:
    """Fashion-MNIST from the first of ``roots`` that holds its four IDX files, else downloaded with torchvision
    into ``roots[0]/FashionMNIST/raw``; split as MNIST (the last ``validation_size`` training images validate)."""
    folder = next((f for f in map(fashion_folder, map(Path, roots)) if f is not None), None)
    if folder is None:
        searched = ", ".join(str(r) for r in roots)
        if not download:
            raise DataSourceError(
                f"Fashion-MNIST files ({', '.join(MNIST_FILES)}, or their .gz) not found in {searched} (nor in their "
                f"FashionMNIST/raw) and download is disabled. On Debian: apt-get install dataset-fashion-mnist "
                f"(files in {FASHION_MNIST_DEBIAN}), or list your own folder under source.roots."
            )
        from torchvision.datasets import FashionMNIST

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout_s)
        try:
            FashionMNIST(str(roots[0]), train=True, download=True)
        except Exception as err:  # noqa: BLE001 - every mirror failed: report it as one clear error
            raise DataSourceError(
                f"Fashion-MNIST was not found in {searched} and its download failed: {err}. "
                f"On Debian: apt-get install dataset-fashion-mnist."
            ) from err
        finally:
            socket.setdefaulttimeout(previous)
        folder = Path(roots[0]) / "FashionMNIST" / "raw"
    path = lambda n: folder / n if (folder / n).exists() else folder / f"{n}.gz"  # noqa: E731
    arrays = {n: read_idx(path(n), magic, count) for n, (magic, count) in MNIST_FILES.items()}
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"].astype(np.int64)
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        check_labels(arrays[name], path(name), "Fashion-MNIST")
    n_train = len(labels) - validation_size
    return DigitSplits(
        train=DigitSplit(images[:n_train], labels[:n_train]),
        validation=DigitSplit(images[n_train:], labels[n_train:]),
        test=DigitSplit(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"].astype(np.int64)),
        source="fashion_mnist",
        location=str(folder.resolve()),
        files=tuple(str(path(n).resolve()) for n in MNIST_FILES),
    )
