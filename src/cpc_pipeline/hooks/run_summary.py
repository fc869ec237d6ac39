"""The parent MLflow run: provenance tags, headline metrics, the report, the run's parameters (package docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node

from cpc_pipeline.hooks.parameters import (
    RUN_PARAMETERS,
    default_seed_parameters,
)
from cpc_pipeline.provenance import code_commit, config_hash, pipelines_tag

REGISTERED_ENCODER = "cpc_pipeline.cpc_encoder"  # the model registry's name for the CPC encoder (catalog.yml)
HEADLINE_PROBES = ("mlp", "linear")
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
