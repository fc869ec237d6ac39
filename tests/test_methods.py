"""The method registry is the one home of each method: nothing else lists method names, and a method registered
there alone is probed and reported."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from cpc_pipeline.methods import (
    METHODS,
    REFERENCE_ENCODER,
    Method,
    Supervision,
    stages,
    temporarily_registered,
)
from cpc_pipeline.metric_names import parse_probe_metric, probe_metric
from tests.conftest import REPO

SCANNED = [*(REPO / "src" / "cpc_pipeline").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")]
REGISTRY = REPO / "src" / "cpc_pipeline" / "methods.py"


def method_name_lists(path: Path, names: set[str]) -> list[str]:
    """Each list, tuple, set or dict literal in ``path`` with two or more method names among its string items
    (a dict's keys and values): ``line: items``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        items = (
            node.keys + node.values
            if isinstance(node, ast.Dict)
            else node.elts
            if isinstance(node, ast.List | ast.Tuple | ast.Set)
            else []
        )
        hits = [i.value for i in items if isinstance(i, ast.Constant) and i.value in names]
        if len(hits) >= 2:
            found.append(f"{node.lineno}: {hits}")
    return found


def test_no_list_of_method_names_outside_the_registry():
    names = set(METHODS) | {m.name for m in METHODS.values()} | {m.label for m in METHODS.values()}
    lists = {str(p.relative_to(REPO)): method_name_lists(p, names) for p in SCANNED if p != REGISTRY}
    assert {p: found for p, found in lists.items() if found} == {}


def test_the_scan_finds_a_planted_list(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('ENCODERS = {"cpc": "tab:blue", "simclr": "tab:orange"}\nfine = ("cpc", "linear")\n')
    assert method_name_lists(planted, set(METHODS)) == ["1: ['cpc', 'simclr']"]


def test_probe_metric_names_read_back():
    for key in METHODS:
        for fraction in (0.01, 0.1, 1.0, 0.005):
            name = probe_metric(key, "linear", fraction)
            assert " " not in name and parse_probe_metric(name) == (key, "linear", fraction, "test_accuracy")
    assert probe_metric("cpc", "mlp", 1.0) == "sequence_cpc.mlp.100pct_labels.test_accuracy"
    assert parse_probe_metric("data.uses_genuine_mnist") is None


def test_registering_twice_is_refused_and_the_stages_follow_the_registry():
    with pytest.raises(ValueError, match="registered already"):
        with temporarily_registered(METHODS["cpc"]):
            pass
    assert stages() == ("data_processing", "pretraining", "simclr", "patch_cpc", "probing", "reporting")


TOY = Method(
    key="toy",
    name="toy",
    colour="tab:brown",
    stage="probing",
    config=None,
    weights="random_encoder",
    encoder_spec=REFERENCE_ENCODER,
    supervision=Supervision("none", "a toy: the random-init weights again, registered by a test"),
)


@pytest.mark.slow
def test_a_method_registered_alone_is_probed_and_reported(smoke_run, tmp_path):
    """One registry entry, nothing else: after a smoke run, its probing chain and the report run again with it."""
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    project = tmp_path / "project"
    shutil.copytree(smoke_run, project, ignore=shutil.ignore_patterns("mlflow.db", "mlruns"))
    for env in (project / "conf").iterdir():
        if env.is_dir() and env.name != "base":
            (env / "mlflow.yml").write_text(f"server:\n  mlflow_tracking_uri: sqlite:///{project / 'mlflow.db'}\n")
    toy_nodes = [f"probing.toy.{n}" for n in ("freeze_encoder", "extract_features", "fit_probes")]
    reporting = [
        "probing.collect_probe_metrics",
        "reporting.read_run_parameters",
        "reporting.read_stage_wall_times",
        "reporting.plot_label_efficiency",
        "reporting.build_report",
    ]
    with temporarily_registered(TOY), pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        configure_project("cpc_pipeline")  # the project's pipelines are built again, from the registry with the toy
        try:
            with KedroSession.create(project_path=project, env="smoke") as session:
                session.run(node_names=toy_nodes + reporting)
        finally:
            configure_project("cpc_pipeline")
            while mlflow.active_run() is not None:  # kedro-mlflow can leave its run active in the process
                mlflow.end_run()
    metrics = pd.read_csv(project / "data" / "08_reporting" / "probe_metrics.csv")
    toy = metrics[metrics.encoder == "toy"]
    assert set(toy.probe) == {"mlp", "linear", "knn"} and (toy.encoder_supervision == "none").all()
    random = metrics[metrics.encoder == "random"].set_index(["probe", "label_fraction"]).test_accuracy
    assert toy.set_index(["probe", "label_fraction"]).test_accuracy.equals(random)  # the same weights, the same probes
    report = (project / "data" / "08_reporting" / "report.md").read_text()
    assert "- toy encoder, frozen: MLP" in report and "| toy | none | a toy:" in report
