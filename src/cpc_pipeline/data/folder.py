"""Pictures of your own from folders: a flat folder of unlabelled images, or torchvision's class-per-subfolder
layout (``root/<class>/<image>``, as ``ImageFolder``), read once into uint8 ``(N, S, S, C)`` arrays.

Each image is decoded with Pillow, converted to RGB (``color: true``) or grey, its short side resized to
``image_size`` and centre-cropped (torchvision's ``resize`` and ``center_crop``), so training never decodes a file
again. The splits are the ``train``, ``validation`` and ``test`` folders, or one ``root`` split with ``seed``
(stratified by class when there are classes: :mod:`cpc_pipeline.data.folder_splits`). Unlabelled images get
label -1.

What a folder may hold that is not a usable picture, and what happens (``bad_files``: error | skip):
a file that does not decode or is truncated, a file whose name is not an image's (counted, never read), a class
folder with fewer than ``min_class_images``, an image smaller than ``image_size`` (``small_images``: upscale |
skip | error). Grey images in a colour run (and colour in a grey run) are converted, and counted. Every count is
in :attr:`FolderImages.counts`, which the stage logs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pydantic import Field, model_validator
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2 import functional as TF

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.sources import DataSourceError

UNLABELLED = -1


class FolderSourceConfig(StrictModel):
    """``params:<method>.folder``: where the pictures are, their size and colour, and what bad files do."""

    root: str | None = None  # one folder, split with seed...
    train: str | None = None  # ...or three folders
    validation: str | None = None
    test: str | None = None
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    test_fraction: float = Field(0.1, gt=0, lt=1)
    seed: int = Field(0, ge=0)
    image_size: int = Field(32, ge=8, le=1024)  # the short side resized to it, then a centre crop
    color: bool = True  # false: one grey channel
    bad_files: Literal["error", "skip"] = "error"
    small_images: Literal["upscale", "skip", "error"] = "upscale"
    min_class_images: int = Field(2, ge=1)  # a class folder with fewer is a bad input

    @model_validator(mode="after")
    def _one_layout(self) -> FolderSourceConfig:
        three = (self.train, self.validation, self.test)
        if (self.root is None) == all(t is None for t in three) or (self.root is None and None in three):
            raise ValueError("give either root (one folder, split with seed) or all of train, validation and test")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1")
        return self

    @property
    def channels(self) -> int:
        return 3 if self.color else 1


def check_folder_named(setting: str, value: str, folder: FolderSourceConfig | None) -> None:
    """ValueError where ``setting`` picks a folder (``value`` folder) and no ``folder`` block says which."""
    if value == "folder" and folder is None:
        raise ValueError(
            f"{setting} is folder but folder is not set: give folder.root, or its train, validation and test "
            "folders (docs/data.md, 'A folder of pictures')"
        )


@dataclass
class FolderImages:
    """One folder read: uint8 ``(N, S, S, C)`` images, int64 labels (-1: none), the class names, the paths, and
    the counts of what was skipped or converted."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    paths: list[str]
    counts: Counter = field(default_factory=Counter)


