"""`kedro run --env smoke`: the whole chain on genuine MNIST, then what a user looks at afterwards:
the report and its files, the MLflow runs, kedro-viz's API and the notebook."""

import json

import mlflow
import mlflow.pytorch
import nbformat
import pandas as pd
import pytest
import torch
from mlflow.entities import RunStatus
from nbclient import NotebookClient

from cpc_pipeline.hooks import STAGES
from cpc_pipeline.methods import METHODS
from cpc_pipeline.metric_names import probe_metric
from cpc_pipeline.models import ReferenceEncoderSpec
from tests.conftest import REPO, SHARED_DATA as SHARED, run_kedro

pytestmark = pytest.mark.slow


def run_parameters(project) -> dict:
    """The parameters the smoke run resolved (base, then the smoke environment), as Kedro's context loads them."""
    from kedro.framework.project import settings

    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(project / "conf"), env="smoke", **settings.CONFIG_LOADER_ARGS)
    return loader["parameters"]


def runs_of(project):
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["cpc_pipeline"], output_format="list")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return parents, runs


def test_pretraining_writes_weights_checkpoint_and_history(smoke_run):
    models = smoke_run / "data" / "06_models"
    encoder = ReferenceEncoderSpec(padding=1).build(1, 28)
    encoder.load_state_dict(torch.load(models / "cpc_encoder.pt", weights_only=True))  # rebuilds the config
    assert (models / "cpc_checkpoint.pt").exists()
    history = pd.read_csv(smoke_run / "data" / "07_model_output" / "pretraining_history.csv")
    assert list(history.epoch) == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy_k1", "val_sequence_accuracy", "val_mi_bound"} <= set(history)


def test_report_metrics_and_plots_are_written(smoke_run):
    reporting = smoke_run / "data" / "08_reporting"
    for plot in (
        "sequence_preview",
        "pretraining_curves_plot",
        "step_accuracy_plot",
        "label_efficiency_plot",
        "confusion_matrix_plot",
        "embedding_plot",
    ):
        assert (reporting / f"{plot}.png").stat().st_size > 10_000, plot

    metrics = pd.read_csv(reporting / "probe_metrics.csv")
    rows = set(zip(metrics.encoder, metrics.probe, metrics.label_fraction))
    fractions = set(run_parameters(smoke_run)["probing"]["probes"]["label_fractions"])
    assert set(metrics.label_fraction) == fractions | {0.0}  # the configured budgets, and chance's none
    for encoder in ("cpc", "simclr", "patch_cpc", "random", "supervised"):
        for probe in ("mlp", "linear", "knn"):
            assert {(encoder, probe, f) for f in fractions} <= rows
    assert {("supervised", "end_to_end", f) for f in fractions} <= rows
    assert ("chance", "uniform_guess", 0.0) in rows
    assert metrics.test_accuracy.between(0, 1).all() and metrics.test_macro_f1.between(0, 1).all()
    assert (metrics.test_accuracy_low95 < metrics.test_accuracy).all()  # the test set's 95 % interval (Wilson)
    assert (metrics.test_accuracy < metrics.test_accuracy_high95).all()
    full = metrics[metrics.label_fraction == 1.0].set_index(["encoder", "probe"]).test_accuracy
    assert full["cpc", "linear"] > full["random", "linear"] + 0.02  # pretraining helped (smoke: ~+7 points)
    assert full["supervised", "end_to_end"] > 0.9

    report = (reporting / "report.md").read_text()
    for section in (
        "## Headline",
        "## Data",
        "## Pretraining",
        "## Probes and baselines",
        "## Plots",
        "## Wall time per stage",
        "## Configuration",
    ):
        assert section in report
    assert "genuine MNIST" in report and "embedding_plot.png" in report and "## Methods side by side" in report
    assert "## What each encoder was trained with" in report and "| cpc | weak |" in report
    assert (
        "| simclr | none |" in report and "| patch_cpc | none |" in report and "Label-free encoders compared" in report
    )
    assert "- patch CPC encoder, frozen: MLP" in report and "- **sequence CPC encoder, frozen: MLP" in report
    assert "MNIST test split" in report and "Chance: 10.0%." in report
    assert "Cited, not measured by this run" in report and "99.0%" in report and "davidtellez" in report
    assert set(metrics.encoder_supervision) == {"none", "weak", "full"}
    assert (metrics.labels_used == metrics.train_labels + metrics.selection_labels).all()
    budget = metrics[(metrics.encoder == "cpc") & (metrics.label_fraction == 0.01)]
    assert budget.labels_used.between(590, 610).all()  # 1% of the training AND of the validation labels (per class)
    times = json.loads((reporting / "stage_wall_times.json").read_text())  # read back from the stage runs
    assert list(times) == list(STAGES[:-1]) and all(t > 0 for t in times.values())
    for stage in STAGES[:-1]:
        assert f"| {stage} |" in report


