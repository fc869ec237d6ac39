import numpy as np
import pytest
import torch

from cpc_pipeline.data import DigitRenderer
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.evaluation import ProbingConfig
from cpc_pipeline.models import ReferenceEncoderSpec, SimCLRModel
from cpc_pipeline.pipelines.probing.nodes import extract_split_features, freeze_encoder
from cpc_pipeline.pipelines.simclr.nodes import pretrain_simclr, select_simclr_images
from cpc_pipeline.training.loop import TrainerConfig, seed_everything, train
from cpc_pipeline.training.images import knn_predict
from cpc_pipeline.training.simclr import SimCLRConfig, SimCLRMethod, SimCLRObjective
from tests.conftest import write_cifar
from tests.training.test_cpc_training import Interrupted, interrupt_at


def test_knn_predict_votes_by_weighted_similarity():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    queries = torch.tensor([[1.0, 0.05], [0.05, 1.0]])
    assert knn_predict(bank, labels, queries, k=3, temperature=0.1, classes=2).tolist() == [0, 1]
    assert knn_predict(bank, labels, queries, k=1, temperature=0.1, classes=2).tolist() == [0, 1]
    with torch.autocast("cpu", dtype=torch.bfloat16):  # evaluation runs under the trainer's autocast
        assert knn_predict(bank, labels, queries, k=3, temperature=0.1, classes=2).tolist() == [0, 1]


@pytest.mark.slow
def test_simclr_learns_digits_on_genuine_mnist(mnist_splits):
    seed_everything(0)
    t = torch.as_tensor
    model = SimCLRModel(ReferenceEncoderSpec(padding=1).build(1, 28), 64)
    objective = SimCLRObjective(
        images_per_batch=128,
        images_per_epoch=128 * 70,
        knn_k=20,
        knn_bank_images=2000,
        augment={"crop_scale": (0.4, 1.0), "flip_p": 0.0},
    )
    method = SimCLRMethod(
        model,
        objective,
        DigitRenderer(28, color=False),
        t(mnist_splits.train.images),
        t(mnist_splits.train.labels),
        t(mnist_splits.validation.images[:1000]),
        t(mnist_splits.validation.labels[:1000]),
    )
    model.eval()
    with torch.no_grad():
        initial = method.evaluate(torch.Generator().manual_seed(1))
    config = TrainerConfig(
        epochs=3,
        optimizer="sgd",
        learning_rate=0.3,
        schedule="warmup_cosine",
        warmup_epochs=1,
        checkpoint_path=None,
        progress=False,
    )
    history = train(method, config, torch.device("cpu")).history
    last = history[-1]
    assert last["train_loss"] < history[0]["train_loss"] < np.log(2 * 128 - 1)  # below chance, and falling
    assert last["val_loss"] < initial["loss"] - 1.0
    assert last["val_accuracy"] > 50 * last["val_chance_accuracy"]
    # a random conv net's features already give ~73% k-NN on grey MNIST: training must beat that
    # (measured: 81% after 400 steps; SimCLR first dips below it, then climbs)
    assert last["val_knn_accuracy"] > initial["knn_accuracy"] + 0.03
    assert last["learning_rate"] < 1e-3  # the cosine schedule ran down to ~0


def test_cifar_path_pretrains_and_probes_on_test_built_files(tmp_path):
    write_cifar(tmp_path, n_per_batch=16)
    simclr = SimCLRConfig.model_validate(
        {
            "dataset": "cifar10",
            "cifar": {"roots": [str(tmp_path)], "download": False, "verify_checksums": False, "validation_size": 16},
            "encoder": {"arch": "resnet18", "cifar_stem": True},
            "objective": {"images_per_batch": 8, "knn_k": 5, "knn_bank_images": 16, "augment": {"flip_p": 0.5}},
            "trainer": {
                "epochs": 1,
                "optimizer": "sgd",
                "learning_rate": 0.1,
                "checkpoint_path": None,
                "progress": False,
                "device": "cpu",
            },
        }
    )
    train_split, val_split, test_split = select_simclr_images({}, {}, {}, simclr)
    assert train_split["images"].shape == (64, 32, 32, 3)
    rendering = RenderingConfig()
    model, encoder, logged, history = pretrain_simclr(train_split, val_split, rendering, simclr)
    assert logged is encoder  # the same module, to the weights file and to MLflow
    assert len(history) == 1 and np.isfinite(history.train_loss).all() and 0 <= history.val_knn_accuracy[0] <= 1
    assert encoder.code_size == 512

    frozen = freeze_encoder(encoder.state_dict(), train_split, rendering, simclr.encoder)
    probing = ProbingConfig.model_validate({"device": "cpu", "extraction_images_per_batch": 16})
    features = extract_split_features(frozen, train_split, val_split, test_split, rendering, probing)
    assert features["train_x"].shape == (64, 512) and features["test_x"].shape == (16, 512)
    np.testing.assert_array_equal(features["test_y"], test_split["labels"])


def tiny_simclr(splits, seed=0):
    seed_everything(seed)
    model = SimCLRModel(ReferenceEncoderSpec(padding=1, width=16, hidden=32).build(1, 28), 16)
    objective = SimCLRObjective(
        images_per_batch=32,
        images_per_epoch=32 * 4,
        knn_k=5,
        knn_bank_images=200,
        augment={"crop_scale": (0.4, 1.0), "flip_p": 0.0},
    )
    t = torch.as_tensor
    return SimCLRMethod(
        model,
        objective,
        DigitRenderer(28, color=False),
        t(splits.train.images[:2000]),
        t(splits.train.labels[:2000]),
        t(splits.validation.images[:200]),
        t(splits.validation.labels[:200]),
    )


def test_simclr_resume_equals_the_uninterrupted_run_under_warmup_cosine(mnist_splits, tmp_path):
    config = dict(
        epochs=3, optimizer="sgd", learning_rate=0.3, schedule="warmup_cosine", warmup_epochs=1, progress=False
    )
    straight = tiny_simclr(mnist_splits)
    full = train(straight, TrainerConfig(checkpoint_path=None, **config), torch.device("cpu")).history
    ckpt = str(tmp_path / "simclr.pt")
    with pytest.raises(Interrupted):  # the same 3-epoch run, killed after its 2nd epoch's checkpoint
        train(
            tiny_simclr(mnist_splits),
            TrainerConfig(checkpoint_path=ckpt, **config),
            torch.device("cpu"),
            on_epoch_end=interrupt_at(3),
        )
    resumed_method = tiny_simclr(mnist_splits, seed=7)
    resumed = train(resumed_method, TrainerConfig(checkpoint_path=ckpt, resume=True, **config), torch.device("cpu"))
    assert resumed.resumed_from_epoch == 2
    timing = ("train_seconds", "epoch_seconds", "train_images_per_s")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(resumed.history) == strip(full)
    assert full[0]["learning_rate"] > full[1]["learning_rate"] > full[2]["learning_rate"]  # cosine across the cut
    for (key, a), b in zip(straight.model.state_dict().items(), resumed_method.model.state_dict().values()):
        assert torch.equal(a, b), key
