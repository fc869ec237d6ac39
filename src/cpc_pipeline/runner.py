"""``kedro run``'s default runner here: Kedro's sequential runner, with CPC pretraining as early as its inputs allow.

Why: Kedro runs the nodes of one topological layer in the order of their names, and the layer of a node is
set by its longest chain of inputs. CPC pretraining needs the sequence tables, so it sits a layer below the
supervised baseline and the patch CPC and SimCLR image selections, and the sequential runner used to train
the supervised baseline (6 min on 2 CPU cores) and patch CPC (10 min) before it. The project's main result
then reached MLflow about 20 minutes into ``kedro run``.

:class:`PriorityRunner` runs the nodes that ``first`` names, each with its upstream nodes, before everything
else, and the rest in Kedro's own order. That is still a topological order: every prefix it runs is closed
under "needs the output of", so no node runs before its inputs exist. The nodes, their inputs and their
results are the same as under ``SequentialRunner``; only when each one runs changes.

``kedro run --runner SequentialRunner`` restores Kedro's order; ``--runner-params first=<node>`` (a node's full
name, with its namespace) brings another node forward.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

FIRST = ("pretraining.pretrain_cpc",)


class _Ordered(Pipeline):
    """``pipeline``'s nodes, listed in ``order`` (a topological order of them) instead of Kedro's."""

    def __init__(self, pipeline: Pipeline, order: list) -> None:
        self._order = order  # first: Pipeline's constructor reads ``nodes`` when it checks namespaces
        super().__init__(pipeline.nodes)

    @property
    def nodes(self) -> list:
        return list(self._order)


def priority_order(pipeline: Pipeline, first: Iterable[str]) -> list:
    """``pipeline.nodes`` with the nodes named in ``first`` and their upstream nodes moved to the front
    (in Kedro's order within each part); names not in ``pipeline`` are ignored, so ``kedro run --pipelines
    simclr`` runs as before."""
    names = {n.name for n in pipeline.nodes}
    ordered, seen = [], set()
    for name in [n for n in first if n in names]:
        for node in pipeline.to_nodes(name).nodes:
            if node not in seen:
                ordered.append(node)
                seen.add(node)
    return ordered + [n for n in pipeline.nodes if n not in seen]


class PriorityRunner(SequentialRunner):
    """:class:`~kedro.runner.SequentialRunner` that runs ``first`` (node names) and their upstream nodes first."""

    def __init__(self, is_async: bool = False, first: str | Iterable[str] = FIRST) -> None:
        super().__init__(is_async=is_async)
        self.first = (first,) if isinstance(first, str) else tuple(first)

    def _run(self, pipeline: Pipeline, catalog, hook_manager=None, run_id: str | None = None) -> None:
        super()._run(_Ordered(pipeline, priority_order(pipeline, self.first)), catalog, hook_manager, run_id)
