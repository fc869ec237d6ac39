"""`kedro run --pipelines pretraining --params pretraining.trainer.distributed.nproc_per_node=2`: two gloo
processes train through the real node; rank 0's weights and one history come back, and MLflow holds one.
The same for SimCLR, and for two machines simulated on 127.0.0.1 (`kedro run` and `kedro join`)."""

import os
import signal
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
import torch

from cpc_pipeline.models import ReferenceEncoderSpec
from cpc_pipeline.training import distributed
from cpc_pipeline.training.distributed import DistributedConfig
from tests.conftest import run_kedro

pytestmark = pytest.mark.slow


def test_two_process_pretraining_through_the_node(kedro_project, mnist_root, capfd):
    run_kedro(kedro_project, "data_processing", {"source.roots": [str(mnist_root)]}, env="smoke")
    capfd.readouterr()
    run_kedro(
        kedro_project,
        "pretraining",
        {"pretraining.trainer.distributed.nproc_per_node": 2, "pretraining.trainer.epochs": 2},
        env="smoke",
    )
    printed = capfd.readouterr().err  # the workers' own lines, while they train: rank 0's epochs, once each
    epoch_lines = [line for line in printed.splitlines() if "INFO epoch " in line]
    assert [line.split("] ")[0] for line in epoch_lines] == ["[rank 0", "[rank 0"], printed[-2000:]
    assert "epoch 1: train_loss=" in epoch_lines[0] and "epoch 2: " in epoch_lines[1]
    models = kedro_project / "data" / "06_models"
    encoder = ReferenceEncoderSpec(padding=1).build(1, 28)
    encoder.load_state_dict(torch.load(models / "cpc_encoder.pt", weights_only=True))
    assert (models / "cpc_checkpoint.pt").exists()  # written by rank 0 alone
    history = pd.read_csv(kedro_project / "data" / "07_model_output" / "pretraining_history.csv")
    assert list(history.epoch) == [1, 2] and set(history.world_size) == {2}
    assert set(history.global_sequences_per_batch) == {256} and set(history.global_images_per_batch) == {256}
    assert history.val_sequence_accuracy.iloc[-1] > 0.6  # it learned (chance 0.5)

    stage = stage_runs(kedro_project, "pretraining")
    assert len(stage) == 1
    client = mlflow.MlflowClient()
    assert [m.step for m in client.get_metric_history(stage[0].info.run_id, "pretraining.train_loss")] == [1, 2]
    assert stage[0].data.params["pretraining.trainer.distributed.nproc_per_node"] == "2"


def stage_runs(project, stage: str) -> list:
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    return mlflow.search_runs(
        experiment_names=["cpc_pipeline"], filter_string=f"attributes.run_name = '{stage}'", output_format="list"
    )


def test_two_process_simclr_through_the_node(kedro_project, mnist_root):
    run_kedro(kedro_project, "data_processing", {"source.roots": [str(mnist_root)]}, env="smoke")
    run_kedro(
        kedro_project,
        "simclr",
        {
            "simclr.trainer.distributed.nproc_per_node": 2,
            "simclr.trainer.epochs": 2,
            "simclr.objective.images_per_batch": 64,
        },
        env="smoke",
    )
    history = pd.read_csv(kedro_project / "data" / "07_model_output" / "simclr_history.csv")
    assert list(history.epoch) == [1, 2] and set(history.world_size) == {2}
    assert set(history.global_images_per_batch) == {128}  # 64 per process
    assert history.val_knn_accuracy.iloc[-1] > 0.3  # it learned (chance 0.1)
    (stage,) = stage_runs(kedro_project, "simclr")
    assert stage.data.params["simclr.trainer.distributed.nproc_per_node"] == "2"
    steps = [m.step for m in mlflow.MlflowClient().get_metric_history(stage.info.run_id, "simclr.train_loss")]
    assert steps == [1, 2]


