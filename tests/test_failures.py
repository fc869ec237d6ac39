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
from cpc_pipeline.messages import summary
from cpc_pipeline.errors import CheckpointError, ConfigurationError, MissingInputError, TrackingStoreError
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


def data_files(project) -> dict[str, bytes]:
    """Every file under the project's data/, by path, with its contents."""
    return {str(p.relative_to(project)): p.read_bytes() for p in (project / "data").rglob("*") if p.is_file()}


def test_a_run_that_fails_before_any_node_leaves_every_earlier_output_as_it_was(kedro_project):
    reporting = kedro_project / "data" / "08_reporting"
    (reporting / "run_parameters.json").write_text('{"an": "earlier run"}')
    (kedro_project / "data" / "02_intermediate" / "train_digits.pkl").write_bytes(b"an earlier run's digits")
    before = data_files(kedro_project)
    with pytest.raises(ConfigurationError, match="does not fit"):
        run_kedro(kedro_project, None, {"pretraining.model.encoder.padding": 0}, env="smoke")
    assert data_files(kedro_project) == before


def test_missing_inputs_are_named_with_the_stage_that_writes_them_before_any_node_runs(kedro_project):
    with pytest.raises(MissingInputError) as caught:
        run_kedro(kedro_project, "probing", env="smoke")
    message = str(caught.value)
    assert "data/02_intermediate/train_digits.pkl (train_digits, written by the data_processing stage)" in message
    assert "simclr_encoder, written by the simclr stage" in message and "kedro run --pipelines " in message
    assert data_files(kedro_project) == {}


def test_a_missing_parameters_block_is_named_before_any_node_runs(kedro_project):
    (kedro_project / "conf" / "base" / "parameters_reporting.yml").unlink()
    with pytest.raises(ConfigurationError, match=r"defines params:reporting.*conf/base/parameters_reporting.yml"):
        run_kedro(kedro_project, "reporting")
    assert data_files(kedro_project) == {}


def test_parameter_messages_name_the_key_as_written_and_the_whole_value():
    from pydantic import ValidationError

    from cpc_pipeline.evaluation.probes import ProbeConfig
    from cpc_pipeline.messages import pydantic_lines
    from cpc_pipeline.training.cpc import PretrainingConfig

    with pytest.raises(ValidationError) as fractions:
        ProbeConfig(label_fractions=[0.1, 2.0])
    assert pydantic_lines("probing.probes", str(fractions.value)) == [
        "probing.probes.label_fractions: label_fractions must lie in (0, 1], got [2.0]"
    ]
    with pytest.raises(ValidationError) as bad:
        PretrainingConfig.model_validate({"model": {"encoder": {"norm": "bogus"}}, "trainer": {"seed": -1}})
    norm, seed = pydantic_lines("pretraining", str(bad.value), {"seed": -1})
    assert norm == "pretraining.model.encoder.norm: Input should be 'batch', 'layer', 'group' or 'none' (got 'bogus')"
    assert seed.startswith("seed: Input should be greater than or equal to 0") and seed.endswith("(got -1)")
    assert pydantic_lines("pretraining", str(bad.value))[1].startswith("pretraining.trainer.seed:")  # set in conf/


def test_a_corrupt_weights_file_is_described_without_torchs_advice(tmp_path):
    import pickle

    path = tmp_path / "cpc_encoder.pt"
    cause = pickle.UnpicklingError("Weights only load failed. ... set `weights_only=False` ...")
    try:
        raise DatasetError(f"Failed while loading data from dataset PyTorchDataset(filepath={path}).") from cause
    except DatasetError as err:
        line = summary(err)
    assert str(path) in line and "not a weights file this project wrote" in line and "weights_only" not in line


@pytest.mark.slow
def test_an_unknown_pipeline_is_one_line_listing_the_pipelines(kedro_project):
    out = kedro_cli(kedro_project, "--pipelines", "data_processing,nosuch")
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout
    assert "Error: no pipeline named 'nosuch': this project's pipelines are __default__, data_processing" in out.stderr


def test_labels_out_of_range_are_named_where_they_are_read_and_nothing_is_written(kedro_project, mnist_root):
    """A labels file with a value no class has stops data_processing before it writes anything to data/."""
    raw = kedro_project / "elsewhere" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (raw / name).write_bytes((mnist_root / "MNIST" / "raw" / name).read_bytes())
    labels = bytearray((raw / "t10k-labels-idx1-ubyte").read_bytes())
    labels[8 + 17] = 42  # after the IDX header: the 18th test label
    (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    from cpc_pipeline.data.sources import DataSourceError

    with pytest.raises(
        DataSourceError, match=rf"labels file {raw}/t10k-labels-idx1-ubyte holds 1 label\(s\) outside 0-9 \(values 42\)"
    ):
        run_kedro(kedro_project, "data_processing", {"source.roots": [str(raw.parent.parent)]}, env="smoke")
    assert data_files(kedro_project) == {}


def test_a_checkpoint_that_cannot_be_written_names_the_path_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    from collections import namedtuple

    from cpc_pipeline.training.loop import checkpoint

    def full_disk(state, f):  # what torch does on a full disk: part of the file, then its C++ error
        open(f, "wb").write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 128 vs 64")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: namedtuple("Usage", "total used free")(1, 1, 0))
    path = tmp_path / "models" / "cpc_checkpoint.pt"
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} cannot be written \(the disk holding .* is full"):
        checkpoint.save_checkpoint(path, model={})
    assert list(path.parent.iterdir()) == []  # no half-written .tmp behind


def test_an_unwritable_checkpoint_folder_stops_training_before_its_first_step(mnist_splits, tmp_path, monkeypatch):
    from cpc_pipeline.training.loop import checkpoint, train

    monkeypatch.setattr(checkpoint.os, "access", lambda path, mode: False)  # root writes anywhere: simulate it
    path = tmp_path / "ro" / "cpc_checkpoint.pt"
    method = make_method(mnist_splits, per_epoch=256)
    steps = []
    method.train_batches = lambda epoch, generator: steps.append(epoch) or iter(())
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} cannot be written \(.*ro is not writable\)"):
        train(method, quiet(epochs=1).model_copy(update={"checkpoint_path": str(path)}), torch.device("cpu"))
    assert steps == [] and not path.exists()


