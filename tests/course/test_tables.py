"""The one table of activations and initializers (course.tables): what it holds, and that it is the only one."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pytest

import course
from course import activations, initialization, tables, widgets

COURSE = Path(course.__file__).parent


@pytest.mark.parametrize("name", [*tables.ACTIVATIONS, tables.LINEAR])
def test_every_activation_is_a_keras_activation(name):
    assert keras.activations.get(name).__name__ == name


def test_the_parameters_defaults_are_keras_defaults():
    defaults = {"leaky_relu": ("negative_slope", keras.activations.leaky_relu),
                "elu": ("alpha", keras.activations.elu)}
    assert set(tables.PARAMETERS) == set(defaults) <= set(tables.ACTIVATIONS)
    for name, (keyword, function) in defaults.items():
        assert tables.PARAMETERS[name][1] == inspect.signature(function).parameters[keyword].default


@pytest.mark.parametrize("name", tables.INITIALIZERS)
def test_every_initializer_is_a_variance_scaling(name):
    assert isinstance(keras.initializers.get(name), keras.initializers.VarianceScaling)


def test_the_tables_are_defined_in_one_module_only():
    """No other module of course/ assigns ACTIVATIONS, INITIALIZERS or PARAMETERS: they import them."""
    names = {"ACTIVATIONS", "INITIALIZERS", "PARAMETERS"}
    defined = []
    for path in sorted(COURSE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            defined += [(path.name, target.id) for target in targets
                        if isinstance(target, ast.Name) and target.id in names]
    assert sorted(defined) == sorted(("tables.py", name) for name in names)


def _dropdown(box, description: str):
    """The control called ``description`` in an explorer's box."""
    stack = [box]
    while stack:
        widget = stack.pop()
        if getattr(widget, "description", None) == description and hasattr(widget, "options"):
            return widget
        stack += list(getattr(widget, "children", ()))
    raise AssertionError(f"no control called {description!r}")


def test_the_explorers_offer_every_activation_of_the_table():
    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)).astype("float32"), np.arange(30) % 3
    explorers = {"01": widgets.gradient_explorer(X, y), "02": initialization.activation_std_explorer(),
                 "03": activations.activation_explorer(X, width=8)}
    for notebook, box in explorers.items():
        offered = set(_dropdown(box, "activation").options)
        missing = set(tables.ACTIVATIONS) - offered
        assert not missing, f"notebook {notebook}'s explorer does not offer {sorted(missing)}"
