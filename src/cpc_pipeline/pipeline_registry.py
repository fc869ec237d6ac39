"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from cpc_pipeline.hooks.stages import ON_DEMAND_STAGES


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/`` by its folder name, its nodes in a namespace of that name (so
    kedro-viz collapses each stage to one box; dataset and parameter names stay as they are);
    ``__default__`` chains them all but ``embed``, which reads pictures of the user's own."""
    pipelines = {
        name: Pipeline(pipeline, namespace=name, prefix_datasets_with_namespace=False)
        for name, pipeline in find_pipelines(raise_errors=True).items()
    }
    pipelines["__default__"] = sum((p for name, p in pipelines.items() if name not in ON_DEMAND_STAGES), Pipeline([]))
    return pipelines
