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

from cpc_pipeline.evaluation.probes.config import PROBES, MLPProbeConfig, LinearProbeConfig, KNNProbeConfig, ProbeConfig
from cpc_pipeline.evaluation.probes.results import ProbeResult, select_on_validation, wilson_interval
from cpc_pipeline.evaluation.probes.labels import label_subsets, label_subset
from cpc_pipeline.evaluation.probes.classifier import ClassificationMethod, train_keeping_best
from cpc_pipeline.evaluation.probes.mlp import fit_mlp_probe
from cpc_pipeline.evaluation.probes.linear import fit_linear_probe
from cpc_pipeline.evaluation.probes.knn import fit_knn_probe
from cpc_pipeline.evaluation.probes.run import run_probes

__all__ = [
    "PROBES",
    "MLPProbeConfig",
    "LinearProbeConfig",
    "KNNProbeConfig",
    "ProbeConfig",
    "ProbeResult",
    "select_on_validation",
    "wilson_interval",
    "label_subsets",
    "label_subset",
    "ClassificationMethod",
    "train_keeping_best",
    "fit_mlp_probe",
    "fit_linear_probe",
    "fit_knn_probe",
    "run_probes",
]
