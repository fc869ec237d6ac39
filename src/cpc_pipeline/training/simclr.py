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

Validation: the NT-Xent loss and accuracy on augmented validation pairs (fixed draws), and the k-NN
monitor of :mod:`cpc_pipeline.training.images`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from pydantic import Field

from cpc_pipeline.data.augment import AugmentConfig, BatchAugment
from cpc_pipeline.data.pictures import PictureSource
from cpc_pipeline.losses import nt_xent
from cpc_pipeline.models import EncoderSpec, ReferenceEncoderSpec, SimCLRModel
from cpc_pipeline.training import distributed
from cpc_pipeline.training.images import (
    ImageInputs,
    KNNMonitor,
    ToPictures,
    build_on_images,
    epoch_batches,
    fit_on_images,
    check_validation_batch,
    knn_accuracy,
    steps_per_epoch,
)
from cpc_pipeline.training.loop import TrainerConfig


class SimCLRObjective(KNNMonitor):
    images_per_batch: int = Field(256, ge=2)  # images per step, two views each
    temperature: float = Field(0.5, gt=0)
    augment: AugmentConfig = AugmentConfig()
    images_per_epoch: int | None = Field(None, ge=2)  # None: every training image once per epoch


class SimCLRConfig(PictureSource):
    """``params:simclr``: which images, the encoder and projection, the objective and the training loop."""

    encoder: EncoderSpec = EncoderSpec(ReferenceEncoderSpec())
    projection_dim: int = Field(128, ge=1)
    objective: SimCLRObjective = SimCLRObjective()
    trainer: TrainerConfig = TrainerConfig(
        optimizer="sgd",
        learning_rate=0.3,
        weight_decay=1e-4,
        schedule="warmup_cosine",
        warmup_epochs=1,
        epochs=3,
        checkpoint_path="data/06_models/simclr_checkpoint.pt",
    )


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
        check_validation_batch(objective.images_per_batch, len(validation_images))
        self.model = model
        self.forward: torch.nn.Module = model  # what training calls: DistributedDataParallel(model) in a worker
        self.objective = objective
        self.to_pictures = to_pictures
        self.augment = BatchAugment(objective.augment)
        self.train_images, self.train_labels = train_images, train_labels
        self.validation_images, self.validation_labels = validation_images, validation_labels
        self.classes = classes
        n = objective.images_per_epoch or len(train_images)  # the global epoch, shared out between the processes
        self.steps_per_epoch = steps_per_epoch(n, objective.images_per_batch)  # full batches: NT-Xent's N is fixed

    def global_batch(self) -> dict[str, int]:
        return {"global_images_per_batch": self.objective.images_per_batch * distributed.world_size()}

    def _views(self, images: torch.Tensor, generator) -> torch.Tensor:
        """Two views per image. Each view is rendered anew: for digits every rendering draws its own
        background crop and colour shift, so the views share only the digit. Rendering once and
        augmenting twice let SimCLR match views by their common background texture (measured: validation
        k-NN 13.9% after one epoch, below the random-init encoder)."""
        views = [self.augment((self.to_pictures(images, generator) + 1) / 2, generator) for _ in range(2)]
        return torch.cat(views) * 2 - 1  # augmentations work in [0, 1], the encoder in [-1, 1]

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        for rows in epoch_batches(
            len(self.train_images),
            self.objective.images_per_batch,
            self.steps_per_epoch,
            generator,
            self.train_images.device,
        ):
            yield self._views(self.train_images[rows], generator)

    def _loss(self, views: torch.Tensor, model: torch.nn.Module | None = None, gather=lambda t: t):
        a, b = (model or self.model)(views).chunk(2)
        return nt_xent(gather(a), gather(b), self.objective.temperature)

    def training_step(self, views: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        out = self._loss(views, self.forward, distributed.gather)  # every rank's views: the global batch
        n = len(views) * distributed.world_size()  # the sums are over the global batch
        return out.loss, {"loss": out.loss * n, "accuracy": out.correct.float().sum()}, n

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
        metrics["knn_accuracy"] = knn_accuracy(
            self.model.encoder,
            self.to_pictures,
            obj,
            self.train_images,
            self.train_labels,
            val,
            self.validation_labels,
            generator,
            self.classes,
        )
        return metrics


# ------------------------------------------------------------------ fitting, in one process or several
def fit_simclr(inputs: ImageInputs, cfg: SimCLRConfig, on_epoch_end=None) -> tuple[SimCLRModel, list[dict[str, float]]]:
    """Build and train SimCLR -> the model (CPU, eval mode) and its epoch history, in this process or, with
    ``trainer.distributed``, in launched workers (:func:`cpc_pipeline.training.distributed.run`)."""
    return distributed.run(_fit_simclr, cfg.trainer.distributed, inputs, cfg, on_epoch_end=on_epoch_end)


def build_simclr(inputs: ImageInputs, cfg: SimCLRConfig) -> tuple[SimCLRMethod, torch.device]:
    """The SimCLR method ready to train on this process's device (a worker: in the process group, through DDP)."""
    device = inputs.start_process(cfg)
    model = SimCLRModel(cfg.encoder.build(*inputs.picture_shape), cfg.projection_dim)
    return build_on_images(SimCLRMethod, model, inputs, cfg, device), device


def _fit_simclr(
    inputs: ImageInputs, cfg: SimCLRConfig, on_epoch_end=None
) -> tuple[SimCLRModel, list[dict[str, float]]]:
    return fit_on_images(*build_simclr(inputs, cfg), cfg.trainer, on_epoch_end)