def test_a_patch_grid_too_short_for_its_predictions_is_rejected_before_any_node_runs(kedro_project):
    with pytest.raises(ConfigurationError, match=r"patch_cpc.model.predict_rows \(4\) must be below the grid's 4 rows"):
        run_kedro(kedro_project, None, {"patch_cpc.model.predict_rows": 4}, env="smoke")
    assert data_files(kedro_project) == {}


def test_a_knn_k_above_the_smallest_labelled_subset_is_rejected_before_any_node_runs(kedro_project):
    # scikit-learn's digits: 1,257 train images, 1 % of them = one per class
    params = {"source.name": "sklearn_digits", "probing.probes.label_fractions": [0.01, 1.0]}
    with pytest.raises(
        ConfigurationError,
        match=r"probing.probes.knn.k_grid: k=20 exceeds the 10 labelled train images at label fraction 0.01 "
        r"\(1,257 train images in scikit-learn's 8x8 digits\); use k values up to 10",
    ):
        run_kedro(kedro_project, None, params | {"probing.probes.knn.k_grid": [5, 20]}, env="smoke")
    assert data_files(kedro_project) == {}


def test_the_knn_check_reads_the_labels_the_probes_will_subset(mnist_root, tmp_path):
    from cpc_pipeline.checks import check_knn_grid
    from cpc_pipeline.data import load_digit_splits
    from cpc_pipeline.data.sources import local_train_labels
    from cpc_pipeline.evaluation.probes import ProbeConfig

    labels = local_train_labels("mnist", [tmp_path, mnist_root], validation_size=10_000)
    assert (labels == load_digit_splits("mnist", [mnist_root], download=False).train.labels).all()
    assert local_train_labels("mnist", [tmp_path], 10_000) is None  # not on this machine: the run decides
    # 0.1 % of each class of 50,000 (4.5k-5.7k per class), rounded: 51 labelled images
    check_knn_grid(ProbeConfig(label_fractions=[0.001, 1.0], knn={"k_grid": [1, 51]}), labels, "MNIST")
    with pytest.raises(ConfigurationError, match="k=52 exceeds the 51 labelled train images at label fraction 0.001"):
        check_knn_grid(ProbeConfig(label_fractions=[0.001], knn={"k_grid": [52]}), labels, "MNIST")


def test_a_knn_k_the_labels_cannot_serve_at_run_time_is_dropped_aloud_and_never_reported(caplog):
    import numpy as np

    from cpc_pipeline.evaluation.probes import KNNProbeConfig, fit_knn_probe

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 4)), np.arange(12) % 3
    with caplog.at_level("WARNING"):
        chosen, _, _ = fit_knn_probe(x, y, x, y, x, KNNProbeConfig(k_grid=[1, 5, 20]))
    assert chosen in {"k=1", "k=5"}
    assert "probing.probes.knn.k_grid: k=20 dropped, above the 12 labelled train images" in caplog.text
    with pytest.raises(ConfigurationError, match=r"every k of \[20\] exceeds the 12 labelled train images"):
        fit_knn_probe(x, y, x, y, x, KNNProbeConfig(k_grid=[20]))


def test_a_full_disk_at_a_dataset_write_names_the_file_and_leaves_the_earlier_file(
    kedro_project, mnist_root, monkeypatch
):
    import errno
    import pickle

    params = {"source.roots": [str(mnist_root)]}
    run_kedro(kedro_project, "data_processing", params, env="smoke")
    before = data_files(kedro_project)
    dump = pickle.dump

    def disk_full(data, fh, *args, **kwargs):  # some bytes, then the disk is full: what a real full disk does
        if "train_digits" not in str(getattr(fh, "path", getattr(fh, "name", ""))):
            return dump(data, fh, *args, **kwargs)
        fh.write(b"half a pickle")
        fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pickle, "dump", disk_full)
    with pytest.raises(DatasetError) as caught:
        run_kedro(kedro_project, "data_processing", params, env="smoke")
    line = summary(caught.value)
    assert line.startswith("could not write ")
    assert "02_intermediate/train_digits.pkl: no space is left on its disk: free some" in line
    assert data_files(kedro_project) == before  # the earlier digits are back, no partial or .previous file


def test_an_unwritable_output_folder_is_named_before_any_node_runs(kedro_project, monkeypatch):
    from pathlib import Path

    import cpc_pipeline.hooks.writes as writes

    folder = kedro_project / "data" / "02_intermediate"
    access = os.access  # a read-only folder as a user meets it (root may write anywhere, so it is asked here)
    monkeypatch.setattr(writes.os, "access", lambda path, mode: Path(path).resolve() != folder and access(path, mode))
    with pytest.raises(ConfigurationError, match=rf"cannot write: {folder} \([a-z_, ]*\btrain_digits\b"):
        run_kedro(kedro_project, None, env="smoke")
    assert data_files(kedro_project) == {}


def test_an_output_folder_under_a_file_is_unwritable(tmp_path):
    from cpc_pipeline.hooks.writes import unwritable_folders

    (tmp_path / "a_file").write_text("")
    assert unwritable_folders([tmp_path / "new" / "x.pkl", tmp_path / "a_file" / "sub" / "y.pkl"]) == [
        tmp_path / "a_file" / "sub"
    ]
