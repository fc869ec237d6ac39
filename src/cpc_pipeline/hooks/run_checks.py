"""Checks that fail a hopeless run before any node works."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from cpc_pipeline.checks import check_knn_grid, check_run_configuration, check_tracking_store, sqlite_path
from cpc_pipeline.data.config import SourceConfig
from cpc_pipeline.data.folder_splits import listed_train_labels
from cpc_pipeline.data.sources import local_train_labels
from cpc_pipeline.data.sources.common import SOURCE_NAMES
from cpc_pipeline.errors import ConfigurationError, MissingInputError
from cpc_pipeline.hooks.stage_runs import dataset_file
from cpc_pipeline.evaluation.protocol import ProbingConfig
from cpc_pipeline.methods import stages

TRAIN_DIGITS = "train_digits"  # data_processing's train split (catalog.yml), whose labels the probes subset


def check_parameter_blocks(pipeline, catalog: DataCatalog) -> None:
    """Every parameter the run's nodes read is defined in ``conf/``, or one ConfigurationError naming the blocks."""
    missing = sorted({n for n in pipeline.inputs() if n.startswith("params:") and n not in catalog})
    if missing:
        blocks = sorted({n.removeprefix("params:").split(".")[0] for n in missing})
        raise ConfigurationError(
            f"no parameters file in conf/ defines {', '.join(missing)}: a fresh clone has each block in "
            + ", ".join(f"conf/base/parameters_{b}.yml" for b in blocks)
            + "; restore it, or define the block in your environment's parameters"
        )


def check_inputs_exist(pipeline, catalog: DataCatalog) -> None:
    """Every file the run reads and does not write itself exists, or one MissingInputError naming each missing file
    and the stage that writes it."""
    producers = {  # from every stage's pipeline: a run loads only the pipelines it runs
        out: stage
        for stage in stages()
        for node in importlib.import_module(f"cpc_pipeline.pipelines.{stage}.pipeline").create_pipeline().nodes
        for out in node.outputs
    }
    missing = {}
    for name in sorted(pipeline.inputs()):
        if name == "parameters" or name.startswith("params:"):
            continue
        path = dataset_file(catalog, name)
        if path is not None and not catalog.exists(name):
            missing[name] = os.path.relpath(path) if Path(path).is_relative_to(Path.cwd()) else path
    if missing:
        writers = sorted({producers[n] for n in missing if producers.get(n)})
        raise MissingInputError(
            "this run reads files that do not exist: "
            + "; ".join(
                f"{path} ({name}, written by the {producers.get(name, '?')} stage)" for name, path in missing.items()
            )
            + (
                f". Run those stages first (kedro run --pipelines {','.join(writers)}), or the whole chain (kedro run)"
                if writers
                else ""
            )
        )


def check_probe_labels(pipeline, catalog: DataCatalog, parameters: dict[str, Any]) -> None:
    """The probes' grids against the labels they will have (:func:`~cpc_pipeline.checks.check_knn_grid`): the
    train labels this run reads from ``data/``, or those its source gives, when they are on this machine (a
    download is left to the run, which checks again)."""
    if "params:probing" not in pipeline.inputs() or TRAIN_DIGITS not in pipeline.all_inputs():
        return
    if TRAIN_DIGITS in pipeline.inputs():
        if not catalog.exists(TRAIN_DIGITS):
            return  # check_inputs_exist names it
        labels, where = catalog.load(TRAIN_DIGITS)["labels"], dataset_file(catalog, TRAIN_DIGITS)
    else:
        source = SourceConfig.model_validate(parameters.get("source", {}))
        labels = (
            listed_train_labels(source.folder)
            if source.folder is not None and source.name == "folder"
            else local_train_labels(source.name, source.roots, source.validation_size, source.seed)
        )
        if labels is None:
            return
        where = source.folder.root or source.folder.train if source.name == "folder" else SOURCE_NAMES[source.name]
    if (labels < 0).any():
        return  # pictures without labels: nothing is probed
    check_knn_grid(ProbingConfig.model_validate(parameters.get("probing", {})).probes, labels, str(where))


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
        blocks = {
            name.removeprefix("params:").split(".")[0] for name in pipeline.inputs() if name.startswith("params:")
        }
        check_parameter_blocks(pipeline, catalog)
        check_run_configuration(catalog.load("parameters"), blocks)
        check_inputs_exist(pipeline, catalog)
        check_probe_labels(pipeline, catalog, catalog.load("parameters"))
