"""One nested MLflow run per pipeline stage, and each stage's wall time.

kedro-mlflow opens one MLflow run per ``kedro run`` and logs every node's parameters and the catalog's
MLflow datasets into the *active* run. It has no notion of stages, so this hook adds one level: before
the first node of a stage (the node's tag among :data:`STAGES`) it opens a child run named after the
stage; everything logged while that stage's nodes run (parameters, metric histories, artifacts, models)
lands in the child. The child is closed FINISHED when the next stage starts or the pipeline ends, and
FAILED when one of its nodes raises.

Ordering with kedro-mlflow's own hooks matters: this hook's ``before_node_run`` runs first
(``tryfirst``), so kedro-mlflow's parameter logging already sees the stage run. kedro-mlflow re-opens
its parent run before every node and tolerates it being already active (its id is the bottom of
MLflow's run stack), so the child stays open across the stage's nodes.

Wall times: the hook adds up the run time of each stage's nodes and, after every node, merges the
totals into the catalog dataset ``stage_wall_times`` (the latest time of each stage that ran), which
the report reads. They are also logged to each stage run as ``stage_wall_seconds``.

Provenance: the parent run is tagged with what produced it (:mod:`cpc_pipeline.provenance`): the
configuration environment, the pipelines, the seed, the code commit and a hash of the parameters as
they are at the default seed (so the seeds of one study share a hash), and named after them
(``base · cpc-infonce · seed 0``). ``benchmarks/headline.py`` finds earlier seeds by these tags.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node
from mlflow.entities import RunStatus
from pydantic import BaseModel

from cpc_pipeline.provenance import code_commit, config_hash

logger = logging.getLogger(__name__)

STAGES = ("data_processing", "pretraining", "simclr", "probing", "reporting")
WALL_TIMES = "stage_wall_times"


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


def node_stage(node: Node) -> str | None:
    stages = [s for s in STAGES if s in node.tags]
    return stages[0] if stages else None


def mlflow_epoch_logger(prefix: str) -> Callable[[int, dict[str, float]], None]:
    """An ``on_epoch_end`` callback for the training loop: ``{prefix}.{metric}`` at step ``epoch``, into the
    active MLflow run (the stage's). The loop itself knows nothing of MLflow."""

    def log(epoch: int, row: dict[str, float]) -> None:
        if mlflow.active_run() is not None:
            mlflow.log_metrics({f"{prefix}.{k}": v for k, v in row.items() if k != "epoch"}, step=epoch)

    return log


def default_seed_parameters(config_loader) -> dict[str, Any]:
    """The run's parameters with every runtime override but ``seed``: what a study's seeds have in common."""
    loader = copy.copy(config_loader)
    loader.runtime_params = {k: v for k, v in (config_loader.runtime_params or {}).items() if k != "seed"}
    return loader["parameters"]


def run_config_hash(project_path: str | Path, env: str | None, runtime_params: dict | None = None) -> str:
    """The ``cpc.config_hash`` a ``kedro run --env env --params ...`` in ``project_path`` is tagged with."""
    from kedro.config import OmegaConfigLoader

    from cpc_pipeline.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(str(Path(project_path) / "conf"), env=env, runtime_params=runtime_params,
                               **CONFIG_LOADER_ARGS)
    return config_hash(default_seed_parameters(loader))


class StageRunsHook:
    def __init__(self) -> None:
        self.provenance: dict[str, str] = {}
        self._reset()

    def _reset(self) -> None:
        self.stage: str | None = None
        self.stage_run_id: str | None = None
        self.stage_runs: dict[str, str] = {}  # stage -> its child run, resumed if the runner comes back
        self.node_started = 0.0
        self.wall_times: dict[str, float] = {}
        self.catalog: DataCatalog | None = None
        self.recorded: dict[str, float] = {}
        self.parent_tagged = False
        self.pipelines = "__default__"

    # ------------------------------------------------------------------ runs
    def _close_stage(self, status: str) -> None:
        active = mlflow.active_run()
        if self.stage_run_id is not None and active is not None and active.info.run_id == self.stage_run_id:
            if self.stage in self.wall_times:
                mlflow.log_metric("stage_wall_seconds", self.wall_times[self.stage])
            mlflow.end_run(status)
        self.stage, self.stage_run_id = None, None

    def _open_stage(self, stage: str) -> None:
        self._close_stage(RunStatus.to_string(RunStatus.FINISHED))
        if mlflow.active_run() is None:  # tracking disabled for this pipeline: nothing to nest in
            return
        self._tag_parent()
        if stage in self.stage_runs:  # Kedro's topological order may interleave independent stages
            run = mlflow.start_run(run_id=self.stage_runs[stage], nested=True)
        else:
            run = mlflow.start_run(run_name=stage, nested=True, tags={"kedro.stage": stage})
        self.stage, self.stage_run_id = stage, run.info.run_id
        self.stage_runs[stage] = run.info.run_id

    @hook_impl
    def after_context_created(self, context) -> None:
        params = context.config_loader["parameters"]  # plain values (context.params holds validated models)
        loss = params.get("pretraining", {}).get("objective", {}).get("loss", "infonce")  # the model's default
        self.provenance = {
            "cpc.env": context.env or "base",
            "cpc.seed": str(params.get("seed", "")),
            "cpc.method": f"cpc-{loss}",
            "cpc.code_commit": code_commit(Path(context.project_path)),
            "cpc.config_hash": config_hash(default_seed_parameters(context.config_loader)),
        }

    def _tag_parent(self) -> None:
        """Once per run, on the parent run (the active one before any stage run is nested in it)."""
        if self.parent_tagged or mlflow.active_run() is None or not self.provenance:
            return
        p = self.provenance | {"cpc.pipelines": self.pipelines}
        name = f"{p['cpc.env']} · {p['cpc.method']} · seed {p['cpc.seed']}"
        if self.pipelines != "__default__":
            name += f" · {self.pipelines}"
        mlflow.set_tags(p | {"mlflow.runName": name})
        self.parent_tagged = True

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        self._reset()
        self.pipelines = ",".join(run_params.get("pipeline_names") or ["__default__"])
        self.catalog = catalog
        if WALL_TIMES in catalog and catalog.exists(WALL_TIMES):  # earlier runs' stages, read once
            self.recorded = catalog.load(WALL_TIMES)

    @hook_impl(tryfirst=True)
    def before_node_run(self, node: Node, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool) -> None:
        stage = node_stage(node)
        if stage is not None and stage != self.stage:
            self._open_stage(stage)
        if self.stage_run_id is not None:
            mlflow.log_params(typed_params(inputs))
        self.node_started = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Node, catalog: DataCatalog, inputs, outputs, is_async: bool) -> None:
        stage = node_stage(node)
        if stage is None:
            return
        self.wall_times[stage] = self.wall_times.get(stage, 0.0) + time.perf_counter() - self.node_started
        if self.catalog is not None and WALL_TIMES in self.catalog:
            merged = self.recorded | {k: round(v, 2) for k, v in self.wall_times.items()}
            self.catalog.save(WALL_TIMES, {s: merged[s] for s in (*STAGES, *merged) if s in merged})  # stage order

    @hook_impl(tryfirst=True)
    def on_node_error(self, error: Exception, node: Node, catalog: DataCatalog, inputs, is_async: bool) -> None:
        logger.error("Node %s of stage %s failed: its MLflow run is marked FAILED", node.name, self.stage)
        self._close_stage(RunStatus.to_string(RunStatus.FAILED))

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        self._close_stage(RunStatus.to_string(RunStatus.FINISHED))

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        self._close_stage(RunStatus.to_string(RunStatus.FAILED))
