"""The MLP probe: the reference's head, the epoch kept chosen on validation."""

from __future__ import annotations

import torch

from cpc_pipeline.evaluation.probes.classifier import ClassificationMethod, train_keeping_best
from cpc_pipeline.evaluation.probes.config import MLPProbeConfig
from cpc_pipeline.models import mlp_head
from cpc_pipeline.training.loop import TrainerConfig, seed_everything


def fit_mlp_probe(x_train, y_train, x_val, y_val, x_test, config: MLPProbeConfig, seed: int, device) -> tuple:
    device = torch.device(device)
    seed_everything(seed)
    t = lambda a, dtype=torch.float32: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    classes = int(max(y_train.max(), y_val.max())) + 1  # the labels' classes: ten digits, or a folder's
    model = mlp_head(x_train.shape[1], config.hidden, config.norm, classes).to(device)
    method = ClassificationMethod(
        model, t(x_train), t(y_train, torch.long), t(x_val), t(y_val, torch.long), config.features_per_batch
    )
    trainer = TrainerConfig(
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        checkpoint_path=None,
        progress=False,
        log_epochs=False,
        seed=seed,
        plateau_patience=config.epochs,  # the reference: constant rate
    )
    history = train_keeping_best(method, trainer, device)
    best = next(r for r in history if r["selected"])
    test_predictions = method.predict(t(x_test)).argmax(1).cpu().numpy()
    return f"epoch={int(best['epoch'])}", best["val_accuracy"], test_predictions  # the loop scored validation
