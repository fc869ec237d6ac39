import json

import mlflow
import pandas as pd
import pytest
from kedro.validation.exceptions import ParameterValidationError

from tests.conftest import run_kedro


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sequences.terms": 0}, "terms\n  Input should be greater than or equal to 1"),
        ({"sequences.predict_terms": -2}, "predict_terms\n  Input should be greater than or equal to 1"),
        ({"sequences.validation_sequences": 0}, "validation_sequences"),
        ({"source.name": "imagenet"}, "Input should be 'mnist', 'fashion_mnist', 'sklearn_digits' or 'folder'"),
        ({"rendering.image_size": 1000}, "image_size\n  Input should be less than or equal to 512"),
        ({"rendering.texture_size": 32}, "texture_size (32) must be >= image_size (64)"),
        ({"sequences.term": 3}, "term\n  Extra inputs are not permitted"),
    ],
)
def test_bad_parameters_fail_before_any_node_runs(kedro_project, params, message):
    with pytest.raises(ParameterValidationError) as err:
        run_kedro(kedro_project, "data_processing", params)
    assert message in str(err.value)
    assert not list((kedro_project / "data" / "02_intermediate").iterdir())  # nothing ran


@pytest.mark.slow
def test_data_processing_run_on_genuine_mnist(kedro_project, mnist_root):
    run_kedro(
        kedro_project,
        "data_processing",
        {"source.roots": [str(kedro_project / "data" / "01_raw"), str(mnist_root)], "source.download": False},
    )
    data = kedro_project / "data"
    source = json.loads((data / "02_intermediate" / "digit_source.json").read_text())
    assert source["source"] == "mnist" and source["train_images"] == 50_000
    val = pd.read_parquet(data / "03_primary" / "validation_sequences.parquet")
    assert len(val) == 78 * 32 and set(val.columns) == {"sequence_id", "label", "digits", "image_indices"}
    assert len(pd.read_parquet(data / "03_primary" / "train_sequences.parquet")) == 390 * 32
    assert (data / "08_reporting" / "sequence_preview.png").stat().st_size > 10_000

    mlflow.set_tracking_uri(f"sqlite:///{kedro_project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["cpc_pipeline"], output_format="list")
    (run,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]  # the stage's child run
    assert run.info.run_name == "data_processing"
    assert run.info.status == "FINISHED"
    assert run.data.params["sequences.terms"] == "4"
    assert run.data.metrics["data.validation_sequences"] == 2496
    assert run.data.metrics["data.uses_genuine_mnist"] == 1
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"sequence_preview.png", "digit_source.json"} <= artifacts
