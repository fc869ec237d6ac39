"""The layout holds: a plain-PyTorch library layer, Kedro wiring above it, and one name per stage."""

import ast
from pathlib import Path

import pytest
from kedro.framework.startup import bootstrap_project

from cpc_pipeline.hooks import STAGES, node_stage
from tests.conftest import REPO

PACKAGE = REPO / "src" / "cpc_pipeline"
LIBRARY = ("data", "models", "losses", "training", "evaluation", "reporting")
PIPELINES = sorted(p.name for p in (PACKAGE / "pipelines").iterdir() if (p / "pipeline.py").exists())


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (functions included), as absolute dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                found.add(".".join([*package, node.module] if node.module else package))
            else:
                found.add(node.module)
    return found


@pytest.mark.parametrize("package", LIBRARY)
def test_the_library_layer_imports_neither_kedro_nor_mlflow(package):
    for path in (PACKAGE / package).rglob("*.py"):
        bad = {m for m in imports(path) if m.split(".")[0] in ("kedro", "kedro_mlflow", "kedro_datasets", "mlflow")}
        bad |= {m for m in imports(path) if m.startswith(("cpc_pipeline.pipelines", "cpc_pipeline.hooks"))}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}: the library layer is plain PyTorch"


@pytest.mark.parametrize("stage", PIPELINES)
def test_no_pipeline_imports_another(stage):
    for path in (PACKAGE / "pipelines" / stage).rglob("*.py"):
        others = {m for m in imports(path) if m.startswith("cpc_pipeline.pipelines.")
                  and m.split(".")[2] != stage}
        assert not others, f"{path.relative_to(REPO)} imports {sorted(others)}: share through the library layer"


def test_the_stage_list_the_folders_and_the_tags_agree():
    from kedro.framework.project import pipelines

    assert sorted(STAGES) == PIPELINES
    bootstrap_project(REPO)
    for stage in STAGES:
        pipeline = pipelines[stage]
        assert pipeline.nodes and {node_stage(n) for n in pipeline.nodes} == {stage}, stage
    assert {node_stage(n) for n in pipelines["__default__"].nodes} == set(STAGES)
