"""CIFAR-10 through ``torchvision.datasets.CIFAR10``: 50k train (split into train and validation) and
10k test, as uint8 ``(N, 32, 32, 3)`` arrays with int64 labels.

The files are looked for under each of ``roots`` (``<root>/cifar-10-batches-py/``, torchvision's
layout) and downloaded into the first root when allowed. torchvision checks every batch file's md5;
``verify_checksums=False`` skips only that check (the tests use it on small files they write in
CIFAR-10's own pickle format, whose md5s cannot match), everything else is torchvision's own loader.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from torchvision.datasets import CIFAR10

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.sources import DataSourceError

FOLDER = "cifar-10-batches-py"


class CIFARSourceConfig(StrictModel):
    """``params:simclr.cifar``: where CIFAR-10 is, and how it is split."""

    roots: list[str] = Field(default_factory=lambda: ["data/01_raw"], min_length=1)
    download: bool = True
    verify_checksums: bool = True
    validation_size: int = Field(5000, ge=1)
    seed: int = Field(0, ge=0)
    download_timeout_s: float = Field(30.0, gt=0)


class _UncheckedCIFAR10(CIFAR10):
    """torchvision's CIFAR10 with the md5 of each batch file not checked (files must still exist)."""

    train_list = [[name, None] for name, _ in CIFAR10.train_list]
    test_list = [[name, None] for name, _ in CIFAR10.test_list]
    meta = CIFAR10.meta | {"md5": None}


@dataclass(frozen=True)
class ImageSplits:
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    location: str


def _read(root: Path, verify_checksums: bool, download: bool) -> tuple[CIFAR10, CIFAR10]:
    cls = CIFAR10 if verify_checksums else _UncheckedCIFAR10
    return cls(str(root), train=True, download=download), cls(str(root), train=False, download=False)


def load_cifar10(
    roots: Sequence[str | Path],
    download: bool = True,
    validation_size: int = 10_000,
    seed: int = 0,
    verify_checksums: bool = True,
    timeout_s: float = 30.0,
) -> ImageSplits:
    roots = [Path(r) for r in roots]
    for root in roots:
        if (root / FOLDER).is_dir():
            try:
                train, test = _read(root, verify_checksums, download=False)
            except RuntimeError as err:  # torchvision: "Dataset not found or corrupted."
                raise DataSourceError(
                    f"CIFAR-10 under {root / FOLDER} is incomplete or corrupt ({err}): replace the folder with "
                    "the extracted cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"
                ) from err
            break
    else:
        if not download:
            raise DataSourceError(_missing(roots, "download is disabled"))
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout_s)
        try:
            train, test = _read(roots[0], verify_checksums, download=True)
        except Exception as err:  # noqa: BLE001 - any network failure means the same to the user
            raise DataSourceError(_missing(roots, f"the download failed: {err}")) from err
        finally:
            socket.setdefaulttimeout(previous)
        root = roots[0]
    images, labels = np.asarray(train.data, dtype=np.uint8), np.asarray(train.targets, dtype=np.int64)
    if not 0 < validation_size < len(labels):
        raise ValueError(f"validation_size must be in (0, {len(labels)}), got {validation_size}")
    order = np.random.default_rng(seed).permutation(len(labels))
    val, tr = order[:validation_size], order[validation_size:]
    return ImageSplits(
        train=(images[tr], labels[tr]),
        validation=(images[val], labels[val]),
        test=(np.asarray(test.data, dtype=np.uint8), np.asarray(test.targets, dtype=np.int64)),
        location=str(root / FOLDER),
    )


def _missing(roots: Sequence[Path], why: str) -> str:
    places = ", ".join(str(r / FOLDER) for r in roots)
    return (
        f"CIFAR-10 was not found ({places}) and {why}. Download cifar-10-python.tar.gz from "
        f"https://www.cs.toronto.edu/~kriz/cifar.html, extract it so that <root>/{FOLDER}/data_batch_1 exists, "
        "and list <root> under simclr.cifar.roots (e.g. in conf/local/parameters_simclr.yml)."
    )


def cifar_pictures(images: torch.Tensor, generator=None) -> torch.Tensor:
    """uint8 ``(N, S, S, C)`` stored pictures (CIFAR-10's, or a folder's) -> float ``(N, C, S, S)`` in [-1, 1]
    (the renderer's range)."""
    return images.permute(0, 3, 1, 2).float() / 127.5 - 1


def load_cifar10_splits(config: CIFARSourceConfig) -> ImageSplits:
    """:func:`load_cifar10` with the settings of ``config``."""
    return load_cifar10(
        config.roots,
        config.download,
        config.validation_size,
        config.seed,
        config.verify_checksums,
        config.download_timeout_s,
    )
