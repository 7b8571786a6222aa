"""Plotting helpers several experiments share: smoothing a curve, training against test accuracy, and finishing a
figure of gridded, labelled panels."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def smooth(curve: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` steps (shorter at the start), the same length as ``curve``."""
    csum = np.cumsum(np.insert(np.asarray(curve, np.float64), 0, 0.0))
    ends = np.arange(1, len(curve) + 1)
    starts = np.maximum(ends - window, 0)
    return (csum[ends] - csum[starts]) / (ends - starts)


def finish(fig: plt.Figure, axes: tuple, path: Path) -> None:
    """A grid and a legend on every panel of ``axes``, then ``fig`` laid out, written to ``path`` and closed."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_train_test(history: Mapping[str, np.ndarray], labels: list[str], title: str, path: Path) -> None:
    """One panel per run: training and test accuracy per epoch, the gap between them shaded."""
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), sharey=True, squeeze=False)
    epochs = np.arange(1, history["train_accuracy"].shape[1] + 1)
    for i, (ax, label) in enumerate(zip(axes[0], labels)):
        train_acc, test_acc = history["train_accuracy"][i], history["test_accuracy"][i]
        ax.plot(epochs, train_acc, label="train")
        ax.plot(epochs, test_acc, label="test")
        ax.fill_between(epochs, test_acc, train_acc, color="0.85")
        ax.set(xlabel="epoch", title=f"{label}: final gap {train_acc[-1] - test_acc[-1]:.2f}", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
