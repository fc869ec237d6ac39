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
        others = {m for m in imports(path) if m.startswith("cpc_pipeline.pipelines.") and m.split(".")[2] != stage}
        assert not others, f"{path.relative_to(REPO)} imports {sorted(others)}: share through the library layer"


def test_the_stage_list_the_folders_and_the_tags_agree():
    from kedro.framework.project import pipelines

    from cpc_pipeline.hooks.stages import ON_DEMAND_STAGES

    assert sorted((*STAGES, *ON_DEMAND_STAGES)) == PIPELINES
    bootstrap_project(REPO)
    for stage in (*STAGES, *ON_DEMAND_STAGES):
        pipeline = pipelines[stage]
        assert pipeline.nodes and {node_stage(n) for n in pipeline.nodes} == {stage}, stage
    assert {node_stage(n) for n in pipelines["__default__"].nodes} == set(STAGES)


MAX_MODULE_LINES = 250  # a module a newcomer can read at once; split along its seams when it grows past this
MODULES = {
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
    for p in PACKAGE.rglob("*.py")
}


def internal_imports(path: Path) -> set[str]:
    """The project modules ``path`` imports, at any depth: ``from pkg import name`` counts as an import of
    ``pkg.name`` where that is a module (a submodule), else of ``pkg``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if name in MODULES else base)
    return {m for m in found if m in MODULES}


def test_no_module_in_src_is_over_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    large = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not large, f"modules over {MAX_MODULE_LINES} lines: {large}"


def test_no_import_cycle_between_modules():
    graph = {name: internal_imports(path) - {name} for name, path in MODULES.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other] if other in path else [*path, other]
            if other not in state and (cycle := visit(other, [*path, other])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check above must be able to fail: two modules importing each other (as hooks and settings did)."""
    package = tmp_path / "cpc_pipeline"
    package.mkdir()
    (package / "a.py").write_text("from cpc_pipeline.b import X\n")
    (package / "b.py").write_text("def f():\n    from cpc_pipeline import a\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "PACKAGE", package)
    monkeypatch.setattr(
        __import__(__name__, fromlist=["x"]),
        "MODULES",
        {"cpc_pipeline.a": package / "a.py", "cpc_pipeline.b": package / "b.py"},
    )
    with pytest.raises(pytest.fail.Exception, match="cpc_pipeline.a -> cpc_pipeline.b -> cpc_pipeline.a"):
        test_no_import_cycle_between_modules()
