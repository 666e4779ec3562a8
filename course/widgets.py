"""Interactive explorers: thin ipywidgets layers over the plain functions in ``course``."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from course.diagnostics import first_last_ratio, gradient_profile
from course.plots import plot_layer_norms

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "linear")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "random_normal")


def describe_profile(norms) -> str:
    """One line summarising a gradient-norm profile (used under the explorer's plot)."""
    norms = np.asarray(norms, dtype=float)
    if not np.all(np.isfinite(norms)):
        return "some gradient norms are inf or NaN"
    ratio = first_last_ratio(norms)
    return (f"first/last ratio = {ratio:.3g}   "
            f"(smallest norm {norms.min():.3g}, largest {norms.max():.3g})")


def gradient_explorer(X, y, *, seed: int = 0) -> widgets.VBox:
    """Depth, activation, initializer and weight scale in; per-layer gradient norms out.

    Returns the widget box: make it the last expression of a cell to show it.

    Each change builds a fresh network and measures one gradient with
    :func:`course.diagnostics.gradient_profile` (well under a second on a laptop CPU).
    """
    depth = widgets.IntSlider(value=6, min=1, max=30, description="depth", continuous_update=False)
    activation = widgets.Dropdown(options=ACTIVATIONS, value="sigmoid", description="activation")
    initializer = widgets.Dropdown(options=INITIALIZERS, value="glorot_uniform", description="initializer")
    gain = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1.3, step=0.05,
                                  description="weight scale", continuous_update=False,
                                  tooltip="multiplies the initializer's standard deviation")
    summary = widgets.Label()
    plot = widgets.Output()

    def redraw(depth: int, activation: str, initializer: str, gain: float) -> None:
        norms = gradient_profile(X, y, depth=depth, activation=activation,
                                 initializer=initializer, gain=gain, seed=seed)
        summary.value = describe_profile(norms)
        with plot:
            plot.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3.5))
            plot_layer_norms({f"{activation}, {initializer} x{gain:.2g}": norms}, ax=ax)
            plt.show(fig)

    out = widgets.interactive_output(
        redraw, {"depth": depth, "activation": activation, "initializer": initializer, "gain": gain}
    )
    controls = widgets.HBox([widgets.VBox([depth, gain]), widgets.VBox([activation, initializer])])
    box = widgets.VBox([controls, plot, summary, out])
    return box
