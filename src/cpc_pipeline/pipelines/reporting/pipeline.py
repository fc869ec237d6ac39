"""reporting: histories, probe results and features -> plots and report.md in data/08_reporting.

The run's parameters and each earlier stage's time are read back from MLflow, where the hooks recorded them, by
nodes of their own, so that every dataset the report reads has a producer in the pipeline graph.
"""

from kedro.pipeline import Node, Pipeline

from cpc_pipeline.methods import METHODS

from .nodes import (
    build_report,
    embed_test_features,
    plot_confusion_matrix,
    plot_embedding,
    plot_label_efficiency,
    plot_pretraining_curves,
    plot_step_accuracy,
    read_run_parameters,
    read_stage_wall_times,
)

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)


def create_pipeline(**kwargs) -> Pipeline:
    trained = [m for m in METHODS.values() if m.trains]  # the headline is the first that trained in the run
    histories = {m.key: m.history for m in trained}
    return Pipeline(
        [
            Node(read_run_parameters, None, "run_parameters", name="read_run_parameters"),
            # after probe_metrics: every stage before this one has ended, its time recorded
            Node(read_stage_wall_times, "probe_metrics", "stage_wall_times", name="read_stage_wall_times"),
            Node(plot_pretraining_curves, histories, "pretraining_curves_plot", name="plot_pretraining_curves"),
            Node(plot_step_accuracy, histories, "step_accuracy_plot", name="plot_step_accuracy"),
            Node(
                plot_label_efficiency,
                ["probe_metrics", "digit_source"],
                "label_efficiency_plot",
                name="plot_label_efficiency",
            ),
            Node(
                plot_confusion_matrix,
                {
                    "digit_source": "digit_source",
                    "reporting": "params:reporting",
                    **{m.key: f"{m.key}_probe_predictions" for m in trained},
                },
                "confusion_matrix_plot",
                name="plot_confusion_matrix",
            ),
            Node(
                embed_test_features,
                {"reporting": "params:reporting", **{m.key: f"{m.key}_features" for m in trained}},
                "test_embedding",
                name="embed_test_features",
            ),
            Node(
                plot_embedding,
                ["test_embedding", "digit_source", "params:reporting"],
                "embedding_plot",
                name="plot_embedding",
            ),
            Node(
                build_report,
                {
                    "digit_source": "digit_source",
                    "run_parameters": "run_parameters",
                    "probe_metrics": "probe_metrics",
                    "stage_wall_times": "stage_wall_times",
                    **histories,
                },
                "report",
                name="build_report",
            ),
        ],
        tags=STAGE,
    )