def test_one_mlflow_run_with_a_finished_child_per_stage(smoke_run):
    parents, runs = runs_of(smoke_run)
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == set(STAGES) and len(runs) == 1 + len(STAGES)  # one child per stage, even if resumed
    assert all(c.info.status == "FINISHED" for c in children.values())
    for child in children.values():  # the runs table's Duration is the stage's own node time, though stages interleave
        seconds = child.data.metrics["stage_wall_seconds"]
        assert seconds > 0 and (child.info.end_time - child.info.start_time) / 1000 == pytest.approx(seconds, rel=0.1)

    client = mlflow.MlflowClient()
    pre = children["pretraining"]
    assert pre.data.params["pretraining.objective.loss"] == "infonce"  # the stage's own parameters
    assert [m.step for m in client.get_metric_history(pre.info.run_id, "pretraining.val_loss")] == [1, 2]
    assert "data.uses_genuine_mnist" in children["data_processing"].data.metrics
    assert "probing.sequence_cpc.mlp.100pct_labels.test_accuracy" in children["probing"].data.metrics
    assert "probing.simclr.linear.100pct_labels.test_accuracy" in children["probing"].data.metrics
    assert [m.step for m in client.get_metric_history(children["simclr"].info.run_id, "simclr.val_knn_accuracy")] == [
        1,
        2,
    ]
    patch = children["patch_cpc"].info.run_id
    for metric in (
        "patch_cpc.val_knn_accuracy",
        "patch_cpc.val_mi_bound",
        "patch_cpc.val_accuracy_down_k1",
        "patch_cpc.val_accuracy_up_k2",
    ):
        assert [m.step for m in client.get_metric_history(patch, metric)] == [1, 2], metric
    assert "probing.sequence_cpc.mlp.100pct_labels.test_accuracy" not in parent.data.metrics
    artifacts = {a.path for a in client.list_artifacts(children["reporting"].info.run_id)}
    assert {"report.md", "embedding_plot.png", "label_efficiency_plot.png"} <= artifacts
    assert "probe_metrics.csv" in {a.path for a in client.list_artifacts(children["probing"].info.run_id)}

    # the parent run answers "how good was it?" without opening a child
    for method in METHODS.values():
        for probe in ("mlp", "linear"):
            for fraction in (0.01, 1.0):
                assert 0 <= parent.data.metrics[probe_metric(method.key, probe, fraction)] <= 1
    assert "supervised.end_to_end.100pct_labels.test_accuracy" in parent.data.metrics
    assert parent.data.metrics["sequence_cpc.val_sequence_accuracy"] == pytest.approx(
        client.get_metric_history(pre.info.run_id, "pretraining.val_sequence_accuracy")[-1].value
    )
    description = parent.data.tags["mlflow.note.content"]  # the headline, short; the report is an artifact
    assert description.startswith("**Headline**") and "report/report.md" in description and len(description) < 2000
    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/label_efficiency_plot.png", "report/sequence_preview.png"} <= parent_artifacts
    assert "run_parameters.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    experiment = client.get_experiment(parent.info.experiment_id)
    assert (
        experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    )  # UIs that read the kind open on the runs

    # what each stage read, as dataset inputs; each stage holds only its own parameters
    inputs = lambda run: {d.dataset.name: d.dataset for d in client.get_run(run.info.run_id).inputs.dataset_inputs}  # noqa: E731
    mnist = inputs(children["data_processing"])["mnist"]
    assert mnist.source_type == "local" and len(mnist.digest) == 8
    assert {"train_digits", "validation_digits", "train_sequences"} <= set(inputs(pre))
    assert all(k.startswith("reporting") for k in children["reporting"].data.params), children["reporting"].data.params

    # every trained encoder is registered, by the stage that trained it; its version carries its probe accuracies
    for method in (m for m in METHODS.values() if m.registered):
        (version,) = client.search_model_versions(f"name = '{method.registered_model}'")
        assert version.run_id == children[method.stage].info.run_id, method.key
        assert float(version.tags["mlp.100pct_labels.test_accuracy"]) == pytest.approx(
            parent.data.metrics[probe_metric(method.key, "mlp", 1.0)], abs=1e-4
        )
        assert version.tags["run"] == parent.info.run_id

    # the encoder is also an MLflow PyTorch model (logged in the pretraining run) that loads back
    logged = mlflow.search_logged_models(
        experiment_ids=[parent.info.experiment_id], filter_string="name = 'cpc_encoder'", output_format="list"
    )
    assert [m.source_run_id for m in logged] == [pre.info.run_id]
    encoder = ReferenceEncoderSpec(padding=1).build(1, 28)
    encoder.load_state_dict(torch.load(smoke_run / "data" / "06_models" / "cpc_encoder.pt", weights_only=True))
    loaded = mlflow.pytorch.load_model(logged[0].model_uri).eval()
    images = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), encoder.eval()(images))


