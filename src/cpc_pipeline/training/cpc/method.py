"""CPC as a method of the training loop: batches from a builder, the model's forward, validation from an evaluator."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from cpc_pipeline.data import DigitRenderer
from cpc_pipeline.models import CPCModel
from cpc_pipeline.models.cpc import CPCOutput
from cpc_pipeline.training import distributed
from cpc_pipeline.training.cpc.batches import (
    BatchBuilder,
    OwnImageBatches,
    PooledBatches,
    SequenceDraw,
    TableBatches,
)
from cpc_pipeline.training.cpc.config import CPCObjective
from cpc_pipeline.training.cpc.data import CPCData, PoolBatch
from cpc_pipeline.training.cpc.metrics import cpc_metrics
from cpc_pipeline.training.cpc.validation import CPCEvaluator


class CPCMethod:
    """CPC for the training loop: batches from a builder, the model's forward, validation from an evaluator."""

    items_name = "sequences"
    monitor = "loss"

    def __init__(
        self, model: CPCModel, objective: CPCObjective, batches: BatchBuilder, evaluator: CPCEvaluator
    ) -> None:
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
        batch = PoolBatch(
            batch.images,
            g(batch.digits),
            distributed.global_index(batch.slots, len(batch.images)),
            batch.labels,
            shared=True,
        )
    out = forward(batch.images, batch.slots, share=g)
    return PoolBatch(None, batch.digits, g(batch.slots), g(batch.labels), shared=True), CPCOutput(
        out.codes, g(out.predictions), g(out.futures)
    )


def make_cpc_method(
    model: CPCModel,
    objective: CPCObjective,
    data: CPCData,
    renderer: DigitRenderer,
    terms: int,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> CPCMethod:
    """The CPC method for ``model`` (already on the data's device), with the batch strategy ``objective`` asks for;
    its pictures in ``memory_format`` (:attr:`~cpc_pipeline.training.loop.Compute.layout`)."""
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
