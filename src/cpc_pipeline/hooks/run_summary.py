"""The parent MLflow run: provenance tags, headline metrics, the report, the run's parameters (package docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node

from cpc_pipeline.hooks.parameters import default_seed_parameters
from cpc_pipeline.methods import METHODS, headline_method
from cpc_pipeline.metric_names import probe_metric
from cpc_pipeline.provenance import code_commit, config_hash, pipelines_tag
from cpc_pipeline.reporting.sections import headline_lines
from cpc_pipeline.tracking import RUN_PARAMETERS_ARTIFACT

HEADLINE_PROBES = ("mlp", "linear")
# the catalog datasets whose values the parent run shows too (catalog.yml)
PROBE_METRICS, REPORT, SEQUENCE_PREVIEW, PLOT_SUFFIX = "probe_metrics", "report", "sequence_preview", "_plot"


def headline_metrics(probe_metrics: pd.DataFrame) -> dict[str, float]:
    """The parent run's probe figures: every encoder's MLP and linear test accuracy at the fewest and the
    most labels (``sequence_cpc.mlp.1pct_labels.test_accuracy``), and the supervised baseline trained end to end."""
    rows = probe_metrics[probe_metrics.encoder != "chance"]
    fractions = {rows.label_fraction.min(), rows.label_fraction.max()}
    keep = rows.label_fraction.isin(fractions) & rows.probe.isin((*HEADLINE_PROBES, "end_to_end"))
    return {probe_metric(r.encoder, r.probe, r.label_fraction): float(r.test_accuracy) for r in rows[keep].itertuples()}


def run_name(env: str, pipeline, seed: str, pipelines: str, loss: str) -> str:
    """The parent run's name: the environment, the methods this run trains (else the pipelines it ran), the seed."""
    nodes = {n.name.rsplit(".", 1)[-1] for n in pipeline.nodes}
    trained = [
        m.name + (f" ({loss} loss)" if m is headline_method() and loss != "infonce" else "")
        for m in METHODS.values()
        if m.training_node in nodes
    ]
    what = " + ".join(trained) or pipelines
    return f"{env} · {what} · seed {seed}" + (f" · {pipelines}" if trained and pipelines != "__default__" else "")


def short_description(probe_metrics: pd.DataFrame) -> str:
    """The parent run's description in the MLflow UI: the headline figures and where the full report is."""
    return "\n".join(
        [
            "**Headline** (frozen encoders, test split; every choice made on validation):",
            "",
            *headline_lines(probe_metrics),
            "",
            "The full report, with its plots, tables and configuration: the artifact `report/report.md` of this run.",
        ]
    )


class RunSummaryHook:
    def __init__(self) -> None:
        self.provenance: dict[str, str] = {}
        self.parameters: dict[str, Any] = {}
        self.loss = "infonce"
        self.parent_run_id: str | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        params = context.config_loader["parameters"]  # plain values (context.params holds validated models)
        self.loss = params.get("pretraining", {}).get("objective", {}).get("loss", "infonce")  # the model's default
        self.parameters = params
        self.provenance = {
            "cpc.env": context.env or "base",
            "cpc.seed": str(params.get("seed", "")),
            "cpc.method": f"cpc-{self.loss}",
            "cpc.code_commit": code_commit(Path(context.project_path)),
            "cpc.config_hash": config_hash(default_seed_parameters(context.config_loader)),
        }

    @hook_impl(trylast=True)  # after kedro-mlflow has opened the parent run
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        active = mlflow.active_run()
        self.parent_run_id = active.info.run_id if active is not None else None
        if self.parent_run_id is None:
            return
        mlflow.log_dict(self.parameters, RUN_PARAMETERS_ARTIFACT)  # the report reads it back (tracking.py)
        pipelines = pipelines_tag(run_params.get("pipeline_names"))
        p = self.provenance | {"cpc.pipelines": pipelines}
        name = run_name(p["cpc.env"], pipeline, p["cpc.seed"], pipelines, self.loss)
        mlflow.set_tags(p | {"mlflow.runName": name})
        mlflow.set_experiment_tag("mlflow.experimentKind", "custom_model_development")

    @hook_impl
    def after_node_run(self, node: Node, catalog: DataCatalog, inputs, outputs, is_async: bool) -> None:
        if self.parent_run_id is None:
            return
        client = mlflow.MlflowClient()
        history = outputs.get(headline_method().history)
        if history is not None and "val_sequence_accuracy" in history and len(history):
            client.log_metric(
                self.parent_run_id,
                f"{headline_method().slug}.val_sequence_accuracy",
                float(history.val_sequence_accuracy.iloc[-1]),
            )
        metrics = outputs.get(PROBE_METRICS)
        if metrics is not None and len(metrics):  # none without labels
            headline = headline_metrics(metrics)
            for key, value in headline.items():
                client.log_metric(self.parent_run_id, key, value)
            self._tag_registered_encoders(client, metrics)
            client.set_tag(self.parent_run_id, "mlflow.note.content", short_description(metrics))
        for name, value in outputs.items():
            if name.endswith(PLOT_SUFFIX) or name == SEQUENCE_PREVIEW:
                client.log_figure(self.parent_run_id, value, f"report/{name}.png")
        if REPORT in outputs:
            client.log_text(self.parent_run_id, outputs[REPORT], "report/report.md")

    def _tag_registered_encoders(self, client: mlflow.MlflowClient, metrics: pd.DataFrame) -> None:
        """Each encoder version this run registered carries its own probe accuracies and the run, so the registry
        sorts a method's encoders by them ("the best encoder so far" is one click)."""
        children = client.search_runs(
            [client.get_run(self.parent_run_id).info.experiment_id],
            f"tags.`mlflow.parentRunId` = '{self.parent_run_id}'",
        )
        ids = {c.info.run_id for c in children}
        for method in METHODS.values():
            if method.registered_model is None:
                continue
            rows = metrics[(metrics.encoder == method.key) & metrics.probe.isin(HEADLINE_PROBES)]
            try:
                versions = client.search_model_versions(f"name = '{method.registered_model}'")
            except mlflow.exceptions.MlflowException:  # nothing registered under this name yet
                continue
            for version in (v for v in versions if v.run_id in ids):
                for r in rows.itertuples():
                    client.set_model_version_tag(
                        method.registered_model,
                        version.version,
                        f"{r.probe}.{100 * r.label_fraction:g}pct_labels.test_accuracy",
                        f"{r.test_accuracy:.4f}",
                    )
                client.set_model_version_tag(method.registered_model, version.version, "run", self.parent_run_id)
