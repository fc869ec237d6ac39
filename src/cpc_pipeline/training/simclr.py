"""SimCLR (Chen et al., 2020) as a training method for :func:`cpc_pipeline.training.loop.train`.

Each step takes N stored images, turns each into two pictures on the device (the digit renderer, which
draws a new background per call, for MNIST; a plain conversion for CIFAR-10), augments each picture
independently, encodes and projects both views in one forward pass (so BatchNorm sees all 2N) and
applies NT-Xent.

Distributed (``trainer.distributed``, :func:`fit_simclr`): each process takes its own block of every step's
images from one epoch order that all processes share, draws its own views, and the step gathers every
rank's projections with gradients before NT-Xent, so each view's negatives are the other ``2NW - 2`` views
of the global batch, as in one process with ``W`` times the batch (``images_per_batch`` is per process;
an epoch still covers the training images once).

Validation: the NT-Xent loss and accuracy on augmented validation pairs (fixed draws), and the
standard k-NN monitor (Wu et al., 2018, as in SimCLR/MoCo code bases): cosine similarity of the
encoder's features of un-augmented validation images to a bank of training images, the top ``k``
neighbours voting with weights ``exp(sim / temperature)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.augment import AugmentConfig, BatchAugment
from cpc_pipeline.data.cifar import CIFARSourceConfig
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import picture_shape, pictures_for
from cpc_pipeline.losses import nt_xent
from cpc_pipeline.models import EncoderSpec, ReferenceEncoderSpec, SimCLRModel
from cpc_pipeline.training import distributed
from cpc_pipeline.training.loop import TrainerConfig, pick_device, seed_everything, train

logger = logging.getLogger(__name__)

ToPictures = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]  # stored batch -> float [-1, 1]


class SimCLRObjective(StrictModel):
    images_per_batch: int = Field(256, ge=2)  # images per step, two views each
    temperature: float = Field(0.5, gt=0)
    augment: AugmentConfig = AugmentConfig()
    images_per_epoch: int | None = Field(None, ge=2)  # None: every training image once per epoch
    knn_k: int = Field(200, ge=1)
    knn_temperature: float = Field(0.1, gt=0)
    knn_bank_images: int = Field(10_000, ge=10)  # training images in the monitor's bank
    eval_images_per_batch: int = Field(512, ge=2)  # un-augmented images per batch of the k-NN monitor


class SimCLRConfig(StrictModel):
    """``params:simclr``: which images, the encoder and projection, the objective and the training loop."""

    dataset: Literal["mnist", "cifar10"] = "mnist"
    cifar: CIFARSourceConfig = CIFARSourceConfig()
    encoder: EncoderSpec = EncoderSpec(ReferenceEncoderSpec())
    projection_dim: int = Field(128, ge=1)
    objective: SimCLRObjective = SimCLRObjective()
    trainer: TrainerConfig = TrainerConfig(
        optimizer="sgd", learning_rate=0.3, weight_decay=1e-4, schedule="warmup_cosine", warmup_epochs=1, epochs=3,
        checkpoint_path="data/06_models/simclr_checkpoint.pt",
    )


def knn_predict(
    bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, k: int, temperature: float, classes: int
) -> torch.Tensor:
    """Weighted k-NN labels of ``queries`` among ``bank`` (features are L2-normalised here)."""
    sim = F.normalize(queries.float(), dim=1) @ F.normalize(bank.float(), dim=1).T
    top, idx = sim.topk(min(k, len(bank)), dim=1)
    votes = torch.zeros(len(queries), classes, device=queries.device)
    votes.scatter_add_(1, bank_labels[idx], (top / temperature).exp())
    return votes.argmax(1)


class SimCLRMethod:
    items_name = "images"
    monitor = "loss"

    def __init__(
        self,
        model: SimCLRModel,
        objective: SimCLRObjective,
        to_pictures: ToPictures,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        validation_images: torch.Tensor,
        validation_labels: torch.Tensor,
        classes: int = 10,
    ) -> None:
        self.model = model
        self.forward: torch.nn.Module = model  # what training calls: DistributedDataParallel(model) in a worker
        self.objective = objective
        self.to_pictures = to_pictures
        self.augment = BatchAugment(objective.augment)
        self.train_images, self.train_labels = train_images, train_labels
        self.validation_images, self.validation_labels = validation_images, validation_labels
        self.classes = classes
        n = objective.images_per_epoch or len(train_images)  # the global epoch, shared out between the processes
        self.steps_per_epoch = max(1, n // (objective.images_per_batch * distributed.world_size()))  # full batches

    def _views(self, images: torch.Tensor, generator) -> torch.Tensor:
        """Two views per image. Each view is rendered anew: for digits every rendering draws its own
        background crop and colour shift, so the views share only the digit. Rendering once and
        augmenting twice let SimCLR match views by their common background texture (measured: validation
        k-NN 13.9% after one epoch, below the random-init encoder)."""
        views = [self.augment((self.to_pictures(images, generator) + 1) / 2, generator) for _ in range(2)]
        return torch.cat(views) * 2 - 1  # augmentations work in [0, 1], the encoder in [-1, 1]

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        n, b = len(self.train_images), self.objective.images_per_batch
        shared = distributed.shared_generator(generator)  # one order, split between the processes
        order = torch.cat(
            [torch.randperm(n, generator=shared, device=self.train_images.device)
             for _ in range(math.ceil(self.steps_per_epoch * b * distributed.world_size() / n))]
        )
        for i in range(self.steps_per_epoch):
            yield self._views(self.train_images[order[distributed.shard(i, b)]], generator)

    def _loss(self, views: torch.Tensor, model: torch.nn.Module | None = None, gather=lambda t: t):
        a, b = (model or self.model)(views).chunk(2)
        return nt_xent(gather(a), gather(b), self.objective.temperature)

    def training_step(self, views: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        out = self._loss(views, self.forward, distributed.gather)  # every rank's views: the global batch
        n = len(views) * distributed.world_size()  # the sums are over the global batch
        return out.loss, {"loss": out.loss * n, "accuracy": out.correct.float().sum()}, n

    def features(self, images: torch.Tensor, generator) -> torch.Tensor:
        """Encoder outputs of un-augmented pictures, in eval batches."""
        size = self.objective.eval_images_per_batch
        return torch.cat(
            [self.model.encoder(self.to_pictures(images[s : s + size], generator)).float()
             for s in range(0, len(images), size)]
        )

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        distributed.broadcast_buffers(self.model)  # every rank validates with rank 0's BatchNorm statistics
        obj = self.objective
        sums, count = {"loss": 0.0, "accuracy": 0.0}, 0
        val = self.validation_images
        b = obj.images_per_batch
        for s in range(0, len(val) - b + 1, b):  # NT-Xent batches as in training
            out = self._loss(self._views(val[s : s + b], generator))
            sums["loss"] += float(out.loss) * 2 * b
            sums["accuracy"] += float(out.correct.float().sum())
            count += 2 * b
        metrics = {k: v / count for k, v in sums.items()} if count else {}
        metrics["chance_accuracy"] = 1 / (2 * b - 1)
        bank = self.train_images[: obj.knn_bank_images]
        predicted = knn_predict(
            self.features(bank, generator), self.train_labels[: obj.knn_bank_images],
            self.features(val, generator), obj.knn_k, obj.knn_temperature, self.classes,
        )
        metrics["knn_accuracy"] = float((predicted == self.validation_labels).float().mean())
        return metrics


# ------------------------------------------------------------------ fitting, in one process or several
@dataclass
class SimCLRInputs:
    """The SimCLR stage's inputs, as the catalog gives them (picklable, for spawned workers)."""

    train: dict  # {"images", "labels"}: stored images (uint8 digits or CIFAR-10 pictures)
    validation: dict
    rendering: RenderingConfig


