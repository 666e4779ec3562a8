"""Interactive explorers: thin ipywidgets layers over the plain functions in ``course``.

The plot is a PNG in an ``ipywidgets.Image`` that is replaced on every change.  Unlike
an ``Output`` widget with ``clear_output``, this behaves the same in JupyterLab, Colab and
headless execution (nbclient and nbgrader wait on ``Output`` captures).
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from course.diagnostics import first_last_ratio, gradient_profile
from course.plots import plot_layer_norms
from course.tables import ACTIVATIONS, INITIALIZERS, LINEAR

# Colab ships ipywidgets 7, JupyterLab 4 needs 8: the explorers use what both have, and this one keyword differs.
IPYWIDGETS_MAJOR = int(widgets.__version__.split(".")[0])


def tooltip(text: str) -> dict[str, str]:
    """A control's hover text as a keyword: ``tooltip`` in ipywidgets 8, ``description_tooltip`` in 7."""
    return {"tooltip" if IPYWIDGETS_MAJOR >= 8 else "description_tooltip": text}


def describe_profile(norms) -> str:
    """One line summarising a gradient-norm profile (used under the explorer's plot)."""
    norms = np.asarray(norms, dtype=float)
    if not np.all(np.isfinite(norms)):
        return "some gradient norms are inf or NaN"
    ratio = first_last_ratio(norms)
    return (f"first/last ratio = {ratio:.3g}   "
            f"(smallest norm {norms.min():.3g}, largest {norms.max():.3g})")


def figure_png(fig: plt.Figure, dpi: int = 90) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def gradient_explorer(X, y, *, seed: int = 0) -> widgets.VBox:
    """Depth, activation, initializer and weight scale in; per-layer gradient norms out.

    Each change builds a fresh network and measures one gradient with
    :func:`course.diagnostics.gradient_profile` (well under a second on a laptop CPU).
    Returns the widget box: make it the last expression of a cell to show it.
    """
    depth = widgets.IntSlider(value=6, min=1, max=30, description="depth", continuous_update=False)
    activation = widgets.Dropdown(options=(*ACTIVATIONS, LINEAR), value="sigmoid", description="activation")
    initializer = widgets.Dropdown(options=(*INITIALIZERS, "random_normal"), value="glorot_uniform",
                                   description="initializer")
    gain = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1.3, step=0.05,
                                  description="weight scale", continuous_update=False,
                                  style={"description_width": "initial"},
                                  **tooltip("multiplies the initializer's standard deviation"))
    def draw(ax: plt.Axes) -> str:
        norms = gradient_profile(X, y, depth=depth.value, activation=activation.value,
                                 initializer=initializer.value, gain=gain.value, seed=seed)
        plot_layer_norms({f"{activation.value}, {initializer.value} x{gain.value:.2g}": norms}, ax=ax)
        return describe_profile(norms)

    layout = widgets.HBox([widgets.VBox([depth, gain]), widgets.VBox([activation, initializer])])
    return image_explorer([depth, activation, initializer, gain], layout, draw)


def image_explorer(controls, layout: widgets.Widget, draw) -> widgets.VBox:
    """The frame every explorer shares: ``layout`` (holding ``controls``), a plot and a summary line.

    ``draw(ax)`` plots on a cleared axes and returns the summary text; it runs once now and
    again whenever a control's value changes.  The figure is kept as ``box.figure`` for tests.
    """
    summary = widgets.Label()
    image = widgets.Image(format="png")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    plt.close(fig)  # shown through the Image widget only, redrawn in place

    def redraw(_change=None) -> None:
        ax.clear()
        summary.value = draw(ax)
        image.value = figure_png(fig)

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([layout, image, summary])
    box.figure = fig
    return box
