import pytest
from kedro.config import OmegaConfigLoader
from kedro.validation.exceptions import ParameterValidationError

from cpc_pipeline.training.cpc import PretrainingConfig
from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS
from tests.conftest import REPO, run_kedro


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pretraining.objective.loss": "triplet"}, "Input should be 'infonce' or 'binary'"),
        ({"pretraining.model.encoder.norm": "instance"}, "Input should be 'batch', 'layer', 'group' or 'none'"),
        ({"pretraining.trainer.learning_rate": 0}, "learning_rate\n  Input should be greater than 0"),
        (
            {"pretraining.objective.sequences_per_batch": 0},
            "sequences_per_batch\n  Input should be greater than or equal to 2",
        ),
        ({"pretraining.objective.binary_negatives": "shared"}, "Input should be 'paired' or 'independent'"),
        ({"pretraining.trainer.resume": True}, "resume is true but there is no checkpoint"),
        (
            {"pretraining.trainer.distributed.nproc_per_node": 0},
            "nproc_per_node\n  Input should be greater than or equal to 1",
        ),
        ({"pretraining.trainer.distributed.rdzv_endpoint": "nowhere"}, "rdzv_endpoint\n  String should match pattern"),
    ],
)
def test_bad_pretraining_parameters_fail_up_front(kedro_project, params, message):
    with pytest.raises(ParameterValidationError) as err:
        run_kedro(kedro_project, "pretraining", params, env="smoke")
    assert message in str(err.value)


ENVIRONMENTS = sorted(p.name for p in (REPO / "conf").iterdir() if p.is_dir() and p.name != "local")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_configuration_environment_validates(env):
    """Every shipped environment passes the checks a run makes before its first node: each method's block alone,
    then the cross-block ones (encoders against the pictures, patch grids against the rows they predict)."""
    from cpc_pipeline.checks import check_run_configuration
    from cpc_pipeline.methods import METHODS

    params = OmegaConfigLoader(str(REPO / "conf"), env=env, **CONFIG_LOADER_ARGS)["parameters"]
    for method in METHODS.values():
        if method.config is not None:
            method.config.model_validate(params[method.parameters])
    check_run_configuration(params, {m.parameters for m in METHODS.values()})
    config = PretrainingConfig.model_validate(params["pretraining"])
    if env == "binary":
        assert (config.objective.loss, config.objective.binary_negatives) == ("binary", "paired")
        assert config.trainer.plateau_patience >= config.trainer.epochs  # no learning-rate cut on the plateau


@pytest.mark.parametrize("env", ["base", "smoke", "binary"])
def test_one_seed_parameter_drives_every_stage(env):
    """`--params seed=S` reaches every training seed, in every environment (they override only what they name)."""

    def seeds(**runtime):
        p = OmegaConfigLoader(str(REPO / "conf"), env=env, runtime_params=runtime, **CONFIG_LOADER_ARGS)["parameters"]
        return (
            p["seed"],
            p["pretraining"]["trainer"]["seed"],
            p["simclr"]["trainer"]["seed"],
            p["probing"]["probes"]["seed"],
            p["probing"]["random_encoder_seed"],
        )

    assert seeds() == (0,) * 5
    assert seeds(seed=7) == (7,) * 5
