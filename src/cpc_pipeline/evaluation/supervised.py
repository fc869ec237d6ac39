"""The supervised baseline: the same encoder architecture plus the reference's MLP head, trained end to end with
labels on the same rendered images (fresh backgrounds every batch), optionally augmented (a random resized crop
and flip drawn per image: :class:`cpc_pipeline.data.augment.BatchAugment`), its epoch selected on validation.
Whether it bounds the frozen probes depends on its budget; the report says which it is
(:func:`cpc_pipeline.reporting.sections.headline_lines`)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from cpc_pipeline.data import DigitRenderer, DigitSplit
from cpc_pipeline.data.augment import AugmentConfig, BatchAugment
from cpc_pipeline.config import StrictModel
from cpc_pipeline.evaluation.probes import ClassificationMethod, label_subsets, train_keeping_best
from cpc_pipeline.models import EncoderSpec, mlp_head
from cpc_pipeline.training.loop import Compute, TrainerConfig, seed_everything


class SupervisedConfig(StrictModel):
    epochs: int = Field(3, ge=1)  # passes over the labelled images...
    min_steps: int = Field(600, ge=1)  # ...but at least this many steps (small label fractions)
    max_steps: int | None = Field(None, ge=1)  # and at most this many (null: no cap; for quick configs)
    images_per_batch: int = Field(64, ge=2)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)  # Adam's L2 term
    schedule: Literal["plateau", "warmup_cosine"] = "plateau"  # as a trainer's: cosine decay per step to 0
    warmup_epochs: int = Field(0, ge=0)
    augment: AugmentConfig | None = None  # training batches only; null: the pictures as rendered
    bf16: bool | Literal["cuda"] = "cuda"  # as trainer.bf16: "cuda" only there, true also on a CPU with AMX
    channels_last: bool = True  # as trainer.channels_last: the encoder trained in the layout pretraining uses


def supervised_method(
    train: DigitSplit,
    validation: DigitSplit,
    renderer: DigitRenderer,
    encoder_spec: EncoderSpec,
    fraction: float,
    config: SupervisedConfig,
    seed: int,
    device: torch.device,
) -> tuple[ClassificationMethod, TrainerConfig, tuple[int, int]]:
    """Encoder + head as a classification method on a ``fraction`` of the train labels, validated on the same
    ``fraction`` of the validation labels (the probes' label budget), with its trainer settings and the
    numbers of training and selection labels it uses."""
    seed_everything(seed)
    keep, keep_val = label_subsets(train.labels, validation.labels, fraction, seed)
    if train.images.ndim == 4:  # a folder's (N, S, S, C), used as they are
        channels, size = train.images.shape[-1], train.images.shape[1]
    else:  # digits, rendered
        channels, size = renderer.channels, renderer.image_size
    encoder = encoder_spec.build(channels, size)
    compute = Compute.of(config, device)  # the same layout and precision settings as a trainer's
    classes = int(max(train.labels.max(), validation.labels.max())) + 1  # ten digits, or a folder's classes
    model = compute.place(nn.Sequential(encoder, mlp_head(encoder.code_size, classes=classes)))
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    render = lambda x, g: renderer(x, g).contiguous(memory_format=compute.layout)  # noqa: E731
    augment = BatchAugment(config.augment) if config.augment else None
    steps = max(math.ceil(len(keep) / config.images_per_batch), math.ceil(config.min_steps / config.epochs))
    if config.max_steps is not None:
        steps = min(steps, math.ceil(config.max_steps / config.epochs))
    method = ClassificationMethod(
        model,
        t(train.images[keep]),
        t(train.labels[keep]),
        t(validation.images[keep_val]),
        t(validation.labels[keep_val]),
        config.images_per_batch,
        transform=render,
        steps_per_epoch=steps,
        eval_batch_size=512,
        train_transform=(lambda x, g: augment(renderer(x, g), g).contiguous(memory_format=compute.layout))
        if augment
        else None,
    )
    trainer = TrainerConfig(
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        schedule=config.schedule,
        warmup_epochs=config.warmup_epochs,
        checkpoint_path=None,
        progress=False,
        seed=seed,
        bf16=config.bf16,
        channels_last=config.channels_last,
    )
    return method, trainer, (len(keep), len(keep_val))


def train_end_to_end(
    train: DigitSplit,
    validation: DigitSplit,
    test: DigitSplit,
    renderer: DigitRenderer,
    encoder_spec: EncoderSpec,
    fraction: float,
    config: SupervisedConfig,
    seed: int,
    test_render_seed: int,
    device: torch.device,
) -> tuple[nn.Module, list[dict], np.ndarray, tuple[int, int]]:
    """:func:`supervised_method` trained, its epoch chosen on validation.

    Returns the trained encoder (eval mode, CPU), the epoch history, the test predictions (test digits
    rendered from ``test_render_seed``, as for the probes) and the numbers of training and selection
    labels used.
    """
    method, trainer, labels_used = supervised_method(
        train, validation, renderer, encoder_spec, fraction, config, seed, device
    )
    history = train_keeping_best(method, trainer, device)
    generator = torch.Generator(device=device).manual_seed(test_render_seed)
    predictions = method.predict(torch.as_tensor(test.images, device=device), generator).argmax(1).cpu().numpy()
    return method.model[0].cpu().eval(), history, predictions, labels_used
