"""A classifier on features or pictures as a method of the training loop, keeping its best epoch on validation
(the MLP probe and the supervised baseline train with it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from cpc_pipeline.training.loop import TrainerConfig, train


class ClassificationMethod:
    """Cross-entropy classification as a :func:`train` method.

    ``transform(x, generator)`` turns a batch of stored inputs into model inputs (identity for
    features; the renderer for raw digits, so every epoch sees fresh backgrounds); ``train_transform``, where
    given, replaces it for training batches only (augmentation: validation and test see ``transform``).
    """

    items_name = "samples"
    monitor = "loss"

    def __init__(
        self,
        model: nn.Module,
        train_x: torch.Tensor,
        train_y: torch.Tensor,
        val_x: torch.Tensor,
        val_y: torch.Tensor,
        batch_size: int,
        transform: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] | None = None,
        steps_per_epoch: int | None = None,
        eval_batch_size: int = 1024,
        train_transform: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] | None = None,
    ) -> None:
        self.model = model
        self.train_x, self.train_y, self.val_x, self.val_y = train_x, train_y, val_x, val_y
        self.batch_size = min(batch_size, len(train_x))
        self.transform = transform or (lambda x, g: x)
        self.train_transform = train_transform or self.transform
        self.steps_per_epoch = steps_per_epoch or -(-len(train_x) // self.batch_size)
        self.eval_batch_size = eval_batch_size

    def global_batch(self) -> dict[str, int]:
        return {"global_samples_per_batch": self.batch_size}  # probes and the supervised baseline train alone

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, device = len(self.train_x), self.train_x.device
        order = torch.cat(
            [
                torch.randperm(n, generator=generator, device=device)
                for _ in range(-(-self.steps_per_epoch * self.batch_size // n))
            ]
        )
        for i in range(self.steps_per_epoch):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                return
            yield self.train_transform(self.train_x[idx], generator), self.train_y[idx]

    def training_step(self, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        x, y = batch
        logits = self.model(x)
        loss = F.cross_entropy(logits.float(), y)
        n = len(y)
        return loss, {"loss": loss * n, "accuracy": (logits.argmax(1) == y).float().sum()}, n

    def predict(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits of ``x`` in eval mode, in batches."""
        self.model.eval()
        with torch.no_grad():
            return torch.cat(
                [
                    self.model(self.transform(x[s : s + self.eval_batch_size], generator)).float()
                    for s in range(0, len(x), self.eval_batch_size)
                ]
            )

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        logits = self.predict(self.val_x, generator)
        return {
            "loss": float(F.cross_entropy(logits, self.val_y)),
            "accuracy": float((logits.argmax(1) == self.val_y).float().mean()),
        }


def train_keeping_best(method: ClassificationMethod, config: TrainerConfig, device: torch.device) -> list[dict]:
    """Train, then restore the epoch with the best validation accuracy (model selection on validation)."""
    best = {"accuracy": -1.0, "state": None}

    def keep(epoch: int, row: dict[str, float]) -> None:
        if row["val_accuracy"] > best["accuracy"]:
            best["accuracy"] = row["val_accuracy"]
            best["state"] = {k: v.detach().clone() for k, v in method.model.state_dict().items()}
            best["epoch"] = epoch

    history = train(method, config, device, on_epoch_end=keep).history
    method.model.load_state_dict(best["state"])
    method.model.eval()
    for row in history:
        row["selected"] = float(row["epoch"] == best["epoch"])
    return history
