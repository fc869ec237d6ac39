"""What a method hands on where it cannot train on the run's pictures (sequence CPC on a folder of photos, the
supervised baseline without labels): a module with no weights that says why, in place of an encoder.

Kedro saves no ``None``, and every dataset of the chain (weights file, MLflow model, frozen encoder, features)
has to hold something; :class:`NotTrained` is that something, and it keeps its reason through a weights file
(``torch.save`` of its ``state_dict``, the reason as its extra state), so the stages after it say the same line.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

EXTRA_STATE = "_extra_state"  # where nn.Module.state_dict keeps get_extra_state()


class NotTrained(nn.Module):
    """Stands in for an encoder that was not trained; ``reason`` says why (one line, for the log and the report)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__()
        self.reason = reason

    def get_extra_state(self) -> dict[str, str]:
        return {"not_trained": self.reason}

    def set_extra_state(self, state: dict[str, str]) -> None:
        self.reason = state["not_trained"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError(f"this encoder was not trained: {self.reason}")


def not_trained_reason(value: Any) -> str | None:
    """Why ``value`` (a module, its state dict as a weights file holds it, or a features table) stands for an
    encoder that was not trained; None where it is a real one."""
    if isinstance(value, NotTrained):
        return value.reason
    if isinstance(value, dict):
        state = value.get(EXTRA_STATE, value)
        if isinstance(state, dict) and isinstance(state.get("not_trained"), str):
            return state["not_trained"]
    return None
