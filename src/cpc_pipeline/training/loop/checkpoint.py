"""Checkpoint and resume: the model, optimiser, schedule and every RNG, written atomically, checked on load."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpc_pipeline.errors import CheckpointError


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Atomic: a crash while writing never leaves a half checkpoint behind (nor do two writers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")  # machines sharing a disk never share a tmp file
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: torch.device) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, or one error that names the file and says what to do."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
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
