import mlflow
import pandas as pd
import pytest
import torch
from kedro.validation.exceptions import ParameterValidationError

from cpc_pipeline.models import CPCModelConfig, build_encoder
from tests.conftest import run_kedro


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pretraining.objective.loss": "triplet"}, "Input should be 'infonce' or 'binary'"),
        ({"pretraining.model.norm": "instance"}, "Input should be 'batch', 'layer', 'group' or 'none'"),
        ({"pretraining.trainer.learning_rate": 0}, "learning_rate\n  Input should be greater than 0"),
        ({"pretraining.objective.batch_size": 0}, "batch_size\n  Input should be greater than or equal to 2"),
        ({"pretraining.trainer.resume": True}, "resume is true but there is no checkpoint"),
    ],
)
def test_bad_pretraining_parameters_fail_up_front(kedro_project, params, message):
    with pytest.raises(ParameterValidationError) as err:
        run_kedro(kedro_project, "pretraining", params, env="smoke")
    assert message in str(err.value)


@pytest.mark.slow
def test_data_processing_and_pretraining_run_on_smoke_config(kedro_project, mnist_root):
    run_kedro(kedro_project, "data_processing", {"source.roots": [str(mnist_root)]}, env="smoke")
    run_kedro(kedro_project, "pretraining", env="smoke")

    models = kedro_project / "data" / "06_models"
    state = torch.load(models / "cpc_encoder.pt", weights_only=True)
    encoder = build_encoder(CPCModelConfig(padding=1), 1, 28)
    encoder.load_state_dict(state)  # the catalog's weights rebuild the configured architecture
    assert (models / "cpc_checkpoint.pt").exists()
    history = pd.read_csv(kedro_project / "data" / "07_model_output" / "pretraining_history.csv")
    assert list(history.epoch) == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy_k1", "val_sequence_accuracy", "val_mi_bound"} <= set(history)

    mlflow.set_tracking_uri(f"sqlite:///{kedro_project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["cpc_pipeline"], output_format="list", order_by=["start_time DESC"])
    client = mlflow.MlflowClient()
    steps = client.get_metric_history(runs[0].info.run_id, "pretraining.val_loss")
    assert [m.step for m in steps] == [1, 2]
