"""reporting: histories, probe results and features -> plots and report.md in data/08_reporting.

The run's parameters and each earlier stage's time are read back from MLflow, where the hooks recorded them, by
nodes of their own, so that every dataset the report reads has a producer in the pipeline graph.
"""

from kedro.pipeline import Node, Pipeline

from cpc_pipeline.methods import METHODS, headline_method

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
    main = headline_method()
    histories = {m.key: m.history for m in METHODS.values() if m.trains}
    return Pipeline(
        [
            Node(read_run_parameters, None, "run_parameters", name="read_run_parameters"),
            # after probe_metrics: every stage before this one has ended, its time recorded
            Node(read_stage_wall_times, "probe_metrics", "stage_wall_times", name="read_stage_wall_times"),
            Node(plot_pretraining_curves, main.history, "pretraining_curves_plot", name="plot_pretraining_curves"),
            Node(plot_step_accuracy, main.history, "step_accuracy_plot", name="plot_step_accuracy"),
            Node(
                plot_label_efficiency,
                ["probe_metrics", "digit_source"],
                "label_efficiency_plot",
                name="plot_label_efficiency",
            ),
            Node(
                plot_confusion_matrix,
                [f"{main.key}_probe_predictions", "digit_source", "params:reporting"],
                "confusion_matrix_plot",
                name="plot_confusion_matrix",
            ),
            Node(
                embed_test_features,
                [f"{main.key}_features", "params:reporting"],
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
