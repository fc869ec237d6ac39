"""CPC's validation scorer: held-out sequence tables and the reference's sequence-discrimination accuracy."""

from __future__ import annotations

import torch

from cpc_pipeline.data import DigitRenderer, SequenceBatch
from cpc_pipeline.losses.binary import sequence_scores
from cpc_pipeline.models import CPCModel
from cpc_pipeline.training.cpc.config import CPCObjective
from cpc_pipeline.training.cpc.data import CPCData, PoolBatch
from cpc_pipeline.training.cpc.metrics import cpc_metrics

ENCODE_IMAGES = 512  # pictures per encoder call in validation (CPCEvaluator.encode)


class CPCEvaluator:
    """Validation metrics of held-out sequence tables, and the reference's sequence-discrimination accuracy."""

    def __init__(
        self,
        model: CPCModel,
        objective: CPCObjective,
        data: CPCData,
        renderer: DigitRenderer,
        memory_format: torch.memory_format,
    ) -> None:
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
