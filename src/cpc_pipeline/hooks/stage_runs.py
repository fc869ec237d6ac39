"""One nested MLflow run per stage, with the datasets it read and its wall time (package docstring)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node
from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import RunStatus

from cpc_pipeline.hooks.data_source import DIGIT_SOURCE
from cpc_pipeline.hooks.parameters import typed_params
from cpc_pipeline.hooks.stages import node_stage
from cpc_pipeline.provenance import file_md5, files_md5
from cpc_pipeline.tracking import STAGE_TAG, STAGE_WALL_SECONDS

logger = logging.getLogger(__name__)


def dataset_file(catalog: DataCatalog, name: str) -> str | None:
    """The file behind catalog dataset ``name`` (a wrapped dataset's, for kedro-mlflow's), from its resolved
    configuration; None for datasets in memory."""
    resolver = catalog.config_resolver
    config = resolver.config.get(name) or resolver.resolve_pattern(name)
    return config.get("filepath") or (config.get("dataset") or {}).get("filepath")


class StageRunsHook:
    """Opens one child run per stage and logs into it what the stage read; its duration is the stage's node time.

    Kedro's sequential order interleaves independent stages, so a stage's run may be reopened later; MLflow would
    then count the time in between as the stage's. Each time the run closes, its end is set to its start plus the
    stage's summed node time, so the runs table's Duration is the stage's own (``stage_wall_seconds``).
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.stage: str | None = None
        self.stage_run_id: str | None = None
        self.stage_runs: dict[str, str] = {}  # stage -> its child run, resumed if the runner comes back
        self.inputs_logged: set[tuple[str, str]] = set()  # (stage, dataset)
        self.node_started = 0.0
        self.wall_times: dict[str, float] = {}

    # ------------------------------------------------------------------ runs
    def _close_stage(self, status: str) -> None:
        active = mlflow.active_run()
        if self.stage_run_id is not None and active is not None and active.info.run_id == self.stage_run_id:
            seconds = self.wall_times.get(self.stage, 0.0)
            mlflow.log_metric(STAGE_WALL_SECONDS, seconds)
            mlflow.end_run(status)
            mlflow.MlflowClient().set_terminated(
                self.stage_run_id, status, end_time=active.info.start_time + round(1000 * seconds)
            )
        self.stage, self.stage_run_id = None, None

    def _open_stage(self, stage: str) -> None:
        self._close_stage(RunStatus.to_string(RunStatus.FINISHED))
        if mlflow.active_run() is None:  # tracking disabled for this pipeline: nothing to nest in
            return
        if stage in self.stage_runs:  # Kedro's topological order may interleave independent stages
            run = mlflow.start_run(run_id=self.stage_runs[stage], nested=True)
        else:
            run = mlflow.start_run(run_name=stage, nested=True, tags={STAGE_TAG: stage})
        self.stage, self.stage_run_id = stage, run.info.run_id
        self.stage_runs[stage] = run.info.run_id

    def _log_inputs(self, names, catalog: DataCatalog) -> None:
        """The stage's persisted inputs as MLflow dataset inputs: name, file and its md5, once per stage."""
        for name in names:
            if name.startswith("params:") or name == "parameters" or (self.stage, name) in self.inputs_logged:
                continue
            self.inputs_logged.add((self.stage, name))
            path = dataset_file(catalog, name)
            if path is not None and Path(str(path)).is_file():
                mlflow.log_input(file_dataset(str(path), name, file_md5(path)))

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        self._reset()

    @hook_impl(tryfirst=True)
    def before_node_run(self, node: Node, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool) -> None:
        stage = node_stage(node)
        if stage is not None and stage != self.stage:
            self._open_stage(stage)
        if self.stage_run_id is not None:
            mlflow.log_params(typed_params(inputs))
            self._log_inputs(node.inputs, catalog)
        self.node_started = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Node, catalog: DataCatalog, inputs, outputs, is_async: bool) -> None:
        stage = node_stage(node)
        if stage is None:
            return
        self.wall_times[stage] = self.wall_times.get(stage, 0.0) + time.perf_counter() - self.node_started
        source = outputs.get(DIGIT_SOURCE)
        if self.stage_run_id is not None and source and source.get("files"):  # the raw data, by its files' md5
            mlflow.log_input(file_dataset(source["location"], source["source"], files_md5(source["files"])))

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


def file_dataset(path: str, name: str, md5: str) -> MetaDataset:
    """An MLflow dataset input for local file(s) at ``path``: its name, source and digest (first 8 hex of md5)."""
    source = get_dataset_source_from_json(json.dumps({"uri": path}), source_type="local")
    return MetaDataset(source, name=name, digest=md5[:8])
