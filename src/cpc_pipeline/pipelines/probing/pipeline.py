"""probing: encoders -> frozen feature extractors -> features -> probes -> one metrics table.

The freeze -> features -> probes chain is one template pipeline instantiated once per encoder under
a Kedro namespace (``cpc``, ``random``, ``supervised``, ``simclr``, ``patch_cpc``), so the baselines and the second
method run through the very same nodes as the CPC encoder; kedro-viz shows each namespace as a
collapsible group.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    collect_probe_metrics,
    extract_split_features,
    freeze_encoder,
    initialise_random_encoder,
    probe_features,
    train_supervised_baseline,
)

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)
DIGITS = ["train_digits", "validation_digits", "test_digits"]
IMAGES = ["train_images", "validation_images", "test_images"]  # the template's inputs: digits, or CIFAR-10
# encoder namespace -> (its weights, the spec that rebuilds it, the images it is probed on)
ENCODERS = {
    "cpc": ("cpc_encoder", "params:pretraining.model.encoder", DIGITS),
    "random": ("random_encoder", "params:pretraining.model.encoder", DIGITS),
    "supervised": ("supervised_encoder", "params:pretraining.model.encoder", DIGITS),
    "simclr": ("simclr_encoder", "params:simclr.encoder", [f"simclr_{name}" for name in IMAGES]),
    "patch_cpc": ("patch_cpc_encoder", "params:patch_cpc.model.encoder", [f"patch_cpc_{name}" for name in IMAGES]),
}


def probe_template() -> Pipeline:
    return Pipeline(
        [
            Node(freeze_encoder, ["encoder_weights", "train_images", "params:rendering", "params:encoder"],
                 "frozen_encoder", name="freeze_encoder"),
            Node(extract_split_features, ["frozen_encoder", *IMAGES, "params:rendering", "params:probing"], "features",
                 name="extract_features"),
            Node(probe_features, ["features", "params:probing"], ["probe_results", "probe_predictions"],
                 name="fit_probes"),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    baselines = Pipeline(
        [
            Node(initialise_random_encoder,
                 ["train_digits", "params:rendering", "params:pretraining.model.encoder", "params:probing"],
                 "random_encoder", name="initialise_random_encoder"),
            Node(train_supervised_baseline,
                 [*DIGITS, "params:rendering", "params:pretraining.model.encoder", "params:probing"],
                 ["supervised_encoder", "end_to_end_results", "supervised_history"], name="train_supervised_baseline"),
        ]
    )
    per_encoder = [
        Pipeline(
            probe_template(),
            namespace=name,
            inputs={"encoder_weights": weights, **dict(zip(IMAGES, images))},
            outputs={out: f"{name}_{out}" for out in ("features", "probe_results", "probe_predictions")},
            parameters={"params:rendering": "params:rendering", "params:probing": "params:probing",
                        "params:encoder": spec},
        )
        for name, (weights, spec, images) in ENCODERS.items()
    ]
    collect = Pipeline(
        [
            Node(collect_probe_metrics,
                 {"end_to_end_results": "end_to_end_results", "test_digits": "test_digits",
                  **{name: f"{name}_probe_results" for name in ENCODERS}},
                 ["probe_metrics", "probing_metrics"], name="collect_probe_metrics"),
        ]
    )
    return Pipeline([baselines, *per_encoder, collect], tags=STAGE)
