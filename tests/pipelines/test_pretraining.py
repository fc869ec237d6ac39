import pytest
from kedro.validation.exceptions import ParameterValidationError

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
