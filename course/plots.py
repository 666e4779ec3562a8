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


def plot_histories(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    metric: str = "accuracy",
    axes: Sequence[plt.Axes] | None = None,
) -> Sequence[plt.Axes]:
    """Loss and ``metric`` per epoch for several ``History.history`` dictionaries."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for label, history in histories.items():
        axes[0].plot(history["loss"], label=label)
        axes[1].plot(history[metric], label=label)
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel(f"training {metric}")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    return axes
