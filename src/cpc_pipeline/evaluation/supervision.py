"""What supervision each encoder's own training used, stated beside every result.

A frozen encoder's probe accuracy says how much of the labels' information its features carry, which
only means something next to what the encoder saw while it was trained. Sequence CPC on the reference
task is *weakly* supervised: its training sequences count upward, so they are built from the digit
labels. Only label-free methods (SimCLR and patch CPC here) compare with each other as self-supervised learning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Supervision:
    level: str  # "none", "weak" or "full"
    pretext: str  # what the encoder was trained to do, and which labels that touched


SUPERVISION: dict[str, Supervision] = {
    "cpc": Supervision(
        "weak",
        "sequence CPC: the digit labels of the training images order the training sequences (they count up) "
        "and pick the negatives' wrong digits; validation sequences built the same way drive its "
        "learning-rate schedule",
    ),
    "simclr": Supervision(
        "none",
        "SimCLR: two augmented views of each image; labels only feed a k-NN monitor, which selects nothing",
    ),
    "patch_cpc": Supervision(
        "none",
        "CPC on image patches: each image alone predicts its own patches rows below (and above) from the rows "
        "it has seen; every other patch in the batch is a negative; labels only feed a k-NN monitor, which "
        "selects nothing",
    ),
    "random": Supervision(
        "none",
        "no training: the initial weights, with BatchNorm statistics averaged over unlabelled training images",
    ),
    "supervised": Supervision(
        "full",
        "classification trained end to end on the training labels, its epoch chosen on validation labels",
    ),
    "chance": Supervision("none", "a uniform guess"),
}


def supervision_level(encoder: str) -> str:
    return SUPERVISION[encoder].level if encoder in SUPERVISION else "unknown"
