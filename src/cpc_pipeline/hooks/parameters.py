"""A run's parameters as MLflow sees them: one param per leaf, and the hash a study's seeds share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS
from cpc_pipeline.provenance import config_hash


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in flatten(f"{prefix}.{key}", sub).items()}
    return {prefix: value}


def typed_params(inputs: dict[str, Any]) -> dict[str, Any]:
    """The node's Pydantic-typed ``params:`` inputs, one MLflow param per leaf (``pretraining.objective.loss``).

    kedro-mlflow flattens plain dicts only; it logs a validated model as one JSON string.
    """
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if name.startswith("params:") and isinstance(value, BaseModel):
            out |= flatten(name.removeprefix("params:"), value.model_dump(mode="json"))
    return out


def default_seed_parameters(config_loader) -> dict[str, Any]:
    """The run's parameters with every runtime override but ``seed``: what a study's seeds have in common.

    Read by a second loader over the same configuration. Kedro resolves ``${runtime_params:seed}`` through one
    process-wide OmegaConf resolver, which each loader registers again (bound to itself) whenever it is read, so
    this read leaves the run's loader resolving its own runtime parameters the next time it is read
    (``tests/test_provenance.py`` pins it).
    """
    runtime = {k: v for k, v in (config_loader.runtime_params or {}).items() if k != "seed"}
    loader = CONFIG_LOADER_CLASS(
        str(config_loader.conf_source), env=config_loader.env, runtime_params=runtime, **CONFIG_LOADER_ARGS
    )
    return loader["parameters"]


def run_config_hash(project_path: str | Path, env: str | None, runtime_params: dict | None = None) -> str:
    """The ``cpc.config_hash`` a ``kedro run --env env --params ...`` in ``project_path`` is tagged with."""
    loader = CONFIG_LOADER_CLASS(
        str(Path(project_path) / "conf"), env=env, runtime_params=runtime_params, **CONFIG_LOADER_ARGS
    )
    return config_hash(default_seed_parameters(loader))
