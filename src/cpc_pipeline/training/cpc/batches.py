"""Which sequences a training step draws, and the three ways to render their images (package docstring)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import torch

from cpc_pipeline.data import DigitIndex, DigitRenderer, SequenceBatch, paired_negatives, sample_sequences
from cpc_pipeline.training import distributed
from cpc_pipeline.training.cpc.config import CPCObjective
from cpc_pipeline.training.cpc.data import CPCData, PoolBatch


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
        return SequenceBatch(
            *(
                torch.cat(pair)
                for pair in zip(
                    (positives.digits, positives.image_indices, positives.labels),
                    (negatives.digits, negatives.image_indices, negatives.labels),
                )
            )
        )

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

    def __init__(
        self,
        draw: SequenceDraw,
        objective: CPCObjective,
        data: CPCData,
        renderer: DigitRenderer,
        memory_format: torch.memory_format,
    ) -> None:
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
        return PoolBatch(
            pool.contiguous(memory_format=self.memory_format),
            seqs.digits.flatten()[used],
            slots.to(pool.device),
            seqs.labels,
        )

    def batch(self, n: int, generator) -> PoolBatch:
        return self.render(self.draw(n, self.index, generator), self.images, generator, paired=self.draw.paired)

    def epoch(self, generator) -> Iterator[PoolBatch]:
        for n in fresh_batch_sizes(self.objective):
            yield self.batch(n, generator)


class PooledBatches:
    """A class-balanced pool of ``images_per_batch`` images per step; the sequences are rows of the pool.
    W processes: the pool and sequences of one process's W-times-larger batch (see the module docstring)."""

    def __init__(
        self,
        draw: SequenceDraw,
        objective: CPCObjective,
        data: CPCData,
        renderer: DigitRenderer,
        memory_format: torch.memory_format,
    ) -> None:
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
        return PoolBatch(
            pool.contiguous(memory_format=self.memory_format), self.pool_digits, seqs.image_indices, seqs.labels
        )

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
        self.steps_per_epoch = (
            math.ceil(len(self.rows) / self.size) if w == 1 else max(1, len(self.rows) // (self.size * w))
        )

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