def fit_simclr(inputs: SimCLRInputs, cfg: SimCLRConfig, on_epoch_end=None) -> tuple[SimCLRModel, list[dict[str, float]]]:
    """Build and train SimCLR -> the model (CPU, eval mode) and its epoch history, in this process or, with
    ``trainer.distributed``, in launched workers (:func:`cpc_pipeline.training.distributed.run`)."""
    return distributed.run(_fit_simclr, cfg.trainer.distributed, inputs, cfg, on_epoch_end=on_epoch_end)


def _fit_simclr(inputs: SimCLRInputs, cfg: SimCLRConfig, on_epoch_end=None) -> tuple[SimCLRModel, list[dict[str, float]]]:
    device = pick_device(cfg.trainer.device)
    if cfg.trainer.distributed.enabled:
        device = distributed.init_worker(cfg.trainer.distributed, device)
        distributed.check_same_inputs(*inputs.train.values(), *inputs.validation.values(), inputs.rendering,
                                      cfg.model_dump(exclude={"trainer": {"distributed"}}))
    seed_everything(cfg.trainer.seed)  # every rank initialises the same weights
    images = np.asarray(inputs.train["images"])
    model = SimCLRModel(cfg.encoder.build(*picture_shape(images, inputs.rendering)), cfg.projection_dim)
    model = model.to(device, memory_format=torch.channels_last if cfg.trainer.channels_last else torch.preserve_format)
    t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
    method = SimCLRMethod(
        model, cfg.objective, pictures_for(images, inputs.rendering, device), t(inputs.train["images"]),
        t(inputs.train["labels"]), t(inputs.validation["images"]), t(inputs.validation["labels"]),
    )
    method.forward = distributed.data_parallel(model, cfg.trainer.distributed, device)
    logger.info("Pretraining SimCLR (%s encoder) on %s, %d steps per epoch", cfg.encoder.arch, device,
                method.steps_per_epoch)
    result = train(method, cfg.trainer, device, on_epoch_end=on_epoch_end)
    distributed.check_same_on_every_rank(model)
    return model.cpu().eval(), result.history
