"""probing: encoders -> frozen feature extractors -> features -> probes -> one metrics table.

The freeze -> features -> probes chain is one template pipeline instantiated once per entry of the method
registry (:data:`cpc_pipeline.methods.METHODS`), under a Kedro namespace named after its key, so the baselines
and every method run through the very same nodes; kedro-viz shows each namespace as a collapsible group.
"""

from kedro.pipeline import Node, Pipeline

from cpc_pipeline.methods import METHODS, REFERENCE_ENCODER

from .nodes import (
    collect_probe_metrics,
    extract_split_features,
    freeze_encoder,
    initialise_random_encoder,
    pixel_weights,
    probe_features,
    train_supervised_baseline,
)

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)
DIGITS = ["train_digits", "validation_digits", "test_digits"]
IMAGES = ["train_images", "validation_images", "test_images"]  # the template's inputs: digits, or CIFAR-10


# what each encoder's chain hands on, as ``<key>_<output>`` (the frozen module stays in memory)
PER_ENCODER_OUTPUTS = ("frozen_encoder", "features", "probe_results", "probe_predictions")


def probe_template() -> Pipeline:
    return Pipeline(
        [
            Node(
                freeze_encoder,
                ["encoder_weights", "train_images", "params:rendering", "params:encoder"],
                "frozen_encoder",
                name="freeze_encoder",
            ),
            Node(
                extract_split_features,
                ["frozen_encoder", *IMAGES, "params:rendering", "params:probing"],
                "features",
                name="extract_features",
            ),
            Node(
                probe_features,
                ["features", "params:probing"],
                ["probe_results", "probe_predictions"],
                name="fit_probes",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    baselines = Pipeline(
        [
            Node(pixel_weights, None, "pixels_encoder", name="pixel_weights"),
            Node(
                initialise_random_encoder,
                ["train_digits", "params:rendering", f"params:{REFERENCE_ENCODER}", "params:probing"],
                "random_encoder",
                name="initialise_random_encoder",
            ),
            Node(
                train_supervised_baseline,
                [*DIGITS, "params:rendering", f"params:{REFERENCE_ENCODER}", "params:probing"],
                ["supervised_encoder", "supervised_encoder_mlflow_model", "end_to_end_results", "supervised_history"],
                name="train_supervised_baseline",
            ),
        ]
    )
    per_encoder = [
        Pipeline(
            probe_template(),
            namespace=method.key,
            inputs={"encoder_weights": method.weights, **dict(zip(IMAGES, method.picture_datasets))},
            outputs={out: f"{method.key}_{out}" for out in PER_ENCODER_OUTPUTS},
            parameters={
                "params:rendering": "params:rendering",
                "params:probing": "params:probing",
                "params:encoder": f"params:{method.encoder_spec}",
            },
        )
        for method in METHODS.values()
    ]
    collect = Pipeline(
        [
            Node(
                collect_probe_metrics,
                {
                    "end_to_end_results": "end_to_end_results",
                    "test_digits": "test_digits",
                    **{key: f"{key}_probe_results" for key in METHODS},
                },
                ["probe_metrics", "probing_metrics"],
                name="collect_probe_metrics",
            ),
        ]
    )
    return Pipeline([baselines, *per_encoder, collect], tags=STAGE)
