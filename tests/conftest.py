"""Shared fixtures: the genuine MNIST beside the checkout, and throw-away copies of the Kedro project."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
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
    shutil.copytree(
        REPO / "src" / "cpc_pipeline", project / "src" / "cpc_pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
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
    """``kedro run`` in process through a KedroSession, with ``kedro run``'s default runner: an instance of Kedro's
    sequential one, as the CLI passes it (Kedro-Viz records a run's node events only then); returns the run's
    outputs."""
    from kedro.framework.session import KedroSession
    from kedro.runner import SequentialRunner

    import mlflow

    try:
        with KedroSession.create(project_path=project, env=env, runtime_params=nest(params or {})) as session:
            return session.run(pipeline_names=[pipeline] if pipeline else None, runner=SequentialRunner())
    finally:
        # kedro-mlflow can leave its run active in the process; a new `kedro run` process starts clean
        while mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, mnist_root):
    """``kedro run --env smoke`` once, in a throw-away copy of the project; read its outputs, do not change them."""
    from kedro.framework.startup import bootstrap_project

    project = make_project(tmp_path_factory.mktemp("chain") / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        bootstrap_project(project)
        run_kedro(project, None, {"source.roots": [str(mnist_root)]}, env="smoke")
    return project


def write_cifar(root, n_per_batch=12, seed=0):
    """CIFAR-10's python format: 5 training batches and a test batch of pickled dicts, plus the meta file."""
    rng = np.random.default_rng(seed)
    from cpc_pipeline.data.cifar import FOLDER

    folder = root / FOLDER
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {
            # Python 2's pickles, read with latin1 as torchvision does, give str keys like these
            "batch_label": name,
            "labels": rng.integers(0, 10, n_per_batch).tolist(),
            "data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(n_per_batch)],
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_cases_per_batch": n_per_batch,
            },
            fh,
        )
    return folder
