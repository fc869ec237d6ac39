"""What the methods that learn from single images (SimCLR, patch CPC) share: their inputs and how they are
fitted, each step's images from one epoch order split between the processes, and the k-NN monitor of the
encoder's features.

The k-NN monitor (Wu et al., 2018, as in SimCLR/MoCo code bases): cosine similarity of the encoder's
features of un-augmented validation images to a bank of training images, the top ``k`` neighbours voting
with weights ``exp(sim / temperature)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import picture_shape, pictures_for
from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.losses.precision import float32_scores
from cpc_pipeline.training import distributed
from cpc_pipeline.training.loop import Compute, TrainerConfig, start_process, train

ToPictures = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]  # stored batch -> float [-1, 1]
logger = logging.getLogger(__name__)


@dataclass
class ImageInputs:
    """A single-image method's inputs, as the catalog gives them (picklable, for spawned workers)."""

    train: dict  # {"images", "labels"}: stored images (uint8 digits or CIFAR-10 pictures)
    validation: dict
    rendering: RenderingConfig

    def start_process(self, cfg: StrictModel) -> torch.device:
        """:func:`~cpc_pipeline.training.loop.start_process` with these inputs and ``cfg`` as what ranks compare."""
        return start_process(
            cfg.trainer,
            *self.train.values(),
            *self.validation.values(),
            self.rendering,
            cfg.model_dump(exclude={"trainer": {"distributed"}}),
        )

    @property
    def picture_shape(self) -> tuple[int, int]:
        """(channels, size) of the pictures the model sees."""
        return picture_shape(np.asarray(self.train["images"]), self.rendering)


def build_on_images(method_class, model: nn.Module, inputs: ImageInputs, cfg: StrictModel, device: torch.device):
    """``method_class(model, cfg.objective, pictures, train and validation tensors)`` on ``device``, its forward
    through DDP in a launched worker."""
    model = Compute.of(cfg.trainer, device).place(model)
    t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
    method = method_class(
        model,
        cfg.objective,
        pictures_for(np.asarray(inputs.train["images"]), inputs.rendering, device),
        t(inputs.train["images"]),
        t(inputs.train["labels"]),
        t(inputs.validation["images"]),
        t(inputs.validation["labels"]),
    )
    method.forward = distributed.data_parallel(model, cfg.trainer.distributed, device)
    return method


def fit_on_images(
    method, device: torch.device, trainer: TrainerConfig, on_epoch_end=None
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train a method of :func:`build_on_images` with ``trainer`` -> its model (CPU, eval mode) and history."""
    logger.info(
        "Pretraining %s on %s, %d steps per epoch",
        type(method).__name__.removesuffix("Method"),
        device,
        method.steps_per_epoch,
    )
    result = train(method, trainer, device, on_epoch_end=on_epoch_end)
    distributed.check_same_on_every_rank(method.model)
    return method.model.cpu().eval(), result.history


class KNNMonitor(StrictModel):
    knn_k: int = Field(200, ge=1)
    knn_temperature: float = Field(0.1, gt=0)
    knn_bank_images: int = Field(10_000, ge=10)  # training images in the monitor's bank
    eval_images_per_batch: int = Field(512, ge=2)  # un-augmented images per batch of the k-NN monitor


def steps_per_epoch(images: int, per_step: int) -> int:
    """Full steps of ``per_step`` images per process covering ``images`` once between all processes."""
    return max(1, images // (per_step * distributed.world_size()))


def epoch_batches(n: int, per_step: int, steps: int, generator: torch.Generator, device) -> Iterator[torch.Tensor]:
    """This process's indices into ``n`` images for each of ``steps`` steps: blocks of one random order
    that every process shares (so together they see each image once per pass), drawn anew when used up."""
    shared = distributed.shared_generator(generator)
    order = torch.cat(
        [
            torch.randperm(n, generator=shared, device=device)
            for _ in range(math.ceil(steps * per_step * distributed.world_size() / n))
        ]
    )
    for i in range(steps):
        yield order[distributed.shard(i, per_step)]


def check_validation_batch(images_per_batch: int, validation_images: int) -> None:
    """ValueError unless one validation batch of the training size fits: the contrastive validation loss scores
    batches as large as training's, so as many candidates compete."""
    if validation_images < images_per_batch:
        raise ConfigurationError(
            f"objective.images_per_batch ({images_per_batch}) exceeds the {validation_images} validation images: "
            "use a smaller batch or more validation pictures"
        )


def knn_predict(
    bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, k: int, temperature: float, classes: int
) -> torch.Tensor:
    """Weighted k-NN labels of ``queries`` among ``bank`` (features are L2-normalised here)."""
    with float32_scores(queries):  # under autocast the matmul would give bf16 similarities (and votes)
        sim = F.normalize(queries.float(), dim=1) @ F.normalize(bank.float(), dim=1).T
    top, idx = sim.topk(min(k, len(bank)), dim=1)
    votes = torch.zeros(len(queries), classes, device=queries.device)
    votes.scatter_add_(1, bank_labels[idx], (top / temperature).exp())
    return votes.argmax(1)


def encode(encoder: nn.Module, to_pictures: ToPictures, images: torch.Tensor, batch: int, generator) -> torch.Tensor:
    """Encoder outputs of un-augmented pictures, in batches."""
    return torch.cat(
        [encoder(to_pictures(images[s : s + batch], generator)).float() for s in range(0, len(images), batch)]
    )


def knn_accuracy(
    encoder: nn.Module,
    to_pictures: ToPictures,
    monitor: KNNMonitor,
    train_images,
    train_labels,
    validation_images,
    validation_labels,
    generator,
    classes: int = 10,
) -> float:
    """The k-NN monitor's validation accuracy (module docstring); NaN (not logged) where the pictures have no
    labels (label -1: a folder without class folders)."""
    bank, bank_labels = train_images[: monitor.knn_bank_images], train_labels[: monitor.knn_bank_images]
    if (bank_labels < 0).any() or (validation_labels < 0).any():
        return float("nan")
    classes = max(classes, int(bank_labels.max()) + 1, int(validation_labels.max()) + 1)
    predicted = knn_predict(
        encode(encoder, to_pictures, bank, monitor.eval_images_per_batch, generator),
        bank_labels,
        encode(encoder, to_pictures, validation_images, monitor.eval_images_per_batch, generator),
        monitor.knn_k,
        monitor.knn_temperature,
        classes,
    )
    return float((predicted == validation_labels).float().mean())
