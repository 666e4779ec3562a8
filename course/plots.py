"""Figures the notebooks draw more than once (extra code: not the lesson)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_layer_norms(
    profiles: Mapping[str, Sequence[float]],
    *,
    ax: plt.Axes | None = None,
    title: str = "Kernel-gradient norm per layer",
) -> plt.Axes:
    """One line per profile: gradient norm of each Dense layer's kernel, input (1) to output, log scale."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, norms in profiles.items():
        norms = np.asarray(norms, dtype=float)
        shown = np.where(np.isfinite(norms) & (norms > 0), norms, np.nan)
        ax.plot(np.arange(1, len(norms) + 1), shown, marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("Dense layer (1 = next to the input)")
    ax.set_ylabel("gradient norm (log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


_METRIC_LABELS = {"loss": "training loss", "accuracy": "training accuracy",
                  "val_accuracy": "validation accuracy (inference mode)", "val_loss": "validation loss"}


def plot_histories(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    metrics: Sequence[str] = ("accuracy",),
    axes: Sequence[plt.Axes] | None = None,
) -> Sequence[plt.Axes]:
    """The loss and each of ``metrics`` per epoch (a panel each) for several ``History.history`` dictionaries.

    A history without one of the metrics is left out of that panel.
    """
    names = ["loss", *metrics]
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5))
    for label, history in histories.items():
        for ax, name in zip(axes, names, strict=True):
            if name in history:
                ax.plot(np.arange(1, len(history[name]) + 1), history[name], marker="o", label=label)
    for ax, name in zip(axes, names, strict=True):
        ax.set_ylabel(_METRIC_LABELS.get(name, name.replace("_", " ")))
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small")
    return axes


def plot_layer_profiles(
    profiles: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    axes: Sequence[plt.Axes] | None = None,
    xlabel: str = "layer (1 = next to the input)",
) -> Sequence[plt.Axes]:
    """Per-layer mean (left) and standard deviation (right, log scale) of the layers' outputs, a line per model.

    ``profiles`` maps a label to ``(means, stds)``, one value per layer; a zero or non-finite std is a gap.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for label, (means, stds) in profiles.items():
        layers = np.arange(1, len(means) + 1)
        stds = np.asarray(stds, dtype=float)
        axes[0].plot(layers, means, marker="o", label=label)
        axes[1].plot(layers, np.where(np.isfinite(stds) & (stds > 0), stds, np.nan), marker="o", label=label)
    axes[0].set_ylabel("mean of the layer's outputs")
    axes[1].set_ylabel("std of the layer's outputs (log)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    return axes