def test_the_run_records_what_produced_it_and_the_study_reads_it_back(smoke_run):
    """The parent run's provenance tags, and benchmarks/headline.py's aggregation over them."""
    import sys

    from cpc_pipeline.hooks import run_config_hash

    sys.path.insert(0, str(REPO / "benchmarks"))
    import headline

    (parent,), _ = runs_of(smoke_run)
    tags = parent.data.tags
    assert parent.info.run_name == "smoke · sequence CPC + SimCLR + patch CPC · seed 0"  # what it trained
    assert (tags["cpc.env"], tags["cpc.seed"], tags["cpc.pipelines"]) == ("smoke", "0", "__default__")
    assert tags["cpc.code_commit"] == "unknown"  # the test's copy of the project is no git checkout
    overrides = {"source": {"roots": [str(smoke_run.parent.parent / "x")]}}  # any other override changes the hash
    assert tags["cpc.config_hash"] == run_config_hash(smoke_run, "smoke", {"source": {"roots": [str(SHARED)]}})
    assert tags["cpc.config_hash"] == run_config_hash(
        smoke_run, "smoke", {"source": {"roots": [str(SHARED)]}, "seed": 5}
    )
    assert tags["cpc.config_hash"] != run_config_hash(smoke_run, "smoke", overrides)

    client = mlflow.MlflowClient()
    found = headline.find_run(client, parent.info.experiment_id, {k: tags[k] for k in headline_tags(tags)})
    assert found.info.run_id == parent.info.run_id
    record = headline.read_seed(client, parent.info.experiment_id, found)
    assert record["pretraining"]["epochs"] == 2 and len(record["pretraining"]["history"]["val_sequence_accuracy"]) == 2
    assert set(record["stage_wall_seconds"]) == set(STAGES)
    table = pd.read_csv(smoke_run / "data" / "08_reporting" / "probe_metrics.csv")
    cpc_mlp = table[(table.encoder == "cpc") & (table.probe == "mlp") & (table.label_fraction == 0.01)].iloc[0]
    study = headline.aggregate({0: record, 1: record})
    row = next(r for r in study["probes"] if (r["encoder"], r["probe"], r["label_fraction"]) == ("cpc", "mlp", 0.01))
    assert row["test_accuracy"]["mean"] == pytest.approx(cpc_mlp.test_accuracy, abs=5e-5)  # the CSV keeps 4 digits
    assert row["test_accuracy"]["std"] == 0 and row["test_accuracy"]["per_seed"].keys() == {"0", "1"}
    assert row["labels_used"] == cpc_mlp.labels_used and row["encoder_supervision"] == "weak"


def headline_tags(tags):
    return ("cpc.code_commit", "cpc.config_hash", "cpc.env", "cpc.pipelines", "cpc.seed")


@pytest.fixture(scope="module")
def viz_client(smoke_run):
    """Kedro-Viz's API on the smoke run's project, loaded once for the tests below."""
    from fastapi.testclient import TestClient
    from kedro_viz.api.apps import create_api_app_from_project
    from kedro_viz.server import load_and_populate_data

    load_and_populate_data(smoke_run, env="smoke")
    return TestClient(create_api_app_from_project(smoke_run))


