"""Thin nodes wiring the catalog to :mod:`cpc_pipeline.evaluation`.

An encoder's spec (``params:pretraining.model.encoder``, ``params:simclr.encoder``) reaches these nodes as
plain values and is validated as an :class:`EncoderSpec` where the encoder is rebuilt: Kedro already
validates it up front inside its stage's parameter block, and cannot type a key nested in a typed block.

Every encoder of the method registry (:mod:`cpc_pipeline.methods`) goes through the same freeze -> features ->
probes nodes (one Kedro namespace each); the two baselines' weights come from here: the reference architecture
at random init (what the architecture alone gives) and trained end to end with all labels.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpc_pipeline.data import DigitSplit
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.data.pictures import picture_shape, pictures_for
from cpc_pipeline.evaluation import (
    wilson_interval,
    ProbeResult,
    ProbingConfig,
    estimate_batchnorm_statistics,
    freeze,
    picture_batches,
    run_probes,
    split_features,
    train_end_to_end,
)
from cpc_pipeline.methods import supervision_level
from cpc_pipeline.metric_names import probe_metric
from cpc_pipeline.models import EncoderSpec
from cpc_pipeline.models.not_trained import NotTrained, not_trained_reason
from cpc_pipeline.training.loop import pick_device, seed_everything

logger = logging.getLogger(__name__)
RESULT_COLUMNS = [f.name for f in fields(ProbeResult) if f.name != "test_predictions"] + ["labels_used"]
PREDICTION_COLUMNS = ["probe", "label_fraction", "index", "label", "prediction"]


def pixel_weights() -> dict[str, torch.Tensor]:
    """The raw-pixel baseline's weights: none (its "encoder" flattens the pictures, :class:`~cpc_pipeline.models.
    encoders.Pixels`), so that it is frozen and probed as every other encoder is."""
    return {}


def initialise_random_encoder(
    train_digits: dict, rendering: RenderingConfig, encoder: dict[str, Any], probing: ProbingConfig
) -> nn.Module:
    """The encoder's architecture with its initial (random) weights, BatchNorm statistics averaged over
    unlabelled training images: what the architecture gives without learning."""
    seed_everything(probing.random_encoder_seed)
    channels, size = picture_shape(np.asarray(train_digits["images"]), rendering)
    module = EncoderSpec.model_validate(encoder).build(channels, size)
    images = np.asarray(train_digits["images"])
    n = min(probing.random_encoder_statistics_images, len(images))
    if n == 0:
        return module.eval()
    subset = np.sort(np.random.default_rng(probing.random_encoder_seed).choice(len(images), n, replace=False))
    device = pick_device(probing.device)
    pictures = picture_batches(
        images[subset],
        pictures_for(images, rendering, device),
        probing.render_seed,
        probing.extraction_images_per_batch,
        device,
    )
    return estimate_batchnorm_statistics(module.to(device), pictures).cpu()


def train_supervised_baseline(
    train_digits: dict,
    validation_digits: dict,
    test_digits: dict,
    rendering: RenderingConfig,
    encoder: dict[str, Any],
    probing: ProbingConfig,
) -> tuple[nn.Module, nn.Module, pd.DataFrame, pd.DataFrame]:
    """End-to-end supervised training at every label fraction.

    Returns the encoder trained with all labels (the supervised encoder the probes then see) twice (weights file and
    MLflow model), the end-to-end test results (one row per fraction) and the training histories; pictures
    without labels train nothing (:class:`NotTrained`, one line saying so).
    """
    splits = [DigitSplit.from_dict(d) for d in (train_digits, validation_digits, test_digits)]
    if any((s.labels < 0).any() for s in splits):
        skipped = NotTrained("supervised baseline skipped: the pictures have no labels (no class folders)")
        logger.warning(skipped.reason)
        return skipped, skipped, pd.DataFrame(columns=["encoder", *RESULT_COLUMNS]), pd.DataFrame(columns=["epoch"])
    device = pick_device(probing.device)
    rows, histories, full_encoder = [], [], None
    for fraction in sorted(probing.probes.label_fractions):
        trained, history, predictions, (n_train, n_selection) = train_end_to_end(
            *splits,
            pictures_for(splits[0].images, rendering, device),
            EncoderSpec.model_validate(encoder),
            fraction,
            probing.supervised,
            probing.probes.seed,
            probing.split_render_seed("test"),
            device,
        )
        histories += [{"label_fraction": fraction, **row} for row in history]
        best = next(r for r in history if r["selected"])
        result = ProbeResult.score(
            "end_to_end",
            fraction,
            n_train,
            n_selection,
            f"epoch={int(best['epoch'])}",
            best["val_accuracy"],
            splits[2].labels,
            predictions,
        )
        rows.append({"encoder": "supervised", **result.row()})
        logger.info("supervised end to end, %g of labels: test accuracy %.4f", fraction, result.test_accuracy)
        full_encoder = trained  # fractions ascend: the last one saw the most labels
    return full_encoder, full_encoder, pd.DataFrame(rows), pd.DataFrame(histories)


def freeze_encoder(
    encoder_weights: dict[str, torch.Tensor], train_images: dict, rendering: RenderingConfig, encoder: dict[str, Any]
) -> nn.Module:
    """Catalog weights -> the encoder rebuilt from its spec ``encoder`` (validated as an :class:`EncoderSpec`
    here, and up front within its stage's parameters), frozen: eval mode, no trainable parameter; an encoder that was
    not trained stays :class:`NotTrained`."""
    reason = not_trained_reason(encoder_weights)
    if reason is not None:
        return NotTrained(reason)
    channels, size = picture_shape(np.asarray(train_images["images"]), rendering)
    module = EncoderSpec.model_validate(encoder).build(channels, size)
    module.load_state_dict(encoder_weights)
    return freeze(module)


def extract_split_features(
    frozen_encoder: nn.Module,
    train_images: dict,
    validation_images: dict,
    test_images: dict,
    rendering: RenderingConfig,
    probing: ProbingConfig,
) -> dict[str, np.ndarray]:
    """Features ``{split}_x`` and labels ``{split}_y`` of the three splits, each turned into pictures once
    (digits rendered from the split's own seed, :meth:`ProbingConfig.split_render_seed`); of an encoder that was not
    trained, only why (``{"not_trained": reason}``)."""
    reason = not_trained_reason(frozen_encoder)
    if reason is not None:
        return {"not_trained": reason}
    device = pick_device(probing.device)
    out = split_features(
        frozen_encoder.to(device), (train_images, validation_images, test_images), rendering, probing, device
    )
    frozen_encoder.cpu()
    return out


def probe_features(features: dict[str, np.ndarray], probing: ProbingConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All probes at all label fractions -> results (one row each) and test predictions (long table); none, with
    one line saying so, where the pictures have no labels (label -1: a folder without class folders) or the encoder
    was not trained."""
    reason = not_trained_reason(features)
    if reason is not None:
        logger.info("no probe: %s", reason)
        return pd.DataFrame(columns=RESULT_COLUMNS), pd.DataFrame(columns=PREDICTION_COLUMNS)
    if any((features[f"{split}_y"] < 0).any() for split in ("train", "validation", "test")):
        logger.info("these pictures have no labels (a folder without class folders): no probe is fitted")
        return pd.DataFrame(columns=RESULT_COLUMNS), pd.DataFrame(columns=PREDICTION_COLUMNS)
    results = run_probes(features, probing.probes, pick_device(probing.device))
    predictions = pd.concat(
        [
            pd.DataFrame(
                dict(
                    zip(
                        PREDICTION_COLUMNS,
                        (
                            r.probe,
                            r.label_fraction,
                            np.arange(len(r.test_predictions)),
                            features["test_y"],
                            r.test_predictions,
                        ),
                    )
                )
            )
            for r in results
        ],
        ignore_index=True,
    )
    return pd.DataFrame([r.row() for r in results]), predictions


def collect_probe_metrics(
    end_to_end_results: pd.DataFrame, test_digits: dict, **probe_results: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """One table (encoder, probe, label fraction) with chance (one over the number of classes: ten digits, or a
    folder's class folders) beside, and the same as MLflow metrics. ``encoder_supervision`` says what labels the
    encoder's own training used (none, weak, full); ``test_accuracy_low95`` / ``_high95``: the Wilson 95 % interval
    for the test set's size. Pictures without labels give a table of no rows."""
    labels = DigitSplit.from_dict(test_digits).labels
    if (labels < 0).any():
        return pd.DataFrame(columns=["encoder", "encoder_supervision", *RESULT_COLUMNS]), {}
    counts = np.bincount(labels)
    majority = float(counts.max() / len(labels))
    classes = len(test_digits.get("classes") or []) or int((counts > 0).sum())
    chance_accuracy = 1 / classes
    chance = pd.DataFrame(
        [
            {
                "encoder": "chance",
                "probe": "uniform_guess",
                "label_fraction": 0.0,
                "train_labels": 0,
                "selection_labels": 0,
                "labels_used": 0,
                "chosen": f"majority class would score {majority:.4f}",
                "val_accuracy": chance_accuracy,
                "test_accuracy": chance_accuracy,
                "test_macro_f1": chance_accuracy,
            }
        ]
    )
    parts = [r.assign(encoder=name) for name, r in probe_results.items()]
    table = pd.concat([chance, *parts, end_to_end_results], ignore_index=True)
    table.insert(1, "encoder_supervision", table.encoder.map(supervision_level))
    # how far the test set's size alone lets each figure move (95 %, Wilson), beside the seeds' spread
    interval = [wilson_interval(a, len(labels)) for a in table.test_accuracy]
    at = table.columns.get_loc("test_accuracy") + 1
    table.insert(at, "test_accuracy_high95", [high for _, high in interval])
    table.insert(at, "test_accuracy_low95", [low for low, _ in interval])
    metrics = {
        probe_metric(r.encoder, r.probe, r.label_fraction, m): {"value": float(getattr(r, m)), "step": 0}
        for r in table.itertuples()
        if r.encoder != "chance"
        for m in ("test_accuracy", "test_macro_f1", "val_accuracy", "labels_used")
    }
    return table, metrics
