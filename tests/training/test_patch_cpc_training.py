"""Patch CPC trains label-free at smoke scale on genuine MNIST and beats the random-init encoder's k-NN;
its CIFAR-10 path runs on test-made files, through the nodes and the probing nodes."""

import math

import pytest
import torch

from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import pictures_for
from cpc_pipeline.training.images import knn_accuracy
from cpc_pipeline.training.images import ImageInputs
from cpc_pipeline.training.patch_cpc import PatchCPCConfig, fit_patch_cpc

pytestmark = pytest.mark.slow

SMALL = {
    "model": {
        "encoder": {"size": 10, "stride": 6, "patch_encoder": {"code_size": 64, "width": 32, "hidden": 128}},
        "predict_rows": 2,
        "context_channels": 64,
        "context_layers": 2,
    },
    "objective": {"images_per_batch": 64, "knn_bank_images": 2000, "knn_k": 20},
    "trainer": {"epochs": 1, "checkpoint_path": None, "progress": False, "learning_rate": 2e-3},
}


def test_smoke_training_beats_the_random_encoder_at_knn(mnist_splits):
    rendering = RenderingConfig(image_size=28, color=False)  # grey 28x28 digits: a 4x4 grid of 10px patches
    train = {"images": mnist_splits.train.images[:4000], "labels": mnist_splits.train.labels[:4000]}
    validation = {"images": mnist_splits.validation.images[:1000], "labels": mnist_splits.validation.labels[:1000]}
    cfg = PatchCPCConfig.model_validate(SMALL)
    model, history = fit_patch_cpc(ImageInputs(train, validation, rendering), cfg)

    torch.manual_seed(cfg.trainer.seed)
    random = cfg.model.build(1, 28).eval()
    with torch.no_grad():
        random_knn = knn_accuracy(
            random.encoder,
            pictures_for(train["images"], rendering),
            cfg.objective,
            *(
                torch.as_tensor(a)
                for a in (train["images"], train["labels"], validation["images"], validation["labels"])
            ),
            torch.Generator().manual_seed(0),
        )
    row = history[-1]
    assert row["val_knn_accuracy"] > random_knn + 0.05, (row["val_knn_accuracy"], random_knn)
    candidates = 64 * 4 * 4
    assert row["val_loss"] < math.log(candidates) - 1  # zero W_k start the loss at log N; it learned well below
    assert 0 < row["val_accuracy_down_k1"] <= 1 and "val_accuracy_up_k2" in row
    assert row["val_mi_bound"] > 1


def test_cifar_path_pretrains_and_probes_on_test_built_files(tmp_path):
    """CIFAR-10 through the same torchvision loader as SimCLR (test-made files in CIFAR-10's own format):
    32x32 colour images, 8px patches with stride 4 (a 7x7 grid), through the pipeline's nodes and the
    probing nodes that rebuild the encoder from its spec."""
    import numpy as np

    from cpc_pipeline.evaluation import ProbingConfig
    from cpc_pipeline.pipelines.patch_cpc.nodes import pretrain_patch_cpc, select_patch_cpc_images
    from cpc_pipeline.pipelines.probing.nodes import extract_split_features, freeze_encoder
    from tests.conftest import write_cifar

    write_cifar(tmp_path, n_per_batch=16)
    cfg = PatchCPCConfig.model_validate(
        {
            "dataset": "cifar10",
            "cifar": {"roots": [str(tmp_path)], "download": False, "verify_checksums": False, "validation_size": 16},
            "model": {
                "encoder": {"size": 8, "stride": 4, "patch_encoder": {"code_size": 32, "width": 16, "hidden": 64}},
                "predict_rows": 2,
                "context_channels": 32,
            },
            "objective": {"images_per_batch": 8, "knn_k": 5, "knn_bank_images": 16, "augment": {"flip": 0.5}},
            "trainer": {"epochs": 1, "checkpoint_path": None, "progress": False, "device": "cpu"},
        }
    )
    train_split, val_split, test_split = select_patch_cpc_images({}, {}, {}, cfg)
    assert train_split["images"].shape == (64, 32, 32, 3)
    rendering = RenderingConfig()
    model, encoder, logged, history = pretrain_patch_cpc(train_split, val_split, rendering, cfg)
    assert logged is encoder  # the same module, to the weights file and to MLflow
    assert len(history) == 1 and np.isfinite(history.train_loss).all() and 0 <= history.val_knn_accuracy[0] <= 1

    frozen = freeze_encoder(encoder.state_dict(), train_split, rendering, cfg.model.encoder.model_dump())
    probing = ProbingConfig.model_validate({"device": "cpu", "extraction_images_per_batch": 16})
    features = extract_split_features(frozen, train_split, val_split, test_split, rendering, probing)
    assert features["train_x"].shape == (64, 32) and features["test_x"].shape == (16, 32)
    np.testing.assert_array_equal(features["test_y"], test_split["labels"])


def tiny_inputs(mnist_splits, n=256):
    rendering = RenderingConfig(image_size=28, color=False)
    take = lambda split, k: {"images": split.images[:k], "labels": split.labels[:k]}  # noqa: E731
    return ImageInputs(take(mnist_splits.train, n), take(mnist_splits.validation, 128), rendering)


def tiny_config(tmp_path, **trainer) -> PatchCPCConfig:
    small = {**SMALL, "objective": {"images_per_batch": 32, "knn_bank_images": 128, "knn_k": 5}}
    return PatchCPCConfig.model_validate(
        small | {"trainer": SMALL["trainer"] | {"checkpoint_path": str(tmp_path / "patch_cpc.pt"), **trainer}}
    )


def test_stopped_and_resumed_equals_the_uninterrupted_run(mnist_splits, tmp_path):
    inputs = tiny_inputs(mnist_splits)
    uninterrupted, _ = fit_patch_cpc(inputs, tiny_config(tmp_path, epochs=2))
    fit_patch_cpc(inputs, tiny_config(tmp_path, epochs=1))
    resumed, history = fit_patch_cpc(inputs, tiny_config(tmp_path, epochs=2, resume=True))
    assert [row["epoch"] for row in history] == [1, 2]
    for (name, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_two_processes_train_with_every_ranks_patches_as_candidates(mnist_splits, tmp_path):
    inputs = tiny_inputs(mnist_splits)
    cfg = tiny_config(tmp_path, checkpoint_path=None, distributed={"nproc_per_node": 2, "timeout_s": 120})
    model, history = fit_patch_cpc(inputs, cfg)
    row = history[-1]
    assert row["world_size"] == 2 and row["global_images_per_batch"] == 64
    assert math.isclose(
        math.exp(row["train_loss"] + row["train_mi_bound"]), 64 * 16, rel_tol=1e-3
    )  # N: 2 ranks' patches
