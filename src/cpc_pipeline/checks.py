"""Checks that run before any node does work, so that a run which cannot succeed fails at once, with one
message that names the file or parameter and says what to do (:class:`cpc_pipeline.errors.UserError`).

- :func:`check_tracking_store`: MLflow's SQLite store is a readable, unlocked database. Without it a
  damaged ``mlflow.db`` ends in ``DatabaseError: file is not a database`` from deep inside MLflow.
- :func:`check_run_configuration`: parameter blocks that validate one by one but not together, or not on
  this machine: a device that is absent, an encoder whose convolutions do not fit the pictures (for every
  method of the registry, :mod:`cpc_pipeline.methods`), a patch grid too short for the rows it predicts.
- :func:`check_knn_grid`: every k of the k-NN probe's grid has that many labelled images to vote, at every
  label fraction.

Nothing here writes, moves or deletes anything.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from cpc_pipeline.data.config import RenderingConfig, SourceConfig
from cpc_pipeline.data.folder_splits import listed_splits
from cpc_pipeline.data.pictures import PictureSource
from cpc_pipeline.errors import ConfigurationError, TrackingStoreError
from cpc_pipeline.evaluation.probes import ProbeConfig, label_subset
from cpc_pipeline.methods import METHODS
from cpc_pipeline.models import EncoderSpec
from cpc_pipeline.training.images import check_validation_batch
from cpc_pipeline.training.loop import pick_device

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_path(uri: str, project_path: str | Path) -> Path | None:
    """The file behind a ``sqlite:///`` tracking URI (relative to the project), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return path if path.is_absolute() else Path(project_path) / path


def check_tracking_store(path: Path, timeout_s: float = 10.0) -> None:
    """Raise :class:`TrackingStoreError` unless ``path`` is absent (MLflow creates it) or an openable SQLite
    database that no other process holds locked for longer than ``timeout_s``."""
    if not path.exists():
        return
    way_out = (
        f"Nothing was changed. To keep the old runs, repair or replace {path}; to start a new store, move it "
        f"aside (mv {path} {path}.damaged); or point server.mlflow_tracking_uri in conf/local/mlflow.yml "
        "elsewhere"
    )
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise TrackingStoreError(f"MLflow's tracking store {path} is not a SQLite database (damaged?). {way_out}")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)) as db:
            db.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.OperationalError as err:
        if "locked" in str(err):
            raise TrackingStoreError(
                f"MLflow's tracking store {path} is locked by another process ({err}) and stayed locked for "
                f"{timeout_s:g} s: wait for that process (another kedro run, an MLflow UI) to finish, or stop it"
            ) from err
        raise TrackingStoreError(f"MLflow's tracking store {path} cannot be read ({err}). {way_out}") from err
    except sqlite3.DatabaseError as err:
        raise TrackingStoreError(f"MLflow's tracking store {path} is damaged ({err}). {way_out}") from err


def _device(key: str, name: str) -> None:
    try:
        pick_device(name)
    except RuntimeError as err:
        raise ConfigurationError(
            f"{key}: {name!r} was asked for, but this machine has none ({err}); use auto (cuda > mps > cpu) or cpu"
        ) from err


def _fits(key: str, spec: EncoderSpec, channels: int, size: int, what: str) -> None:
    try:
        spec.build(channels, size)
    except ValueError as err:
        raise ConfigurationError(f"{key} does not fit {what} ({size}x{size}): {err}") from err


def _at(config: Any, dotted: str) -> Any:
    """``config``'s value at ``dotted`` (``model.encoder``), through validated models and plain dicts alike."""
    for part in dotted.split("."):
        config = config[part] if isinstance(config, dict) else getattr(config, part)
    return config


def check_run_configuration(parameters: dict[str, Any], blocks: set[str]) -> None:
    """Cross-block checks of the parameter ``blocks`` a run's nodes read, for each method of the registry that
    reads one of them: its device is present on this machine, its encoder fits the pictures it is given. Each
    block was validated alone already; raises ConfigurationError."""
    rendering = RenderingConfig.model_validate(parameters.get("rendering", {}))
    pictures = f"the rendered {'colour' if rendering.color else 'grey'} digits"
    source = SourceConfig.model_validate(parameters.get("source", {}))  # a folder: its pictures, not the digits
    for block in sorted(blocks & {m.parameters for m in METHODS.values() if m.config is not None}):
        config = next(m.config for m in METHODS.values() if m.parameters == block)
        validated = config.model_validate(parameters.get(block, {}))
        device = "trainer.device" if hasattr(validated, "trainer") else "device"
        _device(f"{block}.{device}", _at(validated, device))
    for method in METHODS.values():
        block, _, path = method.encoder_spec.partition(".")
        if method.trains and method.parameters in blocks and method.config is not None:
            validated = method.config.model_validate(parameters.get(block, {}))
            spec = _at(validated, path)  # an EncoderSpec or one of its members: each builds itself
            if not isinstance(validated, PictureSource):
                if source.name == "folder":
                    continue  # the digit task's method: not trained on a folder (its stage says so)
                channels, size, what = rendering.channels, rendering.image_size, pictures
            else:
                channels, size, what = validated.shape(rendering, source.folder)
                _fits_folder(block, validated, source)
                backgrounds = getattr(getattr(validated, "objective", None), "backgrounds", None)
                if source.folder is not None and validated.uses_run_source and backgrounds == "patch":
                    raise ConfigurationError(
                        f"{block}.objective.backgrounds: 'patch' draws a background per patch with the digit renderer, "
                        "and source is a folder of pictures: set it to image"
                    )
            _fits(method.encoder_spec, spec, channels, size, what)
            model = getattr(validated, "model", None)
            if hasattr(model, "check_grid"):  # a patch grid: tall enough for the rows it predicts
                try:
                    model.check_grid(size)
                except ValueError as err:
                    raise ConfigurationError(f"{block}.model.{err} on {what}") from err


def _fits_folder(block: str, validated: PictureSource, source: SourceConfig) -> None:
    """One validation batch of a method's training size fits the folder it reads (counted from the listing)."""
    folder = validated.folder if validated.dataset == "folder" else None
    if validated.uses_run_source and source.name == "folder":
        folder = source.folder
    splits = listed_splits(folder) if folder is not None else None
    objective = getattr(validated, "objective", None)
    if splits is not None and objective is not None:
        try:
            check_validation_batch(objective.images_per_batch, len(splits[1]))
        except ConfigurationError as err:
            where = folder.root or folder.validation
            raise ConfigurationError(f"{block}.{err} (counted in the validation split of {where})") from err


def check_knn_grid(probes: ProbeConfig, train_labels: np.ndarray, where: str) -> None:
    """Raise ConfigurationError when a k of ``probing.probes.knn.k_grid`` exceeds the labelled train images the
    k-NN probe votes with at some label fraction (the subsets :func:`label_subset` draws from ``train_labels``,
    read from ``where``)."""
    if "knn" not in probes.probes:
        return
    k = max(probes.knn.k_grid)
    for fraction in sorted(probes.label_fractions):
        labelled = len(label_subset(train_labels, fraction, probes.seed))
        if k > labelled:
            raise ConfigurationError(
                f"probing.probes.knn.k_grid: k={k} exceeds the {labelled:,} labelled train images at label fraction "
                f"{fraction:g} ({len(train_labels):,} train images in {where}); use k values up to {labelled:,}, "
                "or drop that fraction from probing.probes.label_fractions"
            )
