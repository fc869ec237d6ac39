"""``kedro run --env folder`` on a folder of your own PNG pictures: class folders (probed, with their class count and
chance) and a flat folder (no labels: pretrained, mapped and reported, nothing probed), as a user types it."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from cpc_pipeline.data.folder import write_image_folder
from tests.data.test_fashion_mnist import packaged  # noqa: F401 - the fixture: Debian's dataset-fashion-mnist

CLASSES = ["t-shirt", "trouser", "pullover"]
# small batches for the few pictures; label fractions at which every k-NN vote has its k labelled pictures
BUDGET = {
    "source": {"folder": {"validation_fraction": 0.2, "test_fraction": 0.2}},  # 36 validation pictures
    "simclr": {"objective": {"images_per_batch": 32, "knn_k": 5}, "trainer": {"epochs": 1, "warmup_epochs": 0}},
    "patch_cpc": {"objective": {"images_per_batch": 32, "knn_k": 5}, "trainer": {"epochs": 1}},
    "probing": {"probes": {"label_fractions": [0.1, 1.0]}},
}


def merged(base: dict, *updates: dict) -> dict:
    for update in updates:
        for key, value in update.items():
            base[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return base


@pytest.fixture(scope="module")
def folder_project(tmp_path_factory, packaged):  # noqa: F811
    """A copy of the project with ``folder_smoke``: the shipped ``folder`` environment at ``smoke``'s budgets,
    and Fashion-MNIST pictures written as PNG files, in class folders and flat."""
    from tests.conftest import REPO, make_project
    from cpc_pipeline.data.sources import load_digit_splits

    root = tmp_path_factory.mktemp("folder_runs")
    project = make_project(root / "project")
    env = project / "conf" / "folder_smoke"
    env.mkdir()
    read = lambda name: yaml.safe_load((REPO / "conf" / name / "parameters.yml").read_text())  # noqa: E731
    (env / "parameters.yml").write_text(yaml.safe_dump(merged(read("smoke"), read("folder"), BUDGET)))
    (env / "mlflow.yml").write_text(f"server:\n  mlflow_tracking_uri: sqlite:///{project / 'mlflow.db'}\n")
    train = load_digit_splits("fashion_mnist", [packaged], download=False).train
    index = np.concatenate([np.flatnonzero(train.labels == c)[:60] for c in range(len(CLASSES))])
    write_image_folder(root / "labelled", train.images[index], train.labels[index], CLASSES)
    (root / "labelled" / "trouser" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    write_image_folder(root / "flat", train.images[index], np.full(len(index), -1), [])
    return project, root


def run_folder(project, folder, *params):
    from tests.test_failures import kedro_cli

    settings = ",".join([f"source.folder.root={folder}", "source.folder.image_size=28", *params])
    return kedro_cli(project, "--env", "folder_smoke", "--params", settings)


def parent_run(project):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        "attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    return client, next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)


@pytest.mark.slow
def test_class_folders_pretrain_probe_and_report_with_their_classes(folder_project):
    project, root = folder_project
    done = run_folder(project, root / "labelled", "source.folder.bad_files=skip")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "sequence CPC skipped: the source is a folder of pictures" in " ".join(log.split())
    metrics = pd.read_csv(project / "data" / "08_reporting" / "probe_metrics.csv")
    chance = metrics[metrics.encoder == "chance"]
    assert chance.test_accuracy.tolist() == pytest.approx([1 / 3])  # three class folders
    assert {"simclr", "patch_cpc", "pixels", "random", "supervised"} <= set(metrics.encoder)
    assert "cpc" not in set(metrics.encoder)
    source = json.loads((project / "data" / "02_intermediate" / "digit_source.json").read_text())
    assert source["classes"] == sorted(CLASSES) and source["files_unreadable"] == 1
    report = (project / "data" / "08_reporting" / "report.md").read_text()
    assert "Not trained on this source (the run's log says why): sequence CPC." in report
    assert "3 classes (pullover, t-shirt, trouser)" in report and "Chance: 33.3%" in report

    client, parent = parent_run(project)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    data_run = next(c for c in children if c.data.tags.get("kedro.stage") == "data_processing")
    assert data_run.data.metrics["data.files_unreadable"] == 1  # the skipped file, counted in MLflow too
    assert data_run.data.metrics["data.classes"] == 3
    simclr_run = next(c for c in children if c.data.tags.get("kedro.stage") == "simclr")
    assert simclr_run.data.metrics["simclr.files_unreadable"] == 1  # the pictures it trained on, in its own run
    registered = {m.name for m in client.search_registered_models()}
    assert {"cpc_pipeline.simclr_encoder", "cpc_pipeline.patch_cpc_encoder"} <= registered
    assert "cpc_pipeline.cpc_encoder" not in registered  # nothing trained: nothing registered


@pytest.mark.slow
def test_a_flat_folder_pretrains_and_reports_without_probing(folder_project):
    project, root = folder_project
    done = run_folder(project, root / "flat")
    log = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, log[-4000:]
    assert "sequence CPC skipped: the pictures have no labels" in log
    assert "supervised baseline skipped: the pictures have no labels" in log
    assert pd.read_csv(project / "data" / "08_reporting" / "probe_metrics.csv").empty
    report = (project / "data" / "08_reporting" / "report.md").read_text()
    assert "These pictures have no labels, so no probe was fitted" in report and "## Pretraining: SimCLR" in report
    for plot in ("embedding_plot", "pretraining_curves_plot", "sequence_preview"):
        assert (project / "data" / "08_reporting" / f"{plot}.png").stat().st_size > 1000
    embedding = pd.read_csv(project / "data" / "08_reporting" / "test_embedding.csv")
    assert set(embedding.encoder) == {"simclr"} and (embedding.digit == -1).all()
    assert len(pd.read_csv(project / "data" / "07_model_output" / "simclr_history.csv")) == 1  # one epoch trained
