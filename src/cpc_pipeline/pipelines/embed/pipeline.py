"""embed: one namespaced node per pretraining method of the registry, so that the user picks the encoder:

    kedro run --pipelines embed --namespaces embed.simclr --params embed.folder.root=/data/photos

writes ``data/07_model_output/simclr_embeddings.parquet`` and registers the encoder, taking picture arrays, as
the MLflow model ``cpc_pipeline.simclr_embedder`` (``mlflow.pyfunc.load_model(...).predict(uint8 images)``).
The stage is not part of ``__default__``: it reads pictures of the user's own.
"""

from kedro.pipeline import Node, Pipeline

from cpc_pipeline.methods import METHODS

from .nodes import embed_pictures

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name


def create_pipeline(**kwargs) -> Pipeline:
    per_method = [
        Pipeline(
            [
                Node(
                    embed_pictures,
                    ["encoder_weights", "params:encoder", "params:source", "params:rendering", "params:embed"],
                    ["embeddings", "embedder"],
                    name="embed",
                )
            ],
            namespace=method.key,
            inputs={"encoder_weights": method.weights},
            outputs={"embeddings": f"{method.key}_embeddings", "embedder": f"{method.key}_embedder_mlflow_model"},
            parameters={
                "params:encoder": f"params:{method.encoder_spec}",
                "params:source": "params:source",
                "params:rendering": "params:rendering",
                "params:embed": "params:embed",
            },
        )
        for method in METHODS.values()
        if method.trains
    ]
    return Pipeline(per_method, tags=STAGE)
