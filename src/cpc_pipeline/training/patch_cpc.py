"""CPC on image patches as a method of :func:`cpc_pipeline.training.loop.train` (the model:
:mod:`cpc_pipeline.models.patch_cpc`; the loss: :func:`cpc_pipeline.losses.infonce.grid_info_nce`).

Label-free: each step takes ``images_per_batch`` stored images (the order of an epoch is random, the
labels are never read in training) and turns them into patches: digits are rendered once per image
(``backgrounds: image``, a new background and colour per call) or every patch on a background of its own
(``backgrounds: patch``, :meth:`~cpc_pipeline.data.renderer.DigitRenderer.render_patches`: the patches of
one image then share the digit and nothing else, as SimCLR's two renders of an image do); CIFAR-10 is
converted as it is. Each *patch* is then optionally augmented on its own (CPC v2's patch-level augmentation,
drawn from the step's generator: spatial jitter of its crop, a horizontal flip, a colour change per channel,
colour dropping to grey, a brightness/contrast jitter), and every prediction is contrasted against every
patch of every image in the global batch. Labels are read only by the k-NN monitor on validation.

Distributed: as SimCLR, each process takes its block of one shared epoch order; the codes and predictions
of every rank are gathered with gradients, so the candidates are every patch of the global batch.

Validation: the grid InfoNCE loss, its accuracy per offset and the MI bound (``log N - L``) on validation
images (fixed renders), and the k-NN monitor on the image features (mean patch codes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from pydantic import Field, model_validator

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.pictures import PictureSource
from cpc_pipeline.losses.infonce import grid_info_nce
from cpc_pipeline.models.patch_cpc import PatchCPCModel, PatchCPCModelConfig
from cpc_pipeline.models.patches import extract_patches
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


class PatchAugment(StrictModel):
    enabled: bool = True
    spatial_jitter: int = Field(0, ge=0, le=64)  # px: each patch's crop moves by up to +-this in each direction
    flip: float = Field(0.5, ge=0, le=1)  # chance of a horizontal flip, per patch
    shuffle: float = Field(0.0, ge=0, le=1)  # chance of shuffled channels, each negated at random, per patch
    colour: float = Field(0.0, ge=0, le=1)  # per channel: contrast and shift of up to +-colour, per patch
    grey: float = Field(0.0, ge=0, le=1)  # chance of colour dropping (the channels' mean), per patch
    jitter: float = Field(0.2, ge=0, le=1)  # brightness and contrast change of up to +-jitter, per patch


class PatchCPCObjective(KNNMonitor):
    images_per_batch: int = Field(64, ge=2)  # images per step and process; every patch of each is a candidate
    images_per_epoch: int | None = Field(None, ge=2)  # None: every training image once per epoch
    backgrounds: Literal["image", "patch"] = "image"  # rendered digits: one background per image, or per patch
    augment: PatchAugment = PatchAugment()


class PatchCPCConfig(PictureSource):
    """``params:patch_cpc``: which images, the model, the objective and the training loop."""

    model: PatchCPCModelConfig = PatchCPCModelConfig()
    objective: PatchCPCObjective = PatchCPCObjective()
    trainer: TrainerConfig = TrainerConfig(
        epochs=3, checkpoint_path="data/06_models/patch_cpc_checkpoint.pt", plateau_patience=1
    )

    @model_validator(mode="after")
    def _backgrounds_need_rendering(self) -> PatchCPCConfig:
        if self.objective.backgrounds == "patch" and not self.uses_run_source:
            raise ValueError(
                f"objective.backgrounds 'patch' needs rendered digits (dataset source), not {self.dataset}: "
                "its pictures have no background to draw per patch"
            )
        return self


def augment_patches(patches: torch.Tensor, config: PatchAugment, generator) -> torch.Tensor:
    """``(..., C, s, s)`` patches in [-1, 1], each flipped, its colour changed and jittered on its own.

    In this order, each step only when its setting is above zero: a horizontal flip with chance ``flip``;
    with chance ``shuffle`` the channels in a random order, each negated with chance 1/2 (a patch's colours
    say nothing then of its neighbours', while a digit, drawn inverted on its background, stays a contrast);
    per channel ``x <- (x - m) * a + m + b`` with ``m`` the channel's mean over the patch and ``a - 1``, ``b``
    uniform in ``+-colour``; with chance ``grey`` every channel replaced by the channels' mean; the same change
    for all channels with ``+-jitter``; finally clamped to [-1, 1]. (The spatial jitter happens where the
    patches are cut, :func:`~cpc_pipeline.models.patches.extract_patches`.)
    """
    if not config.enabled:
        return patches
    with torch.profiler.record_function("data.augment"):  # benchmarks/stage_efficiency.py's breakdown
        flat = patches.reshape(-1, *patches.shape[-3:])
        n, channels, device = len(flat), flat.shape[1], flat.device
        uniform = lambda *shape: 2 * torch.rand(n, *shape, generator=generator, device=device) - 1  # noqa: E731
        flip = torch.rand(n, generator=generator, device=device) < config.flip
        flat = torch.where(flip[:, None, None, None], flat.flip(-1), flat)
        if config.shuffle > 0:
            shuffle = torch.rand(n, generator=generator, device=device) < config.shuffle
            order = torch.rand(n, channels, generator=generator, device=device).argsort(1)
            sign = torch.where(torch.rand(n, channels, 1, 1, generator=generator, device=device) < 0.5, -1.0, 1.0)
            shuffled = flat.gather(1, order[:, :, None, None].expand_as(flat)) * sign
            flat = torch.where(shuffle[:, None, None, None], shuffled, flat)
        if config.colour > 0:
            scale, shift = 1 + config.colour * uniform(channels, 1, 1), config.colour * uniform(channels, 1, 1)
            mean = flat.mean((2, 3), keepdim=True)
            flat = (flat - mean) * scale + mean + shift
        if config.grey > 0:
            grey = torch.rand(n, generator=generator, device=device) < config.grey
            flat = torch.where(grey[:, None, None, None], flat.mean(1, keepdim=True).expand_as(flat), flat)
        scale = 1 + config.jitter * uniform(1, 1, 1)
        shift = config.jitter * uniform(1, 1, 1)
        mean = flat.mean((1, 2, 3), keepdim=True)
        return ((flat - mean) * scale + mean + shift).clamp(-1, 1).view_as(patches)


def grid_metrics(
    codes: torch.Tensor, predictions: dict[str, torch.Tensor], first_offset: int = 1
) -> tuple[torch.Tensor, dict, int]:
    """The loss over every direction and offset (a mean over all their terms), and metric sums for the loop,
    which divides every sum by the number of terms: per-offset accuracies are scaled to come out as their
    own means."""
    outs = {d: grid_info_nce(PatchCPCModel.frame(codes, d), p, first_offset) for d, p in predictions.items()}
    terms = sum(sum(out.terms) for out in outs.values())
    loss = sum(out.loss * sum(out.terms) for out in outs.values()) / terms
    metrics = {"loss": loss * terms}
    per_term = [o for out in outs.values() for o in out.per_offset]
    metrics["accuracy"] = sum(o.correct.float().sum() for o in per_term)
    metrics["mi_bound"] = sum((o.log_candidates.mean() - o.loss) * o.correct.numel() for o in per_term)
    for direction, out in outs.items():
        for k, o in zip(out.offsets, out.per_offset):
            metrics[f"accuracy_{direction}_k{k}"] = o.correct.float().mean() * terms
    return loss, metrics, terms


class PatchCPCMethod:
    items_name = "images"
    monitor = "loss"

    def __init__(
        self,
        model: PatchCPCModel,
        objective: PatchCPCObjective,
        to_pictures: ToPictures,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        validation_images: torch.Tensor,
        validation_labels: torch.Tensor,
        classes: int = 10,
    ) -> None:
        self.model, self.objective, self.to_pictures = model, objective, to_pictures
        self.forward: torch.nn.Module = model  # what training calls: DistributedDataParallel(model) in a worker
        self.train_images, self.train_labels = train_images, train_labels
        self.validation_images, self.validation_labels = validation_images, validation_labels
        self.classes = classes
        check_validation_batch(objective.images_per_batch, len(validation_images))
        self.steps_per_epoch = steps_per_epoch(
            objective.images_per_epoch or len(train_images), objective.images_per_batch
        )

    def global_batch(self) -> dict[str, int]:
        return {"global_images_per_batch": self.objective.images_per_batch * distributed.world_size()}

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """Each step's patches ``(N, G, W, C, s, s)``: cut from pictures rendered once per image, or each patch
        rendered on its own background (``backgrounds``), then every patch augmented on its own."""
        for rows in epoch_batches(
            len(self.train_images),
            self.objective.images_per_batch,
            self.steps_per_epoch,
            generator,
            self.train_images.device,
        ):
            yield augment_patches(
                self.training_patches(self.train_images[rows], generator), self.objective.augment, generator
            )

    def training_patches(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Stored images -> their grids of patches, cut with the spatial jitter (not yet augmented otherwise)."""
        encoder, augment = self.model.encoder, self.objective.augment
        jitter = augment.spatial_jitter if augment.enabled else 0
        cut = lambda pictures: extract_patches(pictures, encoder.size, encoder.stride, jitter, generator)  # noqa: E731
        if self.objective.backgrounds == "patch":
            return self.to_pictures.render_patches(images, cut, generator)
        return cut(self.to_pictures(images, generator))

    def training_step(self, patches: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        out = self.forward(patches)
        codes = distributed.gather(out.codes)  # every rank's patches: the global batch's candidates
        return grid_metrics(
            codes, {d: distributed.gather(p) for d, p in out.predictions.items()}, self.model.first_offset
        )

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        distributed.broadcast_buffers(self.model)
        sums: dict[str, float] = {}
        count = 0
        b, val = self.objective.images_per_batch, self.validation_images
        for s in range(0, len(val) - b + 1, b):  # batches of the training size: as many candidates per term
            out = self.model(self.model.encoder.patches(self.to_pictures(val[s : s + b], generator)))
            _, metrics, n = grid_metrics(out.codes, out.predictions, self.model.first_offset)
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            count += n
        result = {key: value / count for key, value in sums.items()} if count else {}
        result["knn_accuracy"] = knn_accuracy(
            self.model.encoder,
            self.to_pictures,
            self.objective,
            self.train_images,
            self.train_labels,
            val,
            self.validation_labels,
            generator,
            self.classes,
        )
        return result


# ------------------------------------------------------------------ fitting, in one process or several
def fit_patch_cpc(inputs: ImageInputs, cfg: PatchCPCConfig, on_epoch_end=None) -> tuple[PatchCPCModel, list[dict]]:
    """Build and train patch CPC -> the model (CPU, eval mode) and its epoch history, in this process or, with
    ``trainer.distributed``, in launched workers (:func:`cpc_pipeline.training.distributed.run`)."""
    return distributed.run(_fit_patch_cpc, cfg.trainer.distributed, inputs, cfg, on_epoch_end=on_epoch_end)


def build_patch_cpc(inputs: ImageInputs, cfg: PatchCPCConfig) -> tuple[PatchCPCMethod, torch.device]:
    """The patch CPC method ready to train on this process's device (a worker: in the process group, through DDP)."""
    device = inputs.start_process(cfg)
    return build_on_images(PatchCPCMethod, cfg.model.build(*inputs.picture_shape), inputs, cfg, device), device


def _fit_patch_cpc(inputs: ImageInputs, cfg: PatchCPCConfig, on_epoch_end=None) -> tuple[PatchCPCModel, list[dict]]:
    return fit_on_images(*build_patch_cpc(inputs, cfg), cfg.trainer, on_epoch_end)
