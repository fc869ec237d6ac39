"""The tags a study finds its seeds by: the configuration hash must not depend on the seed, and computing
it must not change the parameters the run itself resolves."""

from kedro.config import OmegaConfigLoader

from cpc_pipeline.hooks import default_seed_parameters, run_config_hash
from cpc_pipeline.provenance import config_hash
from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS
from tests.conftest import REPO


def test_config_hash_is_the_same_for_every_seed_and_leaves_the_runs_seed_alone():
    loader = OmegaConfigLoader(str(REPO / "conf"), runtime_params={"seed": 1}, **CONFIG_LOADER_ARGS)
    assert loader["parameters"]["pretraining"]["trainer"]["seed"] == 1  # the run has read its parameters
    seedless = default_seed_parameters(loader)
    assert seedless["pretraining"]["trainer"]["seed"] == seedless["seed"] != 1
    assert config_hash(seedless) == run_config_hash(REPO, None) == run_config_hash(REPO, None, {"seed": 7})
    after = loader["parameters"]  # the run's own loader still resolves its seed everywhere
    assert after["pretraining"]["trainer"]["seed"] == after["probing"]["random_encoder_seed"] == 1


def test_config_hash_follows_every_other_override():
    assert run_config_hash(REPO, None, {"pretraining": {"trainer": {"epochs": 3}}}) != run_config_hash(REPO, None)
