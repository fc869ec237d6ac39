"""CPC as a training method for :func:`cpc_pipeline.training.loop.train`.

A training batch is built on the device: digits are drawn by the sequence rule, their images rendered
by the renderer, encoded, and the sequences' codes gathered. Two batch shapes:

- ``images_per_batch: null`` (the reference): each of the ``batch_size`` sequences has its own 8 images;
- ``images_per_batch: P``: a class-balanced pool of P images is rendered and encoded once, and the
  ``batch_size`` sequences are built from the pool's codes (each image serves several sequences). The
  encoder, the costly part, then runs P times per step instead of 8 x batch_size times.

For ``infonce`` the candidates of every prediction are all the images of the pool; for ``binary`` the
batch holds positive and negative sequences 50/50 as the reference does. ``binary_negatives: paired``
(the default) makes each negative reuse a positive's context images with every future digit wrong, so
the loss compares right and wrong futures of one context; ``independent`` (the reference) gives every
negative its own context. On the 64x64 colour task the binary loss leaves its ln 2 plateau only with
many sequences per step; ``paired`` left it sooner in the one seed compared (README, "The binary loss").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field, model_validator

from cpc_pipeline.data import DigitIndex, DigitRenderer, SequenceBatch, paired_negatives, sample_sequences
from cpc_pipeline.data.config import StrictModel
from cpc_pipeline.losses import binary_sequence_loss, info_nce
from cpc_pipeline.losses.binary import sequence_scores
from cpc_pipeline.models import CPCModel

class CPCObjective(StrictModel):
    loss: Literal["infonce", "binary"] = "infonce"
    negatives: Literal["batch", "different_digit"] = "different_digit"  # infonce only
    binary_negatives: Literal["paired", "independent"] = "paired"  # binary only
    batch_size: int = Field(64, ge=2, le=65_536)  # sequences per step
    images_per_batch: int | None = Field(64, ge=20)  # pool size; None = own images per sequence
    sequences_per_epoch: int = Field(390 * 32, ge=2)
    train_sampling: Literal["fresh", "fixed"] = "fresh"
    eval_batch_size: int = Field(256, ge=2)
    threshold_sequences: int = Field(1024, ge=2)  # train sequences that fix infonce's decision threshold

    @model_validator(mode="after")
    def _consistent(self) -> CPCObjective:
        if self.train_sampling == "fixed" and self.images_per_batch is not None:
            raise ValueError("images_per_batch (a shared image pool) needs train_sampling 'fresh'")
        return self


@dataclass
class PoolBatch:
    images: torch.Tensor | None  # (P, C, S, S) rendered pool (None where only its codes are kept)
    digits: torch.Tensor  # (P,) digit of each pool image
    sequences: torch.Tensor  # (B, T) indices into the pool
    labels: torch.Tensor  # (B,) 1 = positive


class CPCMethod:
    """Batches, loss and validation metrics of CPC on the sequence task."""

    items_name = "sequences"

    def __init__(
        self,
        model: CPCModel,
        renderer: DigitRenderer,
        objective: CPCObjective,
        terms: int,
        predict_terms: int,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        validation_images: torch.Tensor,
        validation_sequences: SequenceBatch,
        threshold_sequences: SequenceBatch,
        train_table: SequenceBatch | None = None,
        channels_last: bool = False,
    ) -> None:
        self.model = model
        self.renderer = renderer
        self.objective = objective
        self.terms, self.predict_terms = terms, predict_terms
        self.train_images = train_images
        self.train_labels = train_labels
        self.train_index = DigitIndex.from_labels(train_labels)
        self.validation_images = validation_images
        self.validation_sequences = validation_sequences
        self.threshold_sequences = threshold_sequences
        self.train_table = train_table
        if objective.train_sampling == "fixed" and train_table is None:
            raise ValueError("train_sampling 'fixed' needs the train sequence table")
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.monitor = "loss"

    # ------------------------------------------------------------------ batches
    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.objective.sequences_per_epoch / self.objective.batch_size)

    @property
    def _paired(self) -> bool:
        return self.objective.loss == "binary" and self.objective.binary_negatives == "paired"

    @property
    def _positives_only(self) -> bool:
        """Training draws positives only: infonce's negatives are other candidates, paired ones are derived."""
        return self.objective.loss == "infonce" or self._paired

    def _with_paired_negatives(self, positives: SequenceBatch, index: DigitIndex, generator) -> SequenceBatch:
        """``positives`` then, row for row, their paired negatives (same context images, wrong futures)."""
        negatives = paired_negatives(positives, self.terms, index, generator)
        return SequenceBatch(*(torch.cat(pair) for pair in zip(
            (positives.digits, positives.image_indices, positives.labels),
            (negatives.digits, negatives.image_indices, negatives.labels),
        )))

    def _draw(self, n: int, index: DigitIndex, generator) -> SequenceBatch:
        """The ``n`` training sequences of one step (``n - n % 2`` when paired)."""
        if self._paired:
            positives = sample_sequences(n // 2, self.terms, self.predict_terms, index, generator, n_positive=n // 2)
            return self._with_paired_negatives(positives, index, generator)
        n_positive = n if self._positives_only else n // 2
        return sample_sequences(n, self.terms, self.predict_terms, index, generator, n_positive=n_positive)

    def _own_images(self, seqs: SequenceBatch, images: torch.Tensor, generator, paired: bool = False) -> PoolBatch:
        """Every position its own rendered image. ``paired``: rows b/2.. are the negatives of rows ..b/2
        (:meth:`_with_paired_negatives`) and their contexts *are* those rows' rendered images."""
        b, t = seqs.digits.shape
        device = seqs.digits.device
        used = torch.arange(b * t, device=device)  # pool image -> sequence position
        slots = used.view(b, t).clone()  # sequence position -> pool image
        if paired:  # render the positives' 8 images and the negatives' futures only
            h, k = b // 2, t - self.terms
            slots[h:, : self.terms] = slots[:h, : self.terms]
            slots[h:, self.terms :] = h * t + torch.arange(h * k, device=device).view(h, k)
            used = torch.cat([used[: h * t], used.view(b, t)[h:, self.terms :].flatten()])
        pool = self.renderer(images[seqs.image_indices.flatten()[used]], generator)
        return PoolBatch(
            images=pool.contiguous(memory_format=self.memory_format),
            digits=seqs.digits.flatten()[used],
            sequences=slots.to(pool.device),
            labels=seqs.labels,
        )

    def _pooled(self, n: int, generator) -> PoolBatch:
        p = self.objective.images_per_batch
        device = self.train_images.device
        pool_digits = torch.arange(p, device=device) % 10  # class-balanced pool
        pool_indices = self.train_index.sample(pool_digits, generator)
        seqs = self._draw(n, DigitIndex.from_labels(pool_digits), generator)
        pool = self.renderer(self.train_images[pool_indices], generator)
        return PoolBatch(pool.contiguous(memory_format=self.memory_format), pool_digits, seqs.image_indices, seqs.labels)

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[PoolBatch]:
        obj = self.objective
        remaining = obj.sequences_per_epoch
        if obj.train_sampling == "fixed":
            table = self.train_table
            keep = table.labels == 1 if self._positives_only else torch.ones_like(table.labels, dtype=torch.bool)
            rows = keep.nonzero().flatten()
            rows = rows[torch.randperm(len(rows), generator=generator, device=rows.device)]
            size = max(obj.batch_size // 2, 1) if self._paired else obj.batch_size
            for start in range(0, len(rows), size):
                r = rows[start : start + size]
                seqs = SequenceBatch(table.digits[r], table.image_indices[r], table.labels[r])
                if self._paired:
                    seqs = self._with_paired_negatives(seqs, self.train_index, generator)
                yield self._own_images(seqs, self.train_images, generator, paired=self._paired)
            return
        while remaining > 0:
            n = min(obj.batch_size, remaining)
            remaining -= n
            if n < 2:
                return
            if obj.images_per_batch is None:
                seqs = self._draw(n, self.train_index, generator)
                yield self._own_images(seqs, self.train_images, generator, paired=self._paired)
            else:
                yield self._pooled(n, generator)

    # ------------------------------------------------------------------ loss
    def _forward(self, batch: PoolBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        codes = self.model.encoder(batch.images)  # (P, D)
        return codes, *self._predict(codes, batch.sequences)

    def _predict(self, codes: torch.Tensor, sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool codes ``(P, D)`` and sequences ``(B, T)`` of pool indices -> predictions and true futures."""
        seq_codes = codes[sequences]  # (B, T, D)
        return self.model.predict(seq_codes[:, : self.terms]), seq_codes[:, self.terms :]  # (B, K, D) twice

    def _metrics(
        self, batch: PoolBatch, codes, predictions, futures, all_positive: bool = False
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        """Loss and metric *sums* over the batch (the loop divides by the counts)."""
        if self.objective.loss == "binary":
            out = binary_sequence_loss(predictions, futures, batch.labels)
            n = len(batch.labels)
            return out.loss, {"loss": out.loss * n, "accuracy": out.correct.float().sum()}, n
        if all_positive:  # training batches for infonce: no boolean mask, so no host sync per step
            targets = batch.sequences[:, self.terms :]
        else:  # validation tables mix in negative sequences: only positives have a true future
            pos = batch.labels == 1
            predictions, targets = predictions[pos], batch.sequences[pos, self.terms :]
        out = info_nce(predictions, codes, targets, batch.digits, self.objective.negatives)
        n = predictions.shape[0]
        k = self.predict_terms
        metrics = {
            "loss": out.loss * n,
            "accuracy": out.correct.float().sum() / k,
            "digit_accuracy": out.digit_correct.float().sum() / k,
            "mi_bound": (out.log_candidates.mean(1) - out.loss).sum(),
            "chance_accuracy": (1 / out.log_candidates.exp()).mean(1).sum(),
            "candidates": out.log_candidates.exp().mean(1).sum(),  # valid ones: different_digit masks the rest
        }
        metrics |= {f"accuracy_k{i + 1}": out.correct[:, i].float().sum() for i in range(k)}
        return out.loss, metrics, n

    def training_step(self, batch: PoolBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        # infonce training batches are drawn all positive (_draw); binary ones half and half
        return self._metrics(batch, *self._forward(batch), all_positive=self.objective.loss == "infonce")

    # ------------------------------------------------------------------ validation
    def _encode_unique(self, table: SequenceBatch, images: torch.Tensor, generator):
        """Render and encode every distinct image of ``table`` once: (codes ``(U, D)``, their digits ``(U,)``,
        each position's row in them ``(n, T)``). Held-out tables reuse images across sequences (2,496
        validation sequences x 8 positions draw on 10,000 images), so this encodes ~8.6k images, not 20k."""
        unique, inverse = torch.unique(table.image_indices, return_inverse=True)
        digits = torch.empty_like(unique).scatter_(0, inverse.flatten(), table.digits.flatten())
        size = self.objective.eval_batch_size * (self.terms + self.predict_terms)
        codes = torch.cat([
            self.model.encoder(self.renderer(images[part], generator).contiguous(memory_format=self.memory_format))
            for part in unique.split(size)
        ])
        return codes, digits, inverse

    def _score_table(self, table: SequenceBatch, images: torch.Tensor, generator, collect=None):
        """Sequence scores (the reference's mean z_hat . z) of every row, and metric sums. Metrics are taken
        over chunks of ``eval_batch_size`` sequences whose distinct images are the InfoNCE candidates."""
        codes, digits, inverse = self._encode_unique(table, images, generator)
        scores, sums, n_total = [], {}, 0
        size = self.objective.eval_batch_size
        for start in range(0, len(table), size):
            sl = slice(start, start + size)
            pool, sequences = torch.unique(inverse[sl], return_inverse=True)
            pool_codes = codes[pool]
            predictions, futures = self._predict(pool_codes, sequences)
            scores.append(sequence_scores(predictions, futures))
            if collect:
                batch = PoolBatch(None, digits[pool], sequences, table.labels[sl])
                _, metrics, n = self._metrics(batch, pool_codes, predictions, futures)
                for key, v in metrics.items():
                    sums[key] = sums.get(key, 0) + v
                n_total += n
        return torch.cat(scores), {k: float(v) / n_total for k, v in sums.items()}

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        """Validation metrics, plus the reference's sequence-discrimination accuracy (chance 0.5)."""
        val = self.validation_sequences
        scores, metrics = self._score_table(val, self.validation_images, generator, collect=True)
        if self.objective.loss == "binary":
            threshold = 0.0  # the model's own decision: sigmoid(score) > 0.5
        else:  # infonce scores have no natural zero: fix the cut on training sequences
            thr_scores, _ = self._score_table(self.threshold_sequences, self.train_images, generator)
            threshold = best_threshold(thr_scores, self.threshold_sequences.labels)
        predicted = scores > threshold
        metrics["sequence_accuracy"] = float((predicted == val.labels.bool()).float().mean())
        metrics["sequence_threshold"] = float(threshold)
        return metrics


def best_threshold(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The cut between sorted scores that classifies ``labels`` best (midpoint of neighbours)."""
    order = torch.argsort(scores)
    s, y = scores[order].float(), labels[order].float()
    # predicting positive for everything above position i: correct = negatives below + positives above
    neg_below = torch.cat([torch.zeros(1, device=s.device), torch.cumsum(1 - y, 0)])
    pos_above = y.sum() - torch.cat([torch.zeros(1, device=s.device), torch.cumsum(y, 0)])
    i = int(torch.argmax(neg_below + pos_above))
    if i == 0:
        return float(s[0]) - 1.0
    if i == len(s):
        return float(s[-1]) + 1.0
    return float((s[i - 1] + s[i]) / 2)