def test_kedro_viz_api_lists_every_pipeline(viz_client):
    response = viz_client.get("/api/main")
    assert response.status_code == 200
    body = response.json()
    assert set(STAGES) | {"__default__"} <= {p["id"] for p in body["pipelines"]}
    names = {n["name"] for n in body["nodes"]}
    assert {"probe_metrics", "cpc_encoder", "report", "params:probing"} <= names  # dataset names unchanged
    groups = {n["id"] for n in body["nodes"] if n["type"] == "modularPipeline"}
    # each stage collapses to one box; the per-encoder probing namespaces nest inside probing
    assert set(STAGES) | {f"probing.{e}" for e in ("cpc", "random", "supervised", "simclr")} <= groups
    root = {
        child["id"] for child in body["modular_pipelines"]["__root__"]["children"] if child["type"] == "modularPipeline"
    }
    assert root == set(STAGES)  # collapsed, the graph is the five stages
    probing = {child["id"] for child in body["modular_pipelines"]["probing"]["children"]}
    assert {f"probing.{e}" for e in ("cpc", "random", "supervised", "simclr")} <= probing
    tasks = [n for n in body["nodes"] if n["type"] == "task"]
    assert tasks and all(n["modular_pipelines"][0].split(".")[0] in STAGES for n in tasks)  # no node left outside


def test_kedro_viz_shows_a_producer_for_everything_the_report_reads(viz_client):
    body = viz_client.get("/api/main").json()
    by_id = {n["id"]: n for n in body["nodes"]}
    (report,) = [n for n in body["nodes"] if n["type"] == "task" and n["name"] == "build_report"]
    inputs = [by_id[e["source"]] for e in body["edges"] if e["target"] == report["id"]]
    datasets = [n for n in inputs if n["type"] == "data"]
    assert {"run_parameters", "stage_wall_times", "probe_metrics", "digit_source"} <= {n["name"] for n in datasets}
    produced = {e["target"] for e in body["edges"] if by_id[e["source"]]["type"] == "task"}
    assert [n["name"] for n in datasets if n["id"] not in produced] == []


def test_kedro_viz_shows_the_last_runs_node_statuses(viz_client, smoke_run, monkeypatch):
    """The default runner is Kedro's sequential one, so Kedro-Viz's hook records the run's node events."""
    from kedro.framework.project import pipelines

    monkeypatch.chdir(smoke_run)  # Kedro-Viz reads .viz/kedro_pipeline_events.json of the project it is started in
    body = viz_client.get("/api/run-status").json()
    assert body["pipeline"]["status"] == "success"
    assert len(body["nodes"]) == len(pipelines["__default__"].nodes)
    assert {n["status"] for n in body["nodes"].values()} == {"success"}


@pytest.mark.parametrize(
    ("dataset", "kind"),
    [
        ("probe_metrics", "TablePreview"),
        ("pretraining_history", "TablePreview"),
        ("step_accuracy_plot", "ImagePreview"),
        ("report", "HTMLPreview"),
        ("run_parameters", "JSONPreview"),
    ],
)
def test_kedro_viz_previews_tables_plots_and_the_report(viz_client, dataset, kind):
    node = next(n for n in viz_client.get("/api/main").json()["nodes"] if n["name"] == dataset)
    body = viz_client.get(f"/api/nodes/{node['id']}").json()
    assert body["preview_type"] == kind and body["preview"]
    if kind == "HTMLPreview":  # the markdown report rendered: its title and its tables
        assert "<h1>" in body["preview"] and "<table>" in body["preview"]


def test_notebook_runs_against_the_catalog(smoke_run, monkeypatch):
    monkeypatch.setenv("KEDRO_ENV", "smoke")
    nb = nbformat.read(REPO / "notebooks" / "cpc_pipeline_run.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(smoke_run)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # sequences, training curves, embedding map


def test_a_failing_node_marks_its_stage_run_and_the_run_failed(kedro_project):
    params = {
        "source.roots": [str(kedro_project / "nowhere")],
        "source.download": False,
        "source.fallback_to_sklearn_digits": False,
    }
    with pytest.raises(Exception, match="MNIST"):
        run_kedro(kedro_project, "data_processing", params, env="smoke")
    parents, runs = runs_of(kedro_project)
    assert [p.info.status for p in parents] == [RunStatus.to_string(RunStatus.FAILED)]
    children = [r for r in runs if r not in parents]
    assert [(c.info.run_name, c.info.status) for c in children] == [("data_processing", "FAILED")]
