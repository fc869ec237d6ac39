"""One training loop for every method: device, bf16 autocast, compile, checkpoint/resume, progress,
per-epoch metrics through a callback, learning-rate schedules, early stopping and determinism.

A *method* (CPC, SimCLR, ...) supplies the model, its batches and its loss; the loop owns everything
else. Metrics are accumulated on the device and read back once per epoch (and at the progress bar's
refresh), so the inner loop never waits for the host.

Determinism (``deterministic``, on by default on the CPU): every random draw of a method comes from the
generator the loop hands it, seeded by ``(seed, epoch)``; initialisation comes from the seeded global
RNG; the thread count is pinned; and ``torch.use_deterministic_algorithms`` makes PyTorch choose
kernels that reduce in a fixed order. Without the last, two identical CPU runs drift apart in the low
bits after a few steps (measured: the gradient of the gather ``codes[sequences]`` accumulates in a
thread-dependent order) and end at visibly different losses. With it, two runs with the same seed and
configuration give identical weights, and a resumed run equals the uninterrupted one bit for bit.
"""

from cpc_pipeline.training.loop.config import TrainerConfig, Method
from cpc_pipeline.training.loop.device import (
    Compute,
    pick_device,
    seed_everything,
    start_process,
    cpu_has_bf16_matrix_units,
    uses_bf16,
    wants_determinism,
    deterministic_algorithms,
    EVAL_EPOCH,
    epoch_generator,
)
from cpc_pipeline.training.loop.checkpoint import save_checkpoint, load_checkpoint
from cpc_pipeline.training.loop.optimizer import make_optimizer
from cpc_pipeline.training.loop.run import PHASES, TrainResult, train

__all__ = [
    "TrainerConfig",
    "Method",
    "Compute",
    "pick_device",
    "seed_everything",
    "start_process",
    "cpu_has_bf16_matrix_units",
    "uses_bf16",
    "wants_determinism",
    "deterministic_algorithms",
    "EVAL_EPOCH",
    "epoch_generator",
    "save_checkpoint",
    "load_checkpoint",
    "make_optimizer",
    "PHASES",
    "TrainResult",
    "train",
]
