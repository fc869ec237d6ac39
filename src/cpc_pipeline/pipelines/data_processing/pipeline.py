"""data_processing: digit source -> digit splits -> sequence tables -> preview."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_sequence_tables, load_digits, render_sequence_preview, summarise_data

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                load_digits,
                inputs="params:source",
                outputs=["train_digits", "validation_digits", "test_digits", "digit_source"],
                name="load_digits",
            ),
            Node(
                build_sequence_tables,
                inputs=["train_digits", "validation_digits", "test_digits", "params:sequences"],
                outputs=["train_sequences", "validation_sequences", "test_sequences"],
                name="build_sequence_tables",
            ),
            Node(
                render_sequence_preview,
                inputs=[
                    "validation_digits",
                    "validation_sequences",
                    "params:sequences",
                    "params:rendering",
                    "params:preview",
                ],
                outputs="sequence_preview",
                name="render_sequence_preview",
            ),
            Node(
                summarise_data,
                inputs=["digit_source", "train_sequences", "validation_sequences", "test_sequences"],
                outputs="data_metrics",
                name="summarise_data",
            ),
        ],
        tags=STAGE,
    )