def test_two_machines_simulated_on_one_rendezvous(kedro_project, mnist_root):
    """Two launchers, one process each, meet at one c10d endpoint: the first machine runs `kedro run` and
    writes the outputs, the second `kedro join` and writes nothing."""
    run_kedro(kedro_project, "data_processing", {"source.roots": [str(mnist_root)]}, env="smoke")
    params = (
        ",".join(
            f"pretraining.trainer.distributed.{key}={value}"
            for key, value in {
                "nnodes": 2,
                "rdzv_endpoint": f"127.0.0.1:{distributed.free_port()}",
                "rdzv_id": "two-machines",
                "timeout_s": 120,
            }.items()
        )
        + ",pretraining.trainer.epochs=1"
    )
    env = os.environ | {"KEDRO_DISABLE_TELEMETRY": "1"}
    kedro = [sys.executable, "-m", "kedro"]
    machines = [
        subprocess.Popen(
            [*kedro, "run", "--pipelines", "pretraining", "--env", "smoke", "--params", params],
            cwd=kedro_project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        subprocess.Popen(
            [*kedro, "join", "--pipeline", "pretraining", "--env", "smoke", "--params", params],
            cwd=kedro_project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    ]
    outputs = [machine.communicate(timeout=500)[0] for machine in machines]
    assert [m.returncode for m in machines] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert "this machine's share of the distributed training ended" in outputs[1]
    history = pd.read_csv(kedro_project / "data" / "07_model_output" / "pretraining_history.csv")
    assert list(history.epoch) == [1] and set(history.world_size) == {2}
    (stage,) = stage_runs(kedro_project, "pretraining")  # the joining machine logged nothing
    assert stage.data.params["pretraining.trainer.distributed.nnodes"] == "2"


def _fail_in_rank_1() -> int:
    distributed.init_worker(DistributedConfig(nproc_per_node=2), torch.device("cpu"))
    try:
        if distributed.rank() == 1:
            raise ValueError("the data of rank 1 is missing")
        return distributed.rank()
    finally:
        torch.distributed.destroy_process_group()


def _killed_in_rank_1() -> int:
    distributed.init_worker(DistributedConfig(nproc_per_node=2), torch.device("cpu"))
    if distributed.rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
    torch.distributed.barrier()  # rank 0 waits for its partner, which never comes
    return 0


def test_a_failing_rank_ends_the_run_with_its_error_in_one_line_then_the_traceback(capfd):
    with pytest.raises(distributed.DistributedError) as caught:
        distributed.launch(DistributedConfig(nproc_per_node=2, timeout_s=60), _fail_in_rank_1)
    first, *details = str(caught.value).splitlines()
    assert first == "distributed training failed in rank 1 of 2: ValueError: the data of rank 1 is missing"
    assert details[0] == "Details:" and 'raise ValueError("the data of rank 1 is missing")' in "\n".join(details)
    assert "Traceback" not in capfd.readouterr().err  # the launcher's own paragraph is not printed before it


def test_a_lost_rank_is_named_with_its_signal_in_one_line(capfd):
    with pytest.raises(distributed.DistributedError) as caught:
        distributed.launch(DistributedConfig(nproc_per_node=2, timeout_s=60), _killed_in_rank_1)
    first, *details = str(caught.value).splitlines()
    assert first.startswith("distributed training lost rank 1 of 2: signal 9 (SIGKILL), killed from outside")
    assert "out-of-memory killer" in first and "exited with code -9" in details[1]
    assert "Traceback" not in capfd.readouterr().err


def test_a_two_process_run_resumed_equals_the_uninterrupted_one(kedro_project, mnist_root):
    run_kedro(kedro_project, "data_processing", {"source.roots": [str(mnist_root)]}, env="smoke")
    models = kedro_project / "data" / "06_models"
    two = {"pretraining.trainer.distributed.nproc_per_node": 2}

    def encoder_after(**params):
        run_kedro(kedro_project, "pretraining", two | params, env="smoke")
        return torch.load(models / "cpc_encoder.pt", weights_only=True)

    def history():
        return pd.read_csv(kedro_project / "data" / "07_model_output" / "pretraining_history.csv")

    uninterrupted = encoder_after(**{"pretraining.trainer.epochs": 2})
    encoder_after(**{"pretraining.trainer.epochs": 1})  # stopped after epoch 1 ...
    first_epoch = history().iloc[0]
    resumed = encoder_after(**{"pretraining.trainer.epochs": 2, "pretraining.trainer.resume": True})  # ... and resumed
    assert list(history().epoch) == [1, 2]
    assert history().iloc[0].epoch_seconds == first_epoch.epoch_seconds  # epoch 1 came from the checkpoint
    assert uninterrupted.keys() == resumed.keys()
    assert all(torch.equal(uninterrupted[k], resumed[k]) for k in uninterrupted)


@pytest.mark.cuda
@pytest.mark.skipif(
    torch.cuda.device_count() < 2,
    reason="the NCCL path with SyncBatchNorm needs two CUDA GPUs, one "
    "per process; this machine has fewer (CI has none), so only the gloo path runs here",
)
def test_two_gpus_nccl_with_synchronised_batchnorm(kedro_project, mnist_root):
    run_kedro(kedro_project, "data_processing", {"source.roots": [str(mnist_root)]}, env="smoke")
    run_kedro(
        kedro_project,
        "pretraining",
        {
            "pretraining.trainer.distributed.nproc_per_node": 2,
            "pretraining.trainer.distributed.batchnorm": "sync",
            "pretraining.trainer.device": "cuda",
        },
        env="smoke",
    )
    history = pd.read_csv(kedro_project / "data" / "07_model_output" / "pretraining_history.csv")
    assert set(history.world_size) == {2} and history.val_sequence_accuracy.iloc[-1] > 0.6
