import pytest
from kedro.config import OmegaConfigLoader
from kedro.validation.exceptions import ParameterValidationError

from cpc_pipeline.pipelines.pretraining.nodes import PretrainingConfig
from tests.conftest import REPO, run_kedro


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pretraining.objective.loss": "triplet"}, "Input should be 'infonce' or 'binary'"),
        ({"pretraining.model.norm": "instance"}, "Input should be 'batch', 'layer', 'group' or 'none'"),
        ({"pretraining.trainer.learning_rate": 0}, "learning_rate\n  Input should be greater than 0"),
        ({"pretraining.objective.batch_size": 0}, "batch_size\n  Input should be greater than or equal to 2"),
        ({"pretraining.objective.binary_negatives": "shared"}, "Input should be 'paired' or 'independent'"),
        ({"pretraining.trainer.resume": True}, "resume is true but there is no checkpoint"),
    ],
)
def test_bad_pretraining_parameters_fail_up_front(kedro_project, params, message):
    with pytest.raises(ParameterValidationError) as err:
        run_kedro(kedro_project, "pretraining", params, env="smoke")
    assert message in str(err.value)


@pytest.mark.parametrize("env", ["base", "smoke", "binary"])
def test_every_configuration_environment_validates(env):
    params = OmegaConfigLoader(str(REPO / "conf"), base_env="base", default_run_env=env)["parameters"]
    config = PretrainingConfig.model_validate(params["pretraining"])
    if env == "binary":
        assert (config.objective.loss, config.objective.binary_negatives) == ("binary", "paired")
        assert config.trainer.plateau_patience >= config.trainer.epochs  # no learning-rate cut on the plateau
