"""simclr: images -> SimCLR pretraining -> simclr_encoder (probed by the probing pipeline's simclr namespace)."""

from kedro.pipeline import Node, Pipeline

from .nodes import pretrain_simclr, select_simclr_images


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(select_simclr_images, ["train_digits", "validation_digits", "test_digits", "params:simclr"],
                 ["simclr_train", "simclr_validation", "simclr_test"], name="select_simclr_images"),
            Node(pretrain_simclr, ["simclr_train", "simclr_validation", "params:rendering", "params:simclr"],
                 ["simclr_model", "simclr_encoder", "simclr_history"], name="pretrain_simclr"),
        ],
        tags="simclr",
    )
