"""One entry point for every source, with the loud fallback to scikit-learn's digits when MNIST is unavailable."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from cpc_pipeline.data.sources.common import MNIST_FILES, SOURCES, DataSourceError, DigitSplits
import numpy as np

from cpc_pipeline.data.sources.fashion import fashion_folder, load_fashion_mnist, read_idx
from cpc_pipeline.data.sources.mnist import load_mnist, mnist_files_present
from cpc_pipeline.data.sources.sklearn_digits import load_sklearn_digits

logger = logging.getLogger(__name__)


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
    if source == "fashion_mnist":  # no fallback: digits in its place would be a different task
        return load_fashion_mnist(roots, download, validation_size, timeout_s)
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


def local_train_labels(source: str, roots: Sequence[str | Path], validation_size: int = 10_000, seed: int = 0):
    """The train split's labels as :func:`load_digit_splits` would give them, read from local files only (nothing
    written, nothing downloaded), for checks before a run: None when ``source``'s files are not on this machine, or
    it is a folder of pictures (read only by the run)."""
    if source == "folder":
        return None
    if source == "sklearn_digits":
        return load_sklearn_digits(seed).train.labels
    name, (magic, count) = "train-labels-idx1-ubyte", MNIST_FILES["train-labels-idx1-ubyte"]
    if source == "fashion_mnist":
        folders = [fashion_folder(Path(r)) for r in roots]
    else:
        folders = [Path(r) / "MNIST" / "raw" for r in roots if mnist_files_present(Path(r))]
    folder = next((f for f in folders if f is not None), None)
    if folder is None:
        return None
    path = folder / name if (folder / name).exists() else folder / f"{name}.gz"
    return read_idx(path, magic, count)[: count - validation_size].astype(np.int64)
