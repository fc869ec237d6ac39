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


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(plot_pretraining_curves, "pretraining_history", "pretraining_curves_plot", name="plot_pretraining_curves"),
            Node(plot_step_accuracy, "pretraining_history", "step_accuracy_plot", name="plot_step_accuracy"),
            Node(plot_label_efficiency, "probe_metrics", "label_efficiency_plot", name="plot_label_efficiency"),
            Node(plot_confusion_matrix, ["cpc_probe_predictions", "params:reporting"], "confusion_matrix_plot",
                 name="plot_confusion_matrix"),
            Node(embed_test_features, ["cpc_features", "params:reporting"], "test_embedding", name="embed_test_features"),
            Node(plot_embedding, ["test_embedding", "params:reporting"], "embedding_plot", name="plot_embedding"),
            Node(
                build_report,
                ["digit_source", "params:sequences", "params:pretraining", "params:probing", "params:rendering",
                 "pretraining_history", "probe_metrics", "stage_wall_times", "params:simclr", "simclr_history"],
                "report",
                name="build_report",
            ),
        ],
        tags="reporting",
    )
