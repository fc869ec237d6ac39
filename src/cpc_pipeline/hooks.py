"""The Kedro side of tracking: one nested MLflow run per stage, a parent run that answers "how good was
this run?" at a glance, and checks that fail a hopeless run before it starts.

kedro-mlflow opens one MLflow run per ``kedro run`` and logs every node's parameters and the catalog's
MLflow datasets into the *active* run. It has no notion of stages, so :class:`StageRunsHook` adds one
level: before the first node of a stage (the node's tag among :data:`STAGES`) it opens a child run named
after the stage; everything logged while that stage's nodes run (parameters, metric histories,
artifacts, models) lands in the child, with the datasets the stage read as MLflow dataset inputs (file
and md5, so the runs table says what was trained on). The child is closed FINISHED when the next stage
starts or the pipeline ends, and FAILED when one of its nodes raises. Ordering with kedro-mlflow's own
hooks matters: ``before_node_run`` runs first (``tryfirst``), so kedro-mlflow's parameter logging already
sees the stage run; kedro-mlflow re-opens its parent run before every node and tolerates it being
already active (its id is the bottom of MLflow's run stack), so the child stays open across the stage.
Wall times: the stage's node times are merged into the catalog dataset ``stage_wall_times`` after every
node (the report reads it) and logged to each stage run as ``stage_wall_seconds``.

:class:`RunSummaryHook` works on the parent run, which the MLflow UI lists: its name and tags say what
produced it (:mod:`cpc_pipeline.provenance`: environment, pipelines, seed, code commit, a hash of the
parameters at the default seed, so a study's seeds share it; ``benchmarks/headline.py`` finds earlier
seeds by these tags), its metrics are the headline figures (so runs compare in the runs table without
opening children), its description is the generated report, and the run's whole configuration is one
artifact, ``run_parameters.json``, which the report reads too: no stage run repeats other stages'
parameters. It tags the experiment as model development (UIs that read ``mlflow.experimentKind`` then open on its
training runs; MLflow 3.17's UI follows its own GenAI / Model training switch instead) and
tags the registered CPC encoder's version with the run's probe accuracies.

:class:`RunChecksHook` fails a run that cannot succeed before any node works (:mod:`cpc_pipeline.checks`).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node

from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import RunStatus
from pydantic import BaseModel

from cpc_pipeline.checks import check_run_configuration, check_tracking_store, sqlite_path
from cpc_pipeline.provenance import code_commit, config_hash, file_md5, files_md5, pipelines_tag
from cpc_pipeline.training.host import KEEP_SUBNORMALS, flush_subnormals, release_freed_memory, reuse_freed_memory

logger = logging.getLogger(__name__)

STAGES = ("data_processing", "pretraining", "simclr", "patch_cpc", "probing", "reporting")
WALL_TIMES = "stage_wall_times"
RUN_PARAMETERS = "run_parameters"
REGISTERED_ENCODER = "cpc_pipeline.cpc_encoder"  # the model registry's name for the CPC encoder (catalog.yml)
HEADLINE_PROBES = ("mlp", "linear")


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
    """The run's parameters with every runtime override but ``seed``: what a study's seeds have in common.

    Kedro resolves ``${runtime_params:seed}`` (every stage's seed) through one process-wide OmegaConf
    resolver, bound to the loader that registered it last and caching its runtime parameters; a copy of the
    loader with other runtime parameters would still resolve the run's seed. So the copy registers its own
    resolver for this one read, and the run's loader takes it back after.
    """
    loader = copy.copy(config_loader)
    loader.runtime_params = {k: v for k, v in (config_loader.runtime_params or {}).items() if k != "seed"}
    loader._runtime_params_oc = None
    loader._register_runtime_params_resolver()
    try:
        return loader["parameters"]
    finally:
        config_loader._register_runtime_params_resolver()


def run_config_hash(project_path: str | Path, env: str | None, runtime_params: dict | None = None) -> str:
    """The ``cpc.config_hash`` a ``kedro run --env env --params ...`` in ``project_path`` is tagged with."""
    from kedro.config import OmegaConfigLoader

    from cpc_pipeline.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(str(Path(project_path) / "conf"), env=env, runtime_params=runtime_params,
                               **CONFIG_LOADER_ARGS)
    return config_hash(default_seed_parameters(loader))


class StageRunsHook:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.stage: str | None = None
        self.stage_run_id: str | None = None
        self.stage_runs: dict[str, str] = {}  # stage -> its child run, resumed if the runner comes back
        self.inputs_logged: set[tuple[str, str]] = set()  # (stage, dataset)
        self.node_started = 0.0
        self.wall_times: dict[str, float] = {}
        self.catalog: DataCatalog | None = None
        self.recorded: dict[str, float] = {}

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
        if stage in self.stage_runs:  # Kedro's topological order may interleave independent stages
            run = mlflow.start_run(run_id=self.stage_runs[stage], nested=True)
        else:
            run = mlflow.start_run(run_name=stage, nested=True, tags={"kedro.stage": stage})
        self.stage, self.stage_run_id = stage, run.info.run_id
        self.stage_runs[stage] = run.info.run_id

    def _log_inputs(self, names, catalog: DataCatalog) -> None:
        """The stage's persisted inputs as MLflow dataset inputs: name, file and its md5, once per stage."""
        for name in names:
            if name.startswith("params:") or name == "parameters" or (self.stage, name) in self.inputs_logged:
                continue
            self.inputs_logged.add((self.stage, name))
            dataset = catalog.get(name)
            path = dataset._describe().get("filepath") if dataset is not None and hasattr(dataset, "_describe") else None
            if path is not None and Path(str(path)).is_file():
                mlflow.log_input(file_dataset(str(path), name, file_md5(path)))

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        self._reset()
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
            self._log_inputs(node.inputs, catalog)
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
        source = outputs.get("digit_source")
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


def headline_metrics(probe_metrics: pd.DataFrame) -> dict[str, float]:
    """The parent run's probe figures: every encoder's MLP and linear test accuracy at the fewest and the
    most labels (``cpc.mlp.labels_0.01.test_accuracy``), and the supervised baseline trained end to end."""
    rows = probe_metrics[probe_metrics.encoder != "chance"]
    fractions = {rows.label_fraction.min(), rows.label_fraction.max()}
    keep = rows.label_fraction.isin(fractions) & rows.probe.isin((*HEADLINE_PROBES, "end_to_end"))
    return {f"{r.encoder}.{r.probe}.labels_{r.label_fraction:g}.test_accuracy": float(r.test_accuracy)
            for r in rows[keep].itertuples()}


class RunSummaryHook:
    def __init__(self) -> None:
        self.provenance: dict[str, str] = {}
        self.parameters: dict[str, Any] = {}
        self.parent_run_id: str | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        params = context.config_loader["parameters"]  # plain values (context.params holds validated models)
        loss = params.get("pretraining", {}).get("objective", {}).get("loss", "infonce")  # the model's default
        self.parameters = params
        self.provenance = {
            "cpc.env": context.env or "base",
            "cpc.seed": str(params.get("seed", "")),
            "cpc.method": f"cpc-{loss}",
            "cpc.code_commit": code_commit(Path(context.project_path)),
            "cpc.config_hash": config_hash(default_seed_parameters(context.config_loader)),
        }

    @hook_impl(trylast=True)  # after kedro-mlflow has opened the parent run
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        active = mlflow.active_run()
        self.parent_run_id = active.info.run_id if active is not None else None
        if RUN_PARAMETERS in catalog:  # the report's configuration section, and an artifact of the parent
            catalog.save(RUN_PARAMETERS, self.parameters)
        if self.parent_run_id is None:
            return
        pipelines = pipelines_tag(run_params.get("pipeline_names"))
        p = self.provenance | {"cpc.pipelines": pipelines}
        name = f"{p['cpc.env']} · {p['cpc.method']} · seed {p['cpc.seed']}"
        if pipelines != "__default__":
            name += f" · {pipelines}"
        mlflow.set_tags(p | {"mlflow.runName": name})
        mlflow.set_experiment_tag("mlflow.experimentKind", "custom_model_development")

    @hook_impl
    def after_node_run(self, node: Node, catalog: DataCatalog, inputs, outputs, is_async: bool) -> None:
        if self.parent_run_id is None:
            return
        client = mlflow.MlflowClient()
        history = outputs.get("pretraining_history")
        if history is not None and "val_sequence_accuracy" in history and len(history):
            client.log_metric(self.parent_run_id, "cpc.val_sequence_accuracy", float(history.val_sequence_accuracy.iloc[-1]))
        metrics = outputs.get("probe_metrics")
        if metrics is not None:
            headline = headline_metrics(metrics)
            for key, value in headline.items():
                client.log_metric(self.parent_run_id, key, value)
            self._tag_registered_encoder(client, headline)
        for name, value in outputs.items():
            if name.endswith("_plot") or name == "sequence_preview":
                client.log_figure(self.parent_run_id, value, f"report/{name}.png")
        if "report" in outputs:  # the description the run's page shows, as markdown
            client.set_tag(self.parent_run_id, "mlflow.note.content", outputs["report"])
            client.log_text(self.parent_run_id, outputs["report"], "report/report.md")

    def _tag_registered_encoder(self, client: mlflow.MlflowClient, headline: dict[str, float]) -> None:
        """The encoder version this run registered carries the run's probe accuracies, so the registry sorts
        encoders by them ("the best encoder so far" is one click)."""
        children = client.search_runs([client.get_run(self.parent_run_id).info.experiment_id],
                                      f"tags.`mlflow.parentRunId` = '{self.parent_run_id}'")
        ids = {c.info.run_id for c in children}
        try:
            versions = client.search_model_versions(f"name = '{REGISTERED_ENCODER}'")
        except mlflow.exceptions.MlflowException:  # nothing registered yet
            return
        for version in versions:
            if version.run_id in ids:
                for key, value in headline.items():
                    if key.startswith("cpc."):
                        client.set_model_version_tag(REGISTERED_ENCODER, version.version, key.removeprefix("cpc."),
                                                     f"{value:.4f}")
                client.set_model_version_tag(REGISTERED_ENCODER, version.version, "run", self.parent_run_id)


class RunChecksHook:
    """Fails a run that cannot succeed before any node does work (:mod:`cpc_pipeline.checks`): a damaged or
    locked MLflow store before kedro-mlflow opens it (``tryfirst``), and parameter blocks that cannot work
    together, or on this machine, before the first node runs."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        loader = context.config_loader
        if "mlflow" not in loader.config_patterns:  # as kedro-mlflow registers it, a moment later
            loader.config_patterns.update({"mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"]})
        try:
            uri = loader["mlflow"]["server"]["mlflow_tracking_uri"] or ""
        except Exception:  # noqa: BLE001 - no mlflow.yml: kedro-mlflow's defaults, nothing to check
            return
        path = sqlite_path(uri, context.project_path)
        if path is not None:
            check_tracking_store(path)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        blocks = {name.removeprefix("params:").split(".")[0] for name in pipeline.inputs() if name.startswith("params:")}
        check_run_configuration(catalog.load("parameters"), blocks)


class HostSettingsHook:
    """Sets this process's allocator and subnormal floats before the first node (:mod:`cpc_pipeline.training.host`).

    Why a hook: both settings are per process and must precede the training and extraction nodes, whichever
    pipeline runs, and flushing subnormals reaches the intra-op threads only when it comes before the first
    parallel op creates them; launched distributed workers set both themselves. On the 2-core CPU the allocator
    took a SimCLR step from 0.73 to 0.42 s (the kernel's page faulting and zeroing of fresh pages for every large
    activation), and flushing kept patch CPC's steps at 0.25 s instead of slowing to 0.8 s. After each node, the
    memory it freed goes back to the kernel, so a stage's peak is its largest node's (probing: 4.6 GiB of RSS
    before, when each feature extraction left about 1 GiB in the heap).
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        if reuse_freed_memory():
            logger.info("malloc: large blocks from the heap, freed memory kept for reuse (CPC_MALLOC_DEFAULTS=1: off)")
        if flush_subnormals():
            logger.info("subnormal floats flushed to zero on every CPU thread (CPC_KEEP_SUBNORMALS=1: off)")
        elif not os.environ.get(KEEP_SUBNORMALS):
            logger.warning("subnormal floats could not be flushed on every CPU thread: CPU training can slow down "
                           "several times as they accumulate")

    @hook_impl
    def after_node_run(self, node) -> None:
        """What the node freed goes back to the kernel: a stage's peak memory is its largest node's, not the sum
        of what its nodes left in the heap (:func:`cpc_pipeline.training.host.release_freed_memory`)."""
        release_freed_memory()
