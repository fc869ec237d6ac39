"""simclr: images -> SimCLR pretraining -> simclr_encoder (probed by the probing pipeline's simclr namespace)."""

from kedro.pipeline import Node, Pipeline

from .nodes import pretrain_simclr, select_simclr_images

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)
IMAGES = ["simclr_train_images", "simclr_validation_images", "simclr_test_images"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                select_simclr_images,
                ["train_digits", "validation_digits", "test_digits", "params:simclr"],
                IMAGES,
                name="select_simclr_images",
            ),
            Node(
                pretrain_simclr,
                [*IMAGES[:2], "params:rendering", "params:simclr"],
                ["simclr_model", "simclr_encoder", "simclr_encoder_mlflow_model", "simclr_history"],
                name="pretrain_simclr",
            ),
        ],
        tags=STAGE,
    )