def list_images(folder: Path) -> tuple[list[Path], list[int], list[str], Counter]:
    """The image files under ``folder`` with their class index (one level of subfolders: classes; else flat)."""
    if not folder.is_dir():
        raise DataSourceError(f"image folder {folder} does not exist: create it, or point the folder settings at yours")
    counts: Counter = Counter()
    entries = sorted(folder.iterdir())
    classes = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    groups = [(folder / c, i) for i, c in enumerate(classes)] if classes else [(folder, UNLABELLED)]
    files, labels = [], []
    for where, label in groups:
        for path in sorted(p for p in where.iterdir() if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() in IMG_EXTENSIONS:
                files.append(path)
                labels.append(label)
            else:
                counts["not_images"] += 1
    if classes and any(p.is_file() and p.suffix.lower() in IMG_EXTENSIONS for p in entries):
        raise DataSourceError(
            f"{folder} holds images beside its class folders: move them into a class folder, or into a folder of "
            "their own for unlabelled pictures"
        )
    if not files:
        raise DataSourceError(f"{folder} holds no image files ({', '.join(IMG_EXTENSIONS)}): add pictures")
    return files, labels, classes, counts


GREY_MODES = ("L", "LA", "I", "I;16", "1")


def to_picture(decoded: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """Decoded uint8 ``(C, H, W)`` pictures (or a batch ``(N, C, H, W)``, one size), C 1 or 3 -> ``channels``
    (grey by torchvision's luma, or the grey channel repeated), the short side resized to ``image_size`` and the
    centre cropped: uint8 ``(..., channels, image_size, image_size)``. The one way a picture is made, for the
    folder source and for :class:`cpc_pipeline.evaluation.embed.PictureEmbedder` alike."""
    if decoded.shape[-3] != channels:
        decoded = TF.rgb_to_grayscale(decoded) if channels == 1 else decoded.expand(*decoded.shape[:-3], 3, -1, -1)
    return TF.center_crop(TF.resize(decoded, image_size, antialias=True), image_size)


def _picture(path: Path, config: FolderSourceConfig, counts: Counter) -> np.ndarray | None:
    """One file as uint8 ``(S, S, C)``, or None where ``config`` says to skip it (counted)."""
    try:
        with Image.open(path) as image:
            image.load()  # decodes now: a truncated file fails here, not in training
            grey = image.mode in GREY_MODES
            image = image.convert("L" if grey else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        if config.bad_files == "skip":
            counts["unreadable"] += 1
            return None
        raise DataSourceError(
            f"{path} is not a readable image ({err}): replace or remove it, or set bad_files: skip"
        ) from err
    if grey == config.color:
        counts["converted_colour"] += 1
    if min(image.size) < config.image_size:
        if config.small_images != "upscale":
            if config.small_images == "skip":
                counts["too_small"] += 1
                return None
            raise DataSourceError(
                f"{path} is {image.size[0]}x{image.size[1]} px, smaller than image_size {config.image_size}: "
                "use a smaller image_size, or set small_images: upscale or skip"
            )
        counts["upscaled"] += 1
    return to_picture(TF.pil_to_tensor(image), config.image_size, config.channels).permute(1, 2, 0).numpy()


def read_folder(folder: str | Path, config: FolderSourceConfig) -> FolderImages:
    """Every usable picture under ``folder``, as ``config`` says (see the module's docstring)."""
    folder = Path(folder)
    files, labels, classes, counts = list_images(folder)
    per_class = Counter(labels)
    small = sorted(classes[c] for c, n in per_class.items() if c != UNLABELLED and n < config.min_class_images)
    if small and config.bad_files == "error":
        raise DataSourceError(
            f"class folder(s) {', '.join(str(folder / c) for c in small)} hold fewer than {config.min_class_images} "
            "images: add images, remove the folder, or set bad_files: skip"
        )
    if small:
        counts["small_classes"] += len(small)
    images, kept, paths = [], [], []
    for path, label in zip(files, labels):
        if label != UNLABELLED and classes[label] in small:
            continue
        picture = _picture(path, config, counts)
        if picture is not None:
            images.append(picture)
            kept.append(label)
            paths.append(str(path))
    if not images:
        raise DataSourceError(f"no usable image in {folder} ({dict(counts)}): see the counts and the settings")
    stacked = np.stack(images).astype(np.uint8)
    return FolderImages(stacked, np.asarray(kept, dtype=np.int64), classes, paths, counts)


def write_image_folder(root: str | Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> Path:
    """uint8 ``(N, H, W)`` or ``(N, H, W, C)`` ``images`` written as PNG files in the class-per-subfolder layout
    (``root/<classes[label]>/<index>.png``, label -1: ``root/<index>.png``): a labelled array dataset as a folder
    this module reads back pixel for pixel."""
    root = Path(root)
    for folder in {root / classes[label] if label >= 0 else root for label in np.unique(labels)}:
        folder.mkdir(parents=True, exist_ok=True)
    width = len(str(len(images)))
    for i, (image, label) in enumerate(zip(images, labels)):
        where = root / classes[label] if label >= 0 else root
        Image.fromarray(np.squeeze(image)).save(where / f"{i:0{width}d}.png")
    return root
