"""Checkpoint and resume: the model, optimiser, schedule and every RNG, written atomically, checked on load."""

from __future__ import annotations

import errno
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpc_pipeline.errors import CheckpointError


def _rng_state() -> dict[str, Any]:
    """Every RNG's state in types ``torch.load(weights_only=True)`` reads: tensors, numbers, strings, tuples."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss))
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _cannot_write(path: Path, err: BaseException | None = None) -> CheckpointError:
    """The error for a checkpoint that cannot be written at ``path``: the cause, in words, and what to do."""
    folder = next((p for p in [path.parent, *path.parents] if p.exists()), Path("/"))
    if not os.access(folder, os.W_OK):
        cause = f"{folder} is not writable"
    elif err is None or getattr(err, "errno", None) == errno.ENOSPC or shutil.disk_usage(folder).free < 2**20:
        cause = f"the disk holding {folder} is full ({shutil.disk_usage(folder).free / 2**20:,.0f} MiB free)"
    else:
        cause = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return CheckpointError(
        f"checkpoint {path} cannot be written ({cause}). Free some space or point trainer.checkpoint_path at another "
        "folder (null: no checkpoint, and no resume)"
    )


def check_checkpoint_writable(path: str | Path, size_bytes: int) -> None:
    """Before training: ``path``'s folder can be made and written, with room for a checkpoint of ``size_bytes``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _cannot_write(path, err) from err
    if not os.access(path.parent, os.W_OK) or shutil.disk_usage(path.parent).free < size_bytes:
        raise _cannot_write(path)


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Atomic: a crash while writing never leaves a half checkpoint behind (nor do two writers); a write that fails
    (a full disk, a folder that is not writable) leaves no temporary file and raises one CheckpointError."""
    path = Path(path)
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")  # machines sharing a disk never share a tmp file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a failed write as RuntimeError (inline_container.cc)
        tmp.unlink(missing_ok=True)
        raise _cannot_write(path, err) from err


def load_checkpoint(path: str | Path, device: torch.device) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, or one error that names the file and says what to do."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)  # tensors and plain values only
        missing = {"model", "optimizer", "scheduler", "rng", "history", "epoch"} - set(ckpt)
    except Exception as err:  # noqa: BLE001 - unpickling fails in many ways; all mean a damaged file
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}): "
            "it is damaged or not a checkpoint. Nothing was changed; move it aside and set trainer.resume to false "
            "to start afresh"
        ) from err
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {sorted(missing)}: it was not written by this project's "
            "training loop. Set trainer.resume to false, or point trainer.checkpoint_path at one"
        )
    return ckpt
