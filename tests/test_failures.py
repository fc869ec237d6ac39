"""Failures a user can act on: one message that names the file or parameter and says what to do, before
any node works where that is possible, and nothing deleted or overwritten on the way."""

import os
import sqlite3
import subprocess
import sys

import pytest
import torch
from kedro.io import DatasetError

from cpc_pipeline.checks import check_tracking_store
from cpc_pipeline.cli import summary
from cpc_pipeline.errors import CheckpointError, ConfigurationError, TrackingStoreError
from tests.conftest import run_kedro
from tests.training.test_cpc_training import make_method, quiet


def test_a_damaged_checkpoint_names_the_file_and_is_left_alone(mnist_splits, tmp_path):
    ckpt = tmp_path / "cpc_checkpoint.pt"
    ckpt.write_bytes(b"\x00not a checkpoint")
    config = quiet(epochs=1).model_copy(update={"checkpoint_path": str(ckpt), "resume": True})
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt} cannot be read.*resume to false"):
        from cpc_pipeline.training.loop import train

        train(make_method(mnist_splits, per_epoch=256), config, torch.device("cpu"))
    assert ckpt.read_bytes() == b"\x00not a checkpoint"


def test_a_damaged_tracking_store_names_the_file(tmp_path):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"this is no database at all, just some bytes")
    with pytest.raises(TrackingStoreError, match=f"{store} is not a SQLite database.*move it aside"):
        check_tracking_store(store)
    assert store.read_bytes() == b"this is no database at all, just some bytes"
    check_tracking_store(tmp_path / "absent.db")  # MLflow creates a missing store: nothing to check


def test_a_locked_tracking_store_says_so_after_its_timeout(tmp_path):
    store = tmp_path / "mlflow.db"
    holder = sqlite3.connect(store)
    holder.execute("create table t (x)")
    holder.commit()
    holder.execute("begin exclusive")  # another process in the middle of a write
    try:
        with pytest.raises(TrackingStoreError, match=f"{store} is locked by another process"):
            check_tracking_store(store, timeout_s=0.2)
    finally:
        holder.rollback()
        holder.close()
    check_tracking_store(store, timeout_s=0.2)  # released: fine


def test_kedro_run_on_a_damaged_store_fails_before_anything_runs(kedro_project):
    store = kedro_project / "mlflow.db"
    store.write_bytes(b"garbage" * 10)
    with pytest.raises(TrackingStoreError, match=str(store)):
        run_kedro(kedro_project, "data_processing", env="smoke")
    assert store.read_bytes() == b"garbage" * 10
    assert not list((kedro_project / "data" / "02_intermediate").iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA; this one has it")
def test_an_absent_device_is_rejected_before_any_node_runs(kedro_project):
    with pytest.raises(ConfigurationError, match="pretraining.trainer.device: 'cuda' was asked for"):
        run_kedro(kedro_project, None, {"pretraining.trainer.device": "cuda"}, env="smoke")
    assert not list((kedro_project / "data" / "02_intermediate").iterdir())


def test_an_encoder_that_cannot_fit_the_images_is_rejected_before_any_node_runs(kedro_project):
    with pytest.raises(
        ConfigurationError, match=r"pretraining.model.encoder does not fit the rendered grey digits \(28x28\)"
    ):
        run_kedro(kedro_project, None, {"pretraining.model.encoder.padding": 0}, env="smoke")
    assert not list((kedro_project / "data" / "02_intermediate").iterdir())


def test_an_unreadable_data_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "train_digits.pkl"
    try:
        raise DatasetError(f"Failed while loading data from dataset PickleDataset(filepath={path}).") from EOFError(
            "Ran out of input"
        )
    except DatasetError as err:
        line = summary(err)
    assert str(path) in line and "EOFError" in line and "rerun the stage" in line and "\n" not in line


def kedro_cli(project, *args, env=None):
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "kedro"), "run", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=os.environ | {"KEDRO_DISABLE_TELEMETRY": "1"} | (env or {}),
    )


@pytest.mark.slow
def test_a_bad_parameter_is_one_line_without_traceback_unless_asked(kedro_project):
    out = kedro_cli(kedro_project, "--pipelines", "data_processing", "--params", "sequences.terms=0")
    assert out.returncode == 1
    assert (
        "Error: invalid parameters: sequences.terms: Input should be greater than or equal to 1 (got 0)" in out.stderr
    )
    assert "Traceback" not in out.stderr + out.stdout
    verbose = kedro_cli(kedro_project, "--pipelines", "data_processing", "--params", "sequences.terms=0", "--verbose")
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr + verbose.stdout
    by_variable = kedro_cli(
        kedro_project, "--pipelines", "data_processing", "--params", "sequences.terms=0", env={"CPC_TRACEBACK": "1"}
    )
    assert "Traceback" in by_variable.stderr + by_variable.stdout
