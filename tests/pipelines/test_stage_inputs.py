"""Every stage's pipeline runs on its own (`kedro run --pipeline <stage>`) after the stages before it:
what a stage reads from outside itself must be a dataset persisted on disk, never one held in memory."""

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset

from cpc_pipeline.hooks import STAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_inputs_are_persisted(stage):
    module = __import__(f"cpc_pipeline.pipelines.{stage}.pipeline", fromlist=["create_pipeline"])
    catalog = DataCatalog.from_config(
        OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="base")["catalog"]
    )
    external = sorted(name for name in module.create_pipeline().inputs() if not name.startswith("params:"))
    assert external or stage == "data_processing"
    in_memory = [name for name in external if name not in catalog or isinstance(catalog.get(name), MemoryDataset)]
    assert not in_memory, f"`kedro run --pipeline {stage}` cannot load {in_memory}: nothing before it persists them"
