"""Shared fixtures: the genuine MNIST beside the checkout, and throw-away copies of the Kedro project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The genuine MNIST files (torchvision layout) at ../shared/data; real-data tests need them."""
    from cpc_pipeline.data.sources import mnist_files_present

    if not mnist_files_present(SHARED_DATA):
        pytest.fail(f"genuine MNIST expected under {SHARED_DATA}/MNIST/raw (see shared/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_splits(mnist_root):
    from cpc_pipeline.data import load_digit_splits

    return load_digit_splits("mnist", [mnist_root], download=False, fallback=False)


def make_project(project: Path) -> Path:
    """A copy of this project's configuration at ``project``, so runs write nothing into the repo."""
    project.mkdir()
    shutil.copy(REPO / "pyproject.toml", project)
    # the package is installed (editable); its source is copied for the MLflow model's code_paths
    shutil.copytree(REPO / "src" / "cpc_pipeline", project / "src" / "cpc_pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    # MLflow caches one store per URI string: an absolute one keeps each test's runs apart
    # (written into every run env, since `--env smoke` replaces `local`)
    for env in (project / "conf").iterdir():
        if env.is_dir() and env.name != "base":
            (env / "mlflow.yml").write_text(f"server:\n  mlflow_tracking_uri: sqlite:///{project / 'mlflow.db'}\n")
    for layer in (REPO / "data").iterdir():
        if layer.is_dir():
            (project / "data" / layer.name).mkdir(parents=True)
    return project


@pytest.fixture
def kedro_project(tmp_path, monkeypatch) -> Path:
    """A throw-away copy of the project (the cwd while the test runs)."""
    from kedro.framework.startup import bootstrap_project

    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    bootstrap_project(project)
    return project


def nest(params: dict) -> dict:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``, as ``kedro run --params a.b=1`` does."""
    nested: dict = {}
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def run_kedro(project: Path, pipeline: str | None = None, params: dict | None = None, env: str | None = None):
    """``kedro run`` in process through a KedroSession; returns the run's outputs."""
    from kedro.framework.session import KedroSession

    import mlflow

    try:
        with KedroSession.create(project_path=project, env=env, runtime_params=nest(params or {})) as session:
            return session.run(pipeline_names=[pipeline] if pipeline else None)
    finally:
        # kedro-mlflow can leave its run active in the process; a new `kedro run` process starts clean
        while mlflow.active_run() is not None:
            mlflow.end_run()
