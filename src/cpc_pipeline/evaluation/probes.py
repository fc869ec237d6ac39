"""Probes on frozen features (plain PyTorch and scikit-learn), and the classification method that the
MLP probe and the supervised baseline (:mod:`cpc_pipeline.evaluation.supervised`) train with.

At label fraction ``f`` every probe is trained on a stratified fraction ``f`` of the train split, tuned
on a stratified fraction ``f`` of the validation split, and only then scored on the test split. So the
labels a result touched (``labels_used``: training plus selection) are a fraction ``f`` of all of them:
at 1% that is 500 + 100 MNIST labels, not 500 plus 10,000 for choosing the hyperparameters. Test labels
only ever score predictions that were fixed before (a test permutes them and checks that no choice moves).

- ``mlp``: the reference's head (dense 128, BatchNorm, LeakyReLU, dense 10; Adam 1e-3, batch 64,
  15 epochs), the epoch kept is the one with the best validation accuracy;
- ``linear``: multinomial logistic regression on standardised features, C chosen on validation;
- ``knn``: k nearest neighbours by cosine similarity, k chosen on validation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.models import mlp_head
from cpc_pipeline.training.loop import TrainerConfig, seed_everything, train

logger = logging.getLogger(__name__)

PROBES = ("mlp", "linear", "knn")


class MLPProbeConfig(StrictModel):
    hidden: int = Field(128, ge=1)
    norm: Literal["batch", "layer", "none"] = "batch"
    epochs: int = Field(15, ge=1)
    features_per_batch: int = Field(64, ge=2)
    learning_rate: float = Field(1e-3, gt=0)


class LinearProbeConfig(StrictModel):
    c_grid: list[float] = Field([0.01, 0.1, 1.0], min_length=1)  # inverse L2 strengths tried on validation
    max_iter: int = Field(500, ge=10)


class KNNProbeConfig(StrictModel):
    k_grid: list[int] = Field([1, 5, 20], min_length=1)


class ProbeConfig(StrictModel):
    probes: list[Literal["mlp", "linear", "knn"]] = Field(list(PROBES), min_length=1)
    label_fractions: list[float] = Field([0.01, 0.1, 1.0], min_length=1)
    mlp: MLPProbeConfig = MLPProbeConfig()
    linear: LinearProbeConfig = LinearProbeConfig()
    knn: KNNProbeConfig = KNNProbeConfig()
    seed: int = Field(0, ge=0)

    @field_validator("label_fractions")
    @classmethod
    def _fractions(cls, fractions: list[float]) -> list[float]:
        bad = [f for f in fractions if not 0 < f <= 1]
        if bad:
            raise ValueError(f"label_fractions must lie in (0, 1], got {bad}")
        return fractions


@dataclass
class ProbeResult:
    probe: str
    label_fraction: float
    train_labels: int  # labels the probe was fitted on
    selection_labels: int  # validation labels its hyperparameter was chosen on
    chosen: str  # the hyperparameter picked on validation
    val_accuracy: float  # on those selection labels
    test_accuracy: float
    test_macro_f1: float
    test_predictions: np.ndarray

    @property
    def labels_used(self) -> int:
        """Every label the result touched: training plus selection."""
        return self.train_labels + self.selection_labels

    @classmethod
    def score(cls, probe, fraction, train_labels, selection_labels, chosen, val_accuracy, y_test, predictions):
        """Test accuracy and macro-F1 of ``predictions``."""
        accuracy = float((np.asarray(y_test) == predictions).mean())
        f1 = float(f1_score(y_test, predictions, average="macro"))
        return cls(probe, fraction, train_labels, selection_labels, chosen, float(val_accuracy), accuracy, f1,
                   np.asarray(predictions))

    def row(self) -> dict[str, object]:
        row = {k: v for k, v in self.__dict__.items() if k != "test_predictions"}
        return row | {"labels_used": self.labels_used}


def select_on_validation(results: list[ProbeResult]) -> ProbeResult:
    """The result with the best validation accuracy (the first on ties): how to report one probe out of
    several without looking at test labels."""
    return max(results, key=lambda r: r.val_accuracy)


def label_subsets(
    train_labels: np.ndarray, validation_labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The labelled train images and the labelled validation images of a run at label ``fraction``."""
    return label_subset(train_labels, fraction, seed), label_subset(validation_labels, fraction, seed + 1)


