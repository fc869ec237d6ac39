"""patch_cpc: images -> CPC on image patches -> patch_cpc_encoder (probed by the probing pipeline's
patch_cpc namespace)."""

from kedro.pipeline import Node, Pipeline

from .nodes import pretrain_patch_cpc, select_patch_cpc_images

STAGE = __name__.split(".")[-2]  # the folder's name is the stage's name (hooks.STAGES)
IMAGES = ["patch_cpc_train_images", "patch_cpc_validation_images", "patch_cpc_test_images"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                select_patch_cpc_images,
                ["train_digits", "validation_digits", "test_digits", "params:patch_cpc"],
                IMAGES,
                name="select_patch_cpc_images",
            ),
            Node(
                pretrain_patch_cpc,
                [*IMAGES[:2], "params:rendering", "params:patch_cpc"],
                ["patch_cpc_model", "patch_cpc_encoder", "patch_cpc_encoder_mlflow_model", "patch_cpc_history"],
                name="pretrain_patch_cpc",
            ),
        ],
        tags=STAGE,
    )
