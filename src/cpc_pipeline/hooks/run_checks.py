"""Checks that fail a hopeless run before any node works."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from cpc_pipeline.checks import check_run_configuration, check_tracking_store, sqlite_path


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
        check_run_configuration(catalog.load("parameters"), blocks)
