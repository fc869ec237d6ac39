"""The base of every validated parameter block of the project."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently fall back to a default); values are frozen.

    Kedro validates a node's ``params:`` input typed with such a model before any node runs, so a bad YAML
    value stops ``kedro run`` at once with one error naming the parameter and its allowed range.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __str__(self) -> str:  # compact, for logs and MLflow params
        return self.model_dump_json()
