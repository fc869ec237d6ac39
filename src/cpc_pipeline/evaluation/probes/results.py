"""One probe's result at one label fraction: what it chose on validation, its test scores, the labels it touched."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score


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
        return cls(
            probe,
            fraction,
            train_labels,
            selection_labels,
            chosen,
            float(val_accuracy),
            accuracy,
            f1,
            np.asarray(predictions),
        )

    def row(self) -> dict[str, object]:
        row = {k: v for k, v in self.__dict__.items() if k != "test_predictions"}
        return row | {"labels_used": self.labels_used}


def wilson_interval(accuracy: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of an accuracy measured on ``n`` test images: how far the test
    set's size alone lets the figure move, beside the spread over seeds (which it does not include).

    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` (Wilson 1927; Brown, Cai and DasGupta 2001).
    """
    if n <= 0:
        return float("nan"), float("nan")
    centre = accuracy + z * z / (2 * n)
    half = z * np.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n))
    return float((centre - half) / (1 + z * z / n)), float((centre + half) / (1 + z * z / n))


def select_on_validation(results: list[ProbeResult]) -> ProbeResult:
    """The result with the best validation accuracy (the first on ties): how to report one probe out of
    several without looking at test labels."""
    return max(results, key=lambda r: r.val_accuracy)
