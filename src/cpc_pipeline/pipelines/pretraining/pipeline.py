"""pretraining: sequence datasets -> trained CPC model and encoder."""

from kedro.pipeline import Node, Pipeline

from .nodes import pretrain_cpc

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                pretrain_cpc,
                inputs=[
                    "train_digits",
                    "validation_digits",
                    "train_sequences",
                    "validation_sequences",
                    "params:sequences",
                    "params:rendering",
                    "params:pretraining",
                ],
                outputs=["cpc_model", "cpc_encoder", "cpc_encoder_mlflow_model", "pretraining_history"],
                name="pretrain_cpc",
            ),
        ],
        tags=STAGE,
    )