def label_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified ``fraction`` of ``labels`` (at least one per class)."""
    if fraction >= 1:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(rng.choice(idx, max(1, round(fraction * len(idx))), replace=False))
    return np.sort(np.concatenate(keep))


# ------------------------------------------------------------------ a classifier for the training loop
class ClassificationMethod:
    """Cross-entropy classification as a :func:`train` method.

    ``transform(x, generator)`` turns a batch of stored inputs into model inputs (identity for
    features; the renderer for raw digits, so every epoch sees fresh backgrounds).
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
    ) -> None:
        self.model = model
        self.train_x, self.train_y, self.val_x, self.val_y = train_x, train_y, val_x, val_y
        self.batch_size = min(batch_size, len(train_x))
        self.transform = transform or (lambda x, g: x)
        self.steps_per_epoch = steps_per_epoch or -(-len(train_x) // self.batch_size)
        self.eval_batch_size = eval_batch_size

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, device = len(self.train_x), self.train_x.device
        order = torch.cat(
            [torch.randperm(n, generator=generator, device=device) for _ in range(-(-self.steps_per_epoch * self.batch_size // n))]
        )
        for i in range(self.steps_per_epoch):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                return
            yield self.transform(self.train_x[idx], generator), self.train_y[idx]

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


# ------------------------------------------------------------------ the three probes
def fit_mlp_probe(x_train, y_train, x_val, y_val, x_test, config: MLPProbeConfig, seed: int, device) -> tuple:
    device = torch.device(device)
    seed_everything(seed)
    t = lambda a, dtype=torch.float32: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    model = mlp_head(x_train.shape[1], config.hidden, config.norm).to(device)
    method = ClassificationMethod(
        model, t(x_train), t(y_train, torch.long), t(x_val), t(y_val, torch.long), config.features_per_batch
    )
    trainer = TrainerConfig(
        epochs=config.epochs, learning_rate=config.learning_rate, checkpoint_path=None, progress=False,
        log_epochs=False, seed=seed, plateau_patience=config.epochs,  # the reference: constant rate
    )
    history = train_keeping_best(method, trainer, device)
    best = next(r for r in history if r["selected"])
    test_predictions = method.predict(t(x_test)).argmax(1).cpu().numpy()
    return f"epoch={int(best['epoch'])}", best["val_accuracy"], test_predictions  # the loop scored validation


def _select_on_validation(candidates, make_model, x_train, y_train, x_val, y_val, x_test) -> tuple:
    """Fit one model per candidate hyperparameter; keep the best on validation (first on ties)."""
    best = None
    for value in candidates:
        model = make_model(value).fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        if best is None or acc > best[1]:
            best = (value, acc, model)
    value, acc, model = best
    return value, acc, model.predict(x_test)


def fit_linear_probe(x_train, y_train, x_val, y_val, x_test, config: LinearProbeConfig, seed: int) -> tuple:
    c, acc, pred = _select_on_validation(
        config.c_grid,
        lambda c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=config.max_iter, random_state=seed)),
        x_train, y_train, x_val, y_val, x_test,
    )
    return f"C={c:g}", acc, pred


def fit_knn_probe(x_train, y_train, x_val, y_val, x_test, config: KNNProbeConfig) -> tuple:
    """Cosine k-NN, k chosen on validation (first on ties), as scikit-learn's ``KNeighborsClassifier`` on
    L2-normalised features with uniform votes (a tie goes to the smallest class), with one neighbour search
    per split for the whole grid: the k nearest neighbours are the first k of the largest k's."""
    classes, codes = np.unique(y_train, return_inverse=True)
    index = KNeighborsClassifier(n_neighbors=min(max(config.k_grid), len(x_train)), algorithm="brute")
    index.fit(normalize(x_train), codes)

    def votes(neighbours: np.ndarray, k: int) -> np.ndarray:
        counts = np.zeros((len(neighbours), len(classes)), dtype=np.int64)
        np.add.at(counts, (np.arange(len(neighbours))[:, None], codes[neighbours[:, :k]]), 1)
        return classes[counts.argmax(1)]

    val_neighbours = index.kneighbors(normalize(x_val), return_distance=False)
    best = None
    for k in config.k_grid:
        acc = float((votes(val_neighbours, min(k, len(x_train))) == y_val).mean())
        if best is None or acc > best[1]:
            best = (k, acc)
    k, acc = best
    test_neighbours = index.kneighbors(normalize(x_test), n_neighbors=min(k, len(x_train)), return_distance=False)
    return f"k={k}", acc, votes(test_neighbours, min(k, len(x_train)))


def run_probes(features: dict[str, np.ndarray], config: ProbeConfig, device="cpu") -> list[ProbeResult]:
    """Every configured probe at every label fraction on one encoder's features.

    ``features`` holds ``{split}_x`` (N, D) and ``{split}_y`` (N,) for train, validation and test.
    """
    results = []
    x_test, y_test = features["test_x"], features["test_y"]
    for fraction in config.label_fractions:
        keep, keep_val = label_subsets(features["train_y"], features["validation_y"], fraction, config.seed)
        x_train, y_train = features["train_x"][keep], features["train_y"][keep]
        x_val, y_val = features["validation_x"][keep_val], features["validation_y"][keep_val]
        for probe in config.probes:
            if probe == "mlp":
                chosen, val_acc, pred = fit_mlp_probe(
                    x_train, y_train, x_val, y_val, x_test, config.mlp, config.seed, device
                )
            elif probe == "linear":
                chosen, val_acc, pred = fit_linear_probe(x_train, y_train, x_val, y_val, x_test, config.linear, config.seed)
            else:
                chosen, val_acc, pred = fit_knn_probe(x_train, y_train, x_val, y_val, x_test, config.knn)
            result = ProbeResult.score(probe, fraction, len(keep), len(keep_val), chosen, val_acc, y_test, pred)
            logger.info(
                "%s probe, %g of labels (%d train + %d selection): val %.4f, test %.4f (%s)",
                probe, fraction, len(keep), len(keep_val), val_acc, result.test_accuracy, chosen,
            )
            results.append(result)
    return results
