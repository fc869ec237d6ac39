"""reporting: histories, probe results and features -> plots and report.md in data/08_reporting."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_report,
    embed_test_features,
    plot_confusion_matrix,
    plot_embedding,
    plot_label_efficiency,
    plot_pretraining_curves,
    plot_step_accuracy,
)

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(plot_pretraining_curves, "pretraining_history", "pretraining_curves_plot", name="plot_pretraining_curves"),
            Node(plot_step_accuracy, "pretraining_history", "step_accuracy_plot", name="plot_step_accuracy"),
            Node(plot_label_efficiency, ["probe_metrics", "digit_source"], "label_efficiency_plot",
                 name="plot_label_efficiency"),
            Node(plot_confusion_matrix, ["cpc_probe_predictions", "digit_source", "params:reporting"],
                 "confusion_matrix_plot", name="plot_confusion_matrix"),
            Node(embed_test_features, ["cpc_features", "params:reporting"], "test_embedding", name="embed_test_features"),
            Node(plot_embedding, ["test_embedding", "digit_source", "params:reporting"], "embedding_plot",
                 name="plot_embedding"),
            Node(
                build_report,
                ["digit_source", "run_parameters", "pretraining_history", "probe_metrics", "stage_wall_times",
                 "simclr_history", "patch_cpc_history"],
                "report",
                name="build_report",
            ),
        ],
        tags=STAGE,
    )
