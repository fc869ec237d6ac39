"""CPC on the sequence task as a method of :func:`cpc_pipeline.training.loop.train`.

Three parts, one job each, put together by :func:`make_cpc_method` (the node, the benchmarks and the
tests all build the method through it):

- a **batch builder** draws one training step's sequences (:class:`SequenceDraw`) and renders their
  images on the device. Three strategies:

  - :class:`PooledBatches` (``images_per_batch: P``, the default): a class-balanced pool of P images is
    rendered and encoded once, and the step's sequences are built from the pool's rows (each image
    serves several sequences). The encoder, the costly part, runs P times per step instead of 8 x
    ``sequences_per_batch`` times.
  - :class:`OwnImageBatches` (``images_per_batch: null``, the reference): every sequence its own images.
  - :class:`TableBatches` (``train_sampling: fixed``): the fixed train table's rows, each its own images.

- the **model's own forward** (:meth:`cpc_pipeline.models.CPCModel.forward`) encodes the pool and predicts;
- a **validation scorer** (:class:`CPCEvaluator`) scores held-out sequence tables and fixes the InfoNCE
  decision threshold on training sequences.

For ``infonce`` a step draws positive sequences only: the candidates of every prediction are all the
images of the pool. For ``binary`` the batch holds positive and negative sequences 50/50 as the reference
does; ``binary_negatives: paired`` (the default) makes each negative reuse a positive's context images
with every future digit wrong, so the loss compares right and wrong futures of one context;
``independent`` (the reference) gives every negative its own context. On the 64x64 colour task the binary
loss leaves its ln 2 plateau only with many sequences per step (README, "The binary loss").

Distributed (``trainer.distributed``, :func:`fit_cpc`): batch sizes are per process, so the global batch
is W times larger, and ``sequences_per_epoch`` is the global epoch, shared out between the W processes.
:class:`PooledBatches` draws one process's global batch on every rank (a pool of ``W * P`` images and
``W * B`` sequences, from rank 0's generator) and each rank encodes its ``P`` images and predicts for its
``B`` sequences: the W processes train on exactly the batches one process would draw. (Independent pools
per rank, the first design, made a different global batch: W pools of P, each rank's positives always in
its own pool. One process trained on such half-pools stalled at chance for epochs, as the two processes
did; README, "Several processes".) :class:`OwnImageBatches` and :class:`TableBatches` give each rank its own
sequences with their own images. A step shares every rank's codes before the sequences read them, then
gathers the predictions and futures (:meth:`CPCMethod.training_step`), all with gradients, so InfoNCE's
candidates and the ``different_digit`` mask cover the global pool, as one process with the global batch.
Validation runs whole on every rank with rank 0's BatchNorm statistics, so all ranks agree on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd
import torch
from pydantic import Field, model_validator

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data import DigitIndex, DigitRenderer, DigitSplit, SequenceBatch, paired_negatives, sample_sequences
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.data.sequences import table_to_sequences
from cpc_pipeline.losses import binary_sequence_loss, info_nce
from cpc_pipeline.losses.binary import sequence_scores
from cpc_pipeline.models import CPCModel, CPCModelConfig
from cpc_pipeline.models.cpc import CPCOutput
from cpc_pipeline.training import distributed
from cpc_pipeline.training.loop import TrainerConfig, start_process, train


class CPCObjective(StrictModel):
    loss: Literal["infonce", "binary"] = "infonce"
    negatives: Literal["batch", "different_digit"] = "different_digit"  # infonce only
    binary_negatives: Literal["paired", "independent"] = "paired"  # binary only
    sequences_per_batch: int = Field(64, ge=2, le=65_536)  # sequences per training step
    images_per_batch: int | None = Field(64, ge=20)  # the step's pool of images; None = each sequence its own
    sequences_per_epoch: int = Field(390 * 32, ge=2)
    train_sampling: Literal["fresh", "fixed"] = "fresh"
    eval_sequences_per_batch: int = Field(256, ge=2)  # validation chunk: its distinct images are the candidates
    threshold_sequences: int = Field(1024, ge=2)  # train sequences that fix infonce's decision threshold

    @model_validator(mode="after")
    def _consistent(self) -> CPCObjective:
        if self.train_sampling == "fixed" and self.images_per_batch is not None:
            raise ValueError("images_per_batch (a shared image pool) needs train_sampling 'fresh'")
        return self


class PretrainingConfig(StrictModel):
    """``params:pretraining``: the CPC model, its objective and the training loop."""

    model: CPCModelConfig = CPCModelConfig()
    objective: CPCObjective = CPCObjective()
    trainer: TrainerConfig = TrainerConfig()


@dataclass
class PoolBatch:
    images: torch.Tensor | None  # (P, C, S, S) the rendered pool (None where only its codes are kept)
    digits: torch.Tensor  # (P,) digit of each pool image
    slots: torch.Tensor  # (B, T) the pool row each sequence position shows
    labels: torch.Tensor  # (B,) 1 = positive
    shared: bool = False  # data parallel: digits and slots are the whole pool's, images this rank's share


@dataclass
class CPCData:
    """What CPC trains and validates on, as tensors on the training device."""

    train_images: torch.Tensor  # uint8 (N, 28, 28)
    train_labels: torch.Tensor  # (N,)
    validation_images: torch.Tensor
    validation_sequences: SequenceBatch  # the fixed validation table (image_indices into validation_images)
    threshold_sequences: SequenceBatch  # training sequences that fix infonce's decision threshold
    train_sequences: SequenceBatch | None = None  # the fixed train table (train_sampling: fixed)

    @classmethod
    def from_tables(
        cls, train: DigitSplit, validation: DigitSplit, train_table: pd.DataFrame, validation_table: pd.DataFrame,
        threshold_sequences: int, device: torch.device | str = "cpu",
    ) -> CPCData:
        t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
        return cls(
            t(train.images), t(train.labels), t(validation.images), table_to_sequences(validation_table, device),
            table_to_sequences(train_table.head(threshold_sequences), device), table_to_sequences(train_table, device),
        )


# ------------------------------------------------------------------ which sequences a step draws
class SequenceDraw:
    """One training step's sequences over a digit index (a split's images, or a step's pool): all positive
    (``infonce``: its negatives are the other candidates), half positive (``binary``, independent
    negatives), or positives followed row for row by their paired negatives (``binary``, paired)."""

    def __init__(self, objective: CPCObjective, terms: int, predict_terms: int) -> None:
        self.terms, self.predict_terms = terms, predict_terms
        self.paired = objective.loss == "binary" and objective.binary_negatives == "paired"
        self.positives_only = objective.loss == "infonce" or self.paired  # paired negatives are derived

    def with_paired_negatives(self, positives: SequenceBatch, index: DigitIndex, generator) -> SequenceBatch:
        """``positives`` then, row for row, their paired negatives (same context images, wrong futures)."""
        negatives = paired_negatives(positives, self.terms, index, generator)
        return SequenceBatch(*(torch.cat(pair) for pair in zip(
            (positives.digits, positives.image_indices, positives.labels),
            (negatives.digits, negatives.image_indices, negatives.labels),
        )))

    def __call__(self, n: int, index: DigitIndex, generator) -> SequenceBatch:
        """``n`` sequences (``n - n % 2`` when paired); ``image_indices`` are rows of ``index``'s images."""
        if self.paired:
            positives = sample_sequences(n // 2, self.terms, self.predict_terms, index, generator, n_positive=n // 2)
            return self.with_paired_negatives(positives, index, generator)
        n_positive = n if self.positives_only else n // 2
        return sample_sequences(n, self.terms, self.predict_terms, index, generator, n_positive=n_positive)


# ------------------------------------------------------------------ batch builders
class BatchBuilder(Protocol):
    steps_per_epoch: int  # batches per epoch

    def epoch(self, generator: torch.Generator) -> Iterator[PoolBatch]: ...


class OwnImageBatches:
    """Every sequence position its own rendered image (the reference's batches)."""

    def __init__(self, draw: SequenceDraw, objective: CPCObjective, data: CPCData, renderer: DigitRenderer,
                 memory_format: torch.memory_format) -> None:
        self.draw, self.objective, self.renderer, self.memory_format = draw, objective, renderer, memory_format
        self.images, self.index = data.train_images, DigitIndex.from_labels(data.train_labels)
        self.steps_per_epoch = len(list(fresh_batch_sizes(objective)))

    def render(self, seqs: SequenceBatch, images: torch.Tensor, generator, paired: bool = False) -> PoolBatch:
        """``seqs`` (``image_indices`` into ``images``) as a batch whose pool is every position's image.
        ``paired``: rows b/2.. are the negatives of rows ..b/2 (:meth:`SequenceDraw.with_paired_negatives`)
        and their contexts *are* those rows' rendered images, so only their futures are rendered."""
        b, t = seqs.digits.shape
        device = seqs.digits.device
        used = torch.arange(b * t, device=device)  # pool image -> sequence position
        slots = used.view(b, t).clone()  # sequence position -> pool image
        if paired:
            h, terms = b // 2, self.draw.terms
            k = t - terms
            slots[h:, :terms] = slots[:h, :terms]
            slots[h:, terms:] = h * t + torch.arange(h * k, device=device).view(h, k)
            used = torch.cat([used[: h * t], used.view(b, t)[h:, terms:].flatten()])
        pool = self.renderer(images[seqs.image_indices.flatten()[used]], generator)
        return PoolBatch(pool.contiguous(memory_format=self.memory_format), seqs.digits.flatten()[used],
                         slots.to(pool.device), seqs.labels)

    def batch(self, n: int, generator) -> PoolBatch:
        return self.render(self.draw(n, self.index, generator), self.images, generator, paired=self.draw.paired)

    def epoch(self, generator) -> Iterator[PoolBatch]:
        for n in fresh_batch_sizes(self.objective):
            yield self.batch(n, generator)


class PooledBatches:
    """A class-balanced pool of ``images_per_batch`` images per step; the sequences are rows of the pool.
    W processes: the pool and sequences of one process's W-times-larger batch (see the module docstring)."""

    def __init__(self, draw: SequenceDraw, objective: CPCObjective, data: CPCData, renderer: DigitRenderer,
                 memory_format: torch.memory_format) -> None:
        self.draw, self.objective, self.renderer, self.memory_format = draw, objective, renderer, memory_format
        self.images, self.index = data.train_images, DigitIndex.from_labels(data.train_labels)
        pool = objective.images_per_batch * distributed.world_size()
        self.pool_digits = torch.arange(pool, device=data.train_images.device) % 10
        self.pool_index = DigitIndex.from_labels(self.pool_digits)
        self.steps_per_epoch = len(list(fresh_batch_sizes(objective)))

    def batch(self, n: int, generator) -> PoolBatch:
        """``n`` sequences over a fresh pool (the whole pool, in every process)."""
        pool_images = self.index.sample(self.pool_digits, generator)
        seqs = self.draw(n, self.pool_index, generator)  # image_indices: rows of the pool
        pool = self.renderer(self.images[pool_images], generator)
        return PoolBatch(pool.contiguous(memory_format=self.memory_format), self.pool_digits, seqs.image_indices,
                         seqs.labels)

    def epoch(self, generator) -> Iterator[PoolBatch]:
        w = distributed.world_size()
        if w > 1:  # every rank draws what rank 0 draws, i.e. what one process would
            generator = distributed.shared_generator(generator, own_stream=False)
        for n in fresh_batch_sizes(self.objective):
            whole = self.batch(n * w, generator)
            if w == 1:
                yield whole
                continue
            pool, seqs = distributed.shard(0, self.objective.images_per_batch), distributed.shard(0, n)
            yield PoolBatch(whole.images[pool], whole.digits, whole.slots[seqs], whole.labels[seqs], shared=True)


class TableBatches:
    """The fixed train table's rows in a new order each epoch, each sequence its own images."""

    def __init__(self, own: OwnImageBatches, table: SequenceBatch) -> None:
        self.own, self.table = own, table
        keep = table.labels == 1 if own.draw.positives_only else torch.ones_like(table.labels, dtype=torch.bool)
        self.rows = keep.nonzero().flatten()  # the rows an epoch walks through
        batch = own.objective.sequences_per_batch
        self.size = max(batch // 2, 1) if own.draw.paired else batch  # table rows per step
        w = distributed.world_size()  # several processes: full steps only (gathered shapes must agree)
        self.steps_per_epoch = math.ceil(len(self.rows) / self.size) if w == 1 else max(1, len(self.rows) // (self.size * w))

    def epoch(self, generator) -> Iterator[PoolBatch]:
        draw, table, size = self.own.draw, self.table, self.size
        shared = distributed.shared_generator(generator)  # one order, split between the processes
        rows = self.rows[torch.randperm(len(self.rows), generator=shared, device=self.rows.device)]
        for step in range(self.steps_per_epoch):
            r = rows[distributed.shard(step, size)]
            seqs = SequenceBatch(table.digits[r], table.image_indices[r], table.labels[r])
            if draw.paired:
                seqs = draw.with_paired_negatives(seqs, self.own.index, generator)
            yield self.own.render(seqs, self.own.images, generator, paired=draw.paired)


def fresh_batch_sizes(objective: CPCObjective) -> Iterator[int]:
    """Sequences per step of a fresh epoch (this process's share of ``sequences_per_epoch``): full batches,
    then the remainder (unless it is below 2)."""
    remaining = objective.sequences_per_epoch // distributed.world_size()
    while remaining >= 2:
        n = min(objective.sequences_per_batch, remaining)
        remaining -= n
        yield n


# ------------------------------------------------------------------ loss and metrics
def cpc_metrics(
    objective: CPCObjective, batch: PoolBatch, codes: torch.Tensor, predictions: torch.Tensor,
    futures: torch.Tensor, all_positive: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """Loss and metric *sums* over the batch (the loop divides by the counts)."""
    if objective.loss == "binary":
        out = binary_sequence_loss(predictions, futures, batch.labels)
        n = len(batch.labels)
        return out.loss, {"loss": out.loss * n, "accuracy": out.correct.float().sum()}, n
    k = predictions.shape[1]
    if all_positive:  # training batches for infonce: no boolean mask, so no host sync per step
        targets = batch.slots[:, -k:]
    else:  # validation tables mix in negative sequences: only positives have a true future
        pos = batch.labels == 1
        predictions, targets = predictions[pos], batch.slots[pos, -k:]
    out = info_nce(predictions, codes, targets, batch.digits, objective.negatives)
    n = predictions.shape[0]
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


# ------------------------------------------------------------------ validation
ENCODE_IMAGES = 512  # pictures per encoder call in validation (CPCEvaluator.encode)


class CPCEvaluator:
    """Validation metrics of held-out sequence tables, and the reference's sequence-discrimination accuracy."""

    def __init__(self, model: CPCModel, objective: CPCObjective, data: CPCData, renderer: DigitRenderer,
                 memory_format: torch.memory_format) -> None:
        self.model, self.objective, self.data, self.renderer = model, objective, data, renderer
        self.memory_format = memory_format

    def encode_unique(self, table: SequenceBatch, images: torch.Tensor, generator):
        """Render and encode every distinct image of ``table`` once: (codes ``(U, D)``, their digits ``(U,)``,
        each position's row in them ``(n, T)``). Held-out tables reuse images across sequences (2,496
        validation sequences x 8 positions draw on 10,000 images), so this encodes ~8.6k images, not 20k."""
        unique, inverse = torch.unique(table.image_indices, return_inverse=True)
        digits = torch.empty_like(unique).scatter_(0, inverse.flatten(), table.digits.flatten())
        size = self.objective.eval_sequences_per_batch * table.digits.shape[1]
        codes = torch.cat([self.encode(self.renderer(images[part], generator)) for part in unique.split(size)])
        return codes, digits, inverse

    def encode(self, pictures: torch.Tensor) -> torch.Tensor:
        """Codes of ``pictures``, :data:`ENCODE_IMAGES` at a time. Rendering stays per chunk of the table (so the
        random draws, and the pictures, are as before), but 2,048 pictures at once would make each early
        feature map 500 MB: encoding them 512 at a time gave the same codes bit for bit in eval mode (a test
        checks it), took 0.41 s instead of 0.53 s, and needs a quarter of the memory."""
        pictures = pictures.contiguous(memory_format=self.memory_format)
        return torch.cat([self.model.encoder(part) for part in pictures.split(ENCODE_IMAGES)])

    def score_table(self, table: SequenceBatch, images: torch.Tensor, generator, collect: bool = False):
        """Sequence scores (the reference's mean z_hat . z) of every row, and metric means. Metrics are taken
        over chunks of ``eval_sequences_per_batch`` sequences whose distinct images are the InfoNCE candidates."""
        codes, digits, inverse = self.encode_unique(table, images, generator)
        scores, sums, n_total = [], {}, 0
        size = self.objective.eval_sequences_per_batch
        for start in range(0, len(table), size):
            sl = slice(start, start + size)
            pool, slots = torch.unique(inverse[sl], return_inverse=True)
            pool_codes = codes[pool]
            predictions, futures = self.model.from_codes(pool_codes, slots)
            scores.append(sequence_scores(predictions, futures))
            if collect:
                batch = PoolBatch(None, digits[pool], slots, table.labels[sl])
                _, metrics, n = cpc_metrics(self.objective, batch, pool_codes, predictions, futures)
                for key, v in metrics.items():
                    sums[key] = sums.get(key, 0) + v
                n_total += n
        return torch.cat(scores), {k: float(v) / n_total for k, v in sums.items()}

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        """Validation metrics, plus the reference's sequence-discrimination accuracy (chance 0.5)."""
        val = self.data.validation_sequences
        scores, metrics = self.score_table(val, self.data.validation_images, generator, collect=True)
        if self.objective.loss == "binary":
            threshold = 0.0  # the model's own decision: sigmoid(score) > 0.5
        else:  # infonce scores have no natural zero: fix the cut on training sequences
            thr_scores, _ = self.score_table(self.data.threshold_sequences, self.data.train_images, generator)
            threshold = best_threshold(thr_scores, self.data.threshold_sequences.labels)
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


# ------------------------------------------------------------------ the method
class CPCMethod:
    """CPC for the training loop: batches from a builder, the model's forward, validation from an evaluator."""

    items_name = "sequences"
    monitor = "loss"

    def __init__(self, model: CPCModel, objective: CPCObjective, batches: BatchBuilder, evaluator: CPCEvaluator) -> None:
        self.model, self.objective, self.batches, self.evaluator = model, objective, batches, evaluator
        self.forward: torch.nn.Module = model  # what training calls: DistributedDataParallel(model) in a worker

    @property
    def steps_per_epoch(self) -> int:
        return self.batches.steps_per_epoch

    def global_batch(self) -> dict[str, int]:
        w, obj = distributed.world_size(), self.objective
        pool = {"global_images_per_batch": obj.images_per_batch * w} if obj.images_per_batch else {}
        return {"global_sequences_per_batch": obj.sequences_per_batch * w, **pool}

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[PoolBatch]:
        return self.batches.epoch(generator)

    def training_step(self, batch: PoolBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        if distributed.is_distributed():
            batch, out = global_step(self.forward, batch)
        else:
            out = self.forward(batch.images, batch.slots)
        # infonce training batches are drawn all positive (SequenceDraw); binary ones half and half
        return cpc_metrics(self.objective, batch, *out, all_positive=self.objective.loss == "infonce")

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        distributed.broadcast_buffers(self.model)
        return self.evaluator.evaluate(generator)


def global_step(forward, batch: PoolBatch) -> tuple[PoolBatch, CPCOutput]:
    """This rank's share of a step -> the global batch and its outputs, with gradients: every rank's codes
    are shared before the sequences read them (so they may span ranks), then the predictions, futures and
    sequences are gathered (rank-major). A batch of this rank's own pool is first indexed into the shared one."""
    g = distributed.gather
    if not batch.shared:
        batch = PoolBatch(batch.images, g(batch.digits), distributed.global_index(batch.slots, len(batch.images)),
                          batch.labels, shared=True)
    out = forward(batch.images, batch.slots, share=g)
    return PoolBatch(None, batch.digits, g(batch.slots), g(batch.labels), shared=True), \
        CPCOutput(out.codes, g(out.predictions), g(out.futures))


def make_cpc_method(
    model: CPCModel, objective: CPCObjective, data: CPCData, renderer: DigitRenderer, terms: int,
    channels_last: bool = False,
) -> CPCMethod:
    """The CPC method for ``model`` (already on the data's device), with the batch strategy ``objective`` asks for."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    draw = SequenceDraw(objective, terms, model.predict_terms)
    own = OwnImageBatches(draw, objective, data, renderer, memory_format)
    if objective.train_sampling == "fixed":
        if data.train_sequences is None:
            raise ValueError("train_sampling 'fixed' needs the train sequence table")
        batches: BatchBuilder = TableBatches(own, data.train_sequences)
    elif objective.images_per_batch is None:
        batches = own
    else:
        batches = PooledBatches(draw, objective, data, renderer, memory_format)
    return CPCMethod(model, objective, batches, CPCEvaluator(model, objective, data, renderer, memory_format))


# ------------------------------------------------------------------ fitting, in one process or several
@dataclass
class CPCInputs:
    """The pretraining stage's inputs, as the catalog gives them (picklable, for spawned workers)."""

    train: DigitSplit
    validation: DigitSplit
    train_table: pd.DataFrame
    validation_table: pd.DataFrame
    sequences: SequenceConfig
    rendering: RenderingConfig


def fit_cpc(inputs: CPCInputs, cfg: PretrainingConfig, on_epoch_end=None) -> tuple[CPCModel, list[dict[str, float]]]:
    """Build and train CPC -> the model (CPU, eval mode) and its epoch history, in this process or, with
    ``trainer.distributed``, in launched workers (:func:`cpc_pipeline.training.distributed.run`)."""
    return distributed.run(_fit_cpc, cfg.trainer.distributed, inputs, cfg, on_epoch_end=on_epoch_end)


def build_cpc(inputs: CPCInputs, cfg: PretrainingConfig) -> tuple[CPCMethod, torch.device]:
    """The CPC method ready to train on this process's device (a worker: in the process group, through DDP)."""
    device = start_process(cfg.trainer, inputs.train.images, inputs.train.labels, inputs.validation.images,
                           inputs.validation.labels, inputs.train_table, inputs.validation_table, inputs.sequences,
                           inputs.rendering, cfg.model_dump(exclude={"trainer": {"distributed"}}))
    rendering, sequences = inputs.rendering, inputs.sequences
    model = cfg.model.build(rendering.channels, rendering.image_size, sequences.predict_terms)
    model = model.to(device, memory_format=torch.channels_last if cfg.trainer.channels_last else torch.preserve_format)
    data = CPCData.from_tables(inputs.train, inputs.validation, inputs.train_table, inputs.validation_table,
                               cfg.objective.threshold_sequences, device)
    method = make_cpc_method(model, cfg.objective, data, DigitRenderer.from_config(rendering, device), sequences.terms,
                             cfg.trainer.channels_last)
    method.forward = distributed.data_parallel(model, cfg.trainer.distributed, device)
    return method, device


def _fit_cpc(inputs: CPCInputs, cfg: PretrainingConfig, on_epoch_end=None) -> tuple[CPCModel, list[dict[str, float]]]:
    method, device = build_cpc(inputs, cfg)
    result = train(method, cfg.trainer, device, on_epoch_end=on_epoch_end)
    distributed.check_same_on_every_rank(method.model)
    return method.model.cpu().eval(), result.history
