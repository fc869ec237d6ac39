"""Matplotlib figures of the project; each function returns a Figure and saves nothing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are written by the catalog, never shown
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _to_display(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, C) or (H, W) in [0, 1]."""
    x = ((image.detach().float().cpu() + 1) / 2).clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def plot_sequences(
    images: torch.Tensor, digits: np.ndarray, labels: np.ndarray, terms: int
) -> matplotlib.figure.Figure:
    """A grid, one row per sequence ``(n, T, C, H, W)``: context | future, titled with the digits."""
    n, length = images.shape[:2]
    fig, axes = plt.subplots(n, length, figsize=(1.1 * length + 1.2, 1.25 * n), squeeze=False)
    for i in range(n):
        kind = "positive" if labels[i] == 1 else "negative"
        for t in range(length):
            ax = axes[i, t]
            ax.imshow(_to_display(images[i, t]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(str(int(digits[i, t])), fontsize=8, color="black" if t < terms else "tab:blue")
            if t == terms:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:blue")
                    spine.set_linewidth(2)
        axes[i, 0].set_ylabel(kind, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(f"Sequences: {terms} context images, then the future (blue digits)", fontsize=10)
    fig.tight_layout()
    return fig
