"""A folder source's splits: train, validation and test folders, or one folder split with a seed (each class in
every split's share), with the summary of what was read, skipped or converted (:mod:`cpc_pipeline.data.folder`
reads the files)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from cpc_pipeline.data.folder import FolderImages, FolderSourceConfig, list_images, read_folder
from cpc_pipeline.data.sources import DataSourceError

logger = logging.getLogger(__name__)


def _split_indices(labels: np.ndarray, config: FolderSourceConfig) -> list[list[int]]:
    """Train, validation and test indices of one folder's pictures, split with ``config.seed``, each class in every
    split's share."""
    rng = np.random.default_rng(config.seed)
    parts: list[list[int]] = [[], [], []]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(config.validation_fraction * len(members)))
        n_test = int(round(config.test_fraction * len(members)))
        parts[1] += list(members[:n_val])
        parts[2] += list(members[n_val : n_val + n_test])
        parts[0] += list(members[n_val + n_test :])
    return [sorted(part) for part in parts]


def _split(images: FolderImages, config: FolderSourceConfig) -> tuple[FolderImages, FolderImages, FolderImages]:
    def take(index: list[int]) -> FolderImages:
        return FolderImages(
            images.images[index], images.labels[index], images.classes, [images.paths[i] for i in index]
        )

    return tuple(take(part) for part in _split_indices(images.labels, config))


def listed_splits(config: FolderSourceConfig) -> list[np.ndarray] | None:
    """The train, validation and test splits' labels (-1: none) as :func:`load_folder_splits` gives them when every
    file reads, from the folders' listing alone (nothing decoded): for checks before a run. None where a folder
    is missing (the run names it)."""
    folders = [config.root] if config.root is not None else [config.train, config.validation, config.test]
    if not all(Path(f).is_dir() for f in folders):
        return None
    listed = [np.asarray(list_images(Path(f))[1], dtype=np.int64) for f in folders]
    if config.root is None:
        return listed
    return [listed[0][index] for index in _split_indices(listed[0], config)]


def listed_train_labels(config: FolderSourceConfig) -> np.ndarray | None:
    """The train split's labels from the listing (:func:`listed_splits`); None without class folders."""
    splits = listed_splits(config)
    return None if splits is None or (splits[0] < 0).any() else splits[0]


def load_folder_splits(config: FolderSourceConfig) -> tuple[tuple[FolderImages, ...], Counter]:
    """Train, validation and test pictures, and the counts of every file skipped or converted."""
    if config.root is not None:
        whole = read_folder(config.root, config)
        return _split(whole, config), whole.counts
    splits = tuple(read_folder(f, config) for f in (config.train, config.validation, config.test))
    if len({tuple(s.classes) for s in splits}) > 1:
        raise DataSourceError(
            "the train, validation and test folders name different classes ("
            + "; ".join(f"{f}: {s.classes}" for f, s in zip((config.train, config.validation, config.test), splits))
            + "): give each the same class folders"
        )
    return splits, sum((s.counts for s in splits), Counter())


def folder_splits(config: FolderSourceConfig) -> tuple[tuple[dict, dict, dict], dict[str, object]]:
    """The folder's train, validation and test splits as the catalog holds pictures (``images``, ``labels``, the
    files' ``paths``, the ``classes`` and the whole folder's ``counts`` of what was skipped or converted), and a
    summary: where they are, the class names and the same counts as ``files_*`` (which the data stage logs to
    MLflow)."""
    splits, counts = load_folder_splits(config)
    held = tuple(
        {"images": s.images, "labels": s.labels, "paths": s.paths, "classes": s.classes, "counts": dict(counts)}
        for s in splits
    )
    summary = {
        "source": "folder",
        "location": config.root or config.train,
        "files": [],
        "classes": splits[0].classes,
        "labelled": bool(splits[0].classes),
        **{f"{split}_images": len(s.images) for split, s in zip(("train", "validation", "test"), splits)},
        **{f"files_{what}": n for what, n in sorted(counts.items())},
    }
    return held, summary


def log_folder_counts(summary: dict[str, object]) -> None:
    """One log line with what :func:`folder_splits` skipped or converted, where it did."""
    counts = {k.removeprefix("files_"): n for k, n in summary.items() if k.startswith("files_")}
    if counts:
        logger.warning("image folders: %s", ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items()))
