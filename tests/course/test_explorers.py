"""Every explorer of the six notebooks, built once and driven control by control from Python.

The same test runs on the pinned set (ipywidgets 8), the minimum set and Colab's (ipywidgets 7: CI's Colab
job), so an explorer that relies on one version's widgets fails where students would see it fail.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import activations, batchnorm, capstone_experiments, clipping, initialization, residual, widgets  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 4)).astype("float32")
Y = np.arange(48) % 3

# name -> (builder, {control description: the values to move it through, in order}). Every control of every
# explorer is named: a control added without being listed here fails the test. A value that enables another
# control comes first (activation_explorer's parameter slider is disabled until the activation has one).
EXPLORERS = {
    "01 gradient_explorer": (lambda: widgets.gradient_explorer(X, Y), {
        "depth": [12], "activation": ["relu"], "initializer": ["he_normal"], "weight scale": [2.0]}),
    "02 activation_std_explorer": (lambda: initialization.activation_std_explorer(), {
        "activation": ["tanh"], "weights": [initialization.TOO_LARGE], "scale ×": [0.1], "depth": [20]}),
    "03 activation_explorer": (lambda: activations.activation_explorer(X), {
        "activation": ["elu"], "alpha": [2.0], "initializer": ["he_normal"], "depth": [10]}),
    "04 moving_statistics_explorer": (lambda: batchnorm.moving_statistics_explorer(RNG.normal(3.0, 2.0, 2000)), {
        "batch size": [2], "momentum": [0.5], "steps": [400]}),
    "05 clip_explorer": (clipping.clip_explorer, {
        "|g1|": [4.5], "angle g1 (°)": [90.0], "|g2|": [0.5], "threshold": [2.5]}),
    "06 repair_explorer": (lambda: capstone_experiments.repair_explorer(X, Y), {
        "activation": ["relu"], "initializer": ["he_normal"],
        "BatchNormalization before each activation": [True]}),
    "07 residual_explorer": (residual.residual_explorer, {
        "network": ["residual"], "normalization": ["layer"], "placement": ["post"], "depth": [40]}),
}


def controls(widget: ipywidgets.Widget) -> list[ipywidgets.ValueWidget]:
    """The controls a student moves: every value widget in the box except the plot and the summary line."""
    found = []
    for child in getattr(widget, "children", ()):
        if isinstance(child, ipywidgets.ValueWidget) and not isinstance(child, ipywidgets.Image | ipywidgets.Label):
            found.append(child)
        found += controls(child)
    return found


def test_every_notebook_explorer_is_listed():
    """The explorers the notebooks show are the ones driven below."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shown = set()
    for notebook in (root / "source").glob("*/*.ipynb"):
        shown.update(word.split(".")[-1] for word in notebook.read_text().replace("(", " ").split()
                     if word.endswith("_explorer"))
    assert shown == {name.split()[1] for name in EXPLORERS}


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_explorer_redraws_for_every_control(name):
    build, moves = EXPLORERS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        box = build()
        image, summary = box.children[1], box.children[2]
        found = {control.description: control for control in controls(box)}
        assert set(moves) <= set(found) | {"alpha"}, f"controls named in the test but not in {name}: {found}"
        assert set(found) <= set(moves) | {"parameter"}, f"{name} has controls the test does not move: {found}"
        for description, values in moves.items():
            for value in values:
                control = next(c for c in controls(box) if c.description == description)
                assert not control.disabled, f"{name}: '{description}' is disabled when the test moves it"
                before = (bytes(image.value), summary.value)
                control.value = value
                assert bytes(image.value).startswith(b"\x89PNG")
                assert (bytes(image.value), summary.value) != before, \
                    f"{name}: moving '{description}' to {value!r} redrew nothing"
    widget_warnings = [str(w.message) for w in caught if "unrecognized arguments" in str(w.message)]
    assert not widget_warnings, widget_warnings  # a keyword this ipywidgets does not know is silently lost


def test_tooltips_use_the_installed_ipywidgets_keyword():
    box = widgets.gradient_explorer(X, Y)
    scale = next(c for c in controls(box) if c.description == "weight scale")
    keyword = "tooltip" if int(ipywidgets.__version__.split(".")[0]) >= 8 else "description_tooltip"
    assert getattr(scale, keyword) == "multiplies the initializer's standard deviation"
