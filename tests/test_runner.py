"""``kedro run``'s default runner: CPC pretraining as early as its inputs allow, in a valid order."""

from __future__ import annotations

from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner
from kedro.utils import load_obj

from cpc_pipeline.runner import PriorityRunner, priority_order


def test_cpc_pretraining_runs_before_the_other_trainings_in_the_default_pipeline(kedro_project):
    from kedro.framework.project import pipelines

    pipeline = pipelines["__default__"]
    kedro_order = [n.name for n in pipeline.nodes]
    order = [n.name for n in priority_order(pipeline, PriorityRunner().first)]
    assert sorted(order) == sorted(kedro_order)
    # Kedro alone trains the supervised baseline and patch CPC first
    assert kedro_order.index("probing.train_supervised_baseline") < kedro_order.index("pretraining.pretrain_cpc")
    assert order[:3] == ["data_processing.load_digits", "data_processing.build_sequence_tables",
                         "pretraining.pretrain_cpc"]
    produced: set[str] = set()
    made_here = {out for n in pipeline.nodes for out in n.outputs}
    for n in priority_order(pipeline, PriorityRunner().first):
        assert {i for i in n.inputs if i in made_here} <= produced, f"{n.name} runs before its inputs exist"
        produced |= set(n.outputs)


def test_the_runner_executes_the_priority_node_and_its_inputs_first():
    ran: list[str] = []

    def step(name):
        def fn(*_):
            ran.append(name)
            return name
        return fn

    pipeline = Pipeline([
        node(step("a_other"), None, "x", name="a_other"),
        node(step("b_source"), None, "y", name="b_source"),
        node(step("c_middle"), "y", "z", name="c_middle"),
        node(step("d_wanted"), "z", "w", name="d_wanted", namespace="stage"),  # namespaces, as in the project
        node(step("e_after"), ["x", "w"], "v", name="e_after"),
    ])

    def run(runner):
        ran.clear()
        runner.run(pipeline, DataCatalog({k: MemoryDataset() for k in "xyzwv"}))
        return list(ran)

    assert run(SequentialRunner()) == ["a_other", "b_source", "c_middle", "d_wanted", "e_after"]
    assert run(PriorityRunner(first="stage.d_wanted")) == ["b_source", "c_middle", "d_wanted", "a_other", "e_after"]
    assert run(PriorityRunner(first="not_in_this_pipeline")) == run(SequentialRunner())


def test_kedro_run_uses_it_by_default():
    from cpc_pipeline.cli import cli

    runner = next(p for p in cli.commands["run"].params if p.name == "runner")
    assert load_obj(runner.default, "kedro.runner") is PriorityRunner
