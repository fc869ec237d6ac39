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
loss leaves its ln 2 plateau only with many sequences per step (docs/methods.md, "The binary loss").

Distributed (``trainer.distributed``, :func:`fit_cpc`): batch sizes are per process, so the global batch
is W times larger, and ``sequences_per_epoch`` is the global epoch, shared out between the W processes.
:class:`PooledBatches` draws one process's global batch on every rank (a pool of ``W * P`` images and
``W * B`` sequences, from rank 0's generator) and each rank encodes its ``P`` images and predicts for its
``B`` sequences: the W processes train on exactly the batches one process would draw. (Independent pools
per rank, the first design, made a different global batch: W pools of P, each rank's positives always in
its own pool. One process trained on such half-pools stalled at chance for epochs, as the two processes
did; docs/distributed.md.) :class:`OwnImageBatches` and :class:`TableBatches` give each rank its own
sequences with their own images. A step shares every rank's codes before the sequences read them, then
gathers the predictions and futures (:meth:`CPCMethod.training_step`), all with gradients, so InfoNCE's
candidates and the ``different_digit`` mask cover the global pool, as one process with the global batch.
Validation runs whole on every rank with rank 0's BatchNorm statistics, so all ranks agree on it.
"""

from cpc_pipeline.training.cpc.config import CPCObjective, PretrainingConfig
from cpc_pipeline.training.cpc.data import PoolBatch, CPCData
from cpc_pipeline.training.cpc.batches import (
    SequenceDraw,
    BatchBuilder,
    OwnImageBatches,
    PooledBatches,
    TableBatches,
    fresh_batch_sizes,
)
from cpc_pipeline.training.cpc.metrics import cpc_metrics
from cpc_pipeline.training.cpc.validation import ENCODE_IMAGES, CPCEvaluator, best_threshold
from cpc_pipeline.training.cpc.method import CPCMethod, global_step, make_cpc_method
from cpc_pipeline.training.cpc.fit import CPCInputs, fit_cpc, build_cpc

__all__ = [
    "CPCObjective",
    "PretrainingConfig",
    "PoolBatch",
    "CPCData",
    "SequenceDraw",
    "BatchBuilder",
    "OwnImageBatches",
    "PooledBatches",
    "TableBatches",
    "fresh_batch_sizes",
    "cpc_metrics",
    "ENCODE_IMAGES",
    "CPCEvaluator",
    "best_threshold",
    "CPCMethod",
    "global_step",
    "make_cpc_method",
    "CPCInputs",
    "fit_cpc",
    "build_cpc",
]
