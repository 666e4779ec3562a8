"""Activation functions seen through the framework: curves, a fast training loop, depth profiles.

The values and derivatives here come from Keras' own activations and ``tf.GradientTape``
(the oracle the notebooks' tests also use).  ``activation_explorer`` at the bottom is the
notebook's widget; everything above it is plain and shared by the notebook, the widget and
the tests.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course.diagnostics import scaled_initializer
from course.lockout import exercise_helper
from course.plots import plot_layer_profiles
from course.tables import ACTIVATIONS, INITIALIZERS, PARAMETERS
from course.widgets import figure_png

T = TypeVar("T")  # what a measurement returns


def keras_activation(name: str, param: float | None = None) -> Callable:
    """Keras' activation ``name``; ``param`` sets LeakyReLU's negative slope or ELU's alpha."""
    function = keras.activations.get(name)
    if param is None or name not in PARAMETERS:
        return function
    keyword = {"leaky_relu": "negative_slope", "elu": "alpha"}[name]
    wrapped = functools.partial(function, **{keyword: float(param)})
    wrapped.__name__ = name  # Dense layers and the checks read the activation's name
    return wrapped


@exercise_helper  # notebook 03's exercise 1 (activation_and_derivative) refuses it
def curve(name: str, z, param: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Values and derivatives of Keras' activation at ``z`` (float64), the derivative from the tape."""
    z = tf.constant(np.asarray(z, dtype=np.float64))
    function = keras_activation(name, param)
    with tf.GradientTape() as tape:
        tape.watch(z)
        values = function(z)
    derivatives = tape.gradient(values, z)
    return values.numpy(), derivatives.numpy()


def _full_batch_step(model: keras.Model, X, y, *, learning_rate: float, optimizer: str) -> Callable[[], tf.Tensor]:
    """One gradient step on the whole of (X, y) (mean sparse categorical cross-entropy), as a plain function.

    A fresh optimizer of Keras' kind ``optimizer`` is built for the model; each call takes one step and
    returns the loss before it.  Not compiled: the callers wrap it in ``tf.function``.
    """
    optimizer = type(keras.optimizers.get(optimizer))(learning_rate=learning_rate)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    X = tf.constant(np.asarray(X, dtype=np.float32))
    y = tf.constant(np.asarray(y))

    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


@contextlib.contextmanager
def _retracing_expected() -> Iterator[None]:
    """Each new model traces a new compiled step: TensorFlow's warning about retracing is expected here."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def train_full_batch(model: keras.Model, X, y, *, learning_rate: float, steps: int,
                     optimizer: str = "adam") -> float:
    """Train on the whole of (X, y) for ``steps`` gradient steps; returns the last loss.

    Does what ``model.fit(X, y, batch_size=len(X), epochs=steps)`` does, but runs all the
    steps inside one compiled TensorFlow loop: ``fit`` spends more time on the bookkeeping
    of each epoch than these small networks spend learning.  The loss is the mean sparse
    categorical cross-entropy.
    """
    step = _full_batch_step(model, X, y, learning_rate=learning_rate, optimizer=optimizer)

    @tf.function
    def run():
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            loss = step()
        return loss

    with _retracing_expected():
        return float(run())


def loss_curve(model: keras.Model, X, y, *, learning_rate: float, steps: int, optimizer: str = "adam") -> np.ndarray:
    """The loss before each of ``steps`` full-batch steps, then after the last one: ``steps + 1`` numbers.

    The steps are those of :func:`train_full_batch`, in one compiled loop that also keeps each step's loss.
    """
    step = _full_batch_step(model, X, y, learning_rate=learning_rate, optimizer=optimizer)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    X = tf.constant(np.asarray(X, dtype=np.float32))

    @tf.function
    def run():
        losses = tf.TensorArray(tf.float32, size=steps + 1)
        for index in tf.range(steps):
            losses = losses.write(index, step())
        return losses.write(steps, loss_fn(y, model(X, training=True))).stack()

    with _retracing_expected():
        return run().numpy().astype(float)


def measure_while_training(model: keras.Model, X, y, *, measure: Callable[[keras.Model], T], learning_rate: float,
                           steps: int, optimizer: str = "adam") -> list[T]:
    """``measure(model)`` before training, then after each of ``steps`` full-batch steps: ``steps + 1`` results.

    The steps are those of :func:`train_full_batch` (the same optimizer, loss and updates), compiled one
    at a time so that the model can be measured between two of them.
    """
    step = tf.function(_full_batch_step(model, X, y, learning_rate=learning_rate, optimizer=optimizer))
    results = [measure(model)]
    with _retracing_expected():
        for _ in range(steps):
            step()
            results.append(measure(model))
    return results


def depth_profile(X, *, depth: int, activation: str, initializer: str, param: float | None = None,
                  width: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each layer's outputs on X, through a fresh deep stack.

    The stack is ``depth`` dense layers of ``width`` units (zero biases, kernels drawn from
    Keras' ``initializer`` with seeds ``seed``, ``seed + 1``, ...), applied as matrix products:
    a forward pass only, without building Keras layers.  Layer 1 is next to the input.
    """
    function = keras_activation(activation, param)
    means, stds, h = [], [], tf.constant(np.asarray(X, dtype=np.float32))
    for index in range(depth):
        kernel = scaled_initializer(initializer, 1.0, seed=seed + index)((h.shape[1], width))
        h = tf.convert_to_tensor(function(tf.matmul(h, kernel)))
        means.append(float(tf.reduce_mean(h)))
        stds.append(float(tf.math.reduce_std(h)))
    return np.array(means), np.array(stds)


def plot_depth_profiles(profiles: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
                        axes: Sequence[plt.Axes] | None = None) -> Sequence[plt.Axes]:
    """Per-layer mean and standard deviation of several depth profiles, with SELU's fixed point (0, 1) dashed."""
    axes = plot_layer_profiles(profiles, axes=axes)
    axes[0].axhline(0.0, color="grey", lw=0.8, ls="--")
    axes[1].axhline(1.0, color="grey", lw=0.8, ls="--")
    return axes


def plot_curve(name: str, param: float | None = None, *, ax: plt.Axes | None = None,
               z_range: tuple[float, float] = (-5.0, 5.0)) -> plt.Axes:
    """The activation and its derivative (from the tape) on ``z_range``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    z = np.linspace(*z_range, 501)
    values, derivatives = curve(name, z, param)
    ax.plot(z, values, label=f"{name}(z)")
    ax.plot(z, derivatives, label="derivative", ls="--")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("z")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def describe_depth_profile(means, stds) -> str:
    """One line summarising a depth profile (used under the explorer's plot)."""
    means, stds = np.asarray(means, dtype=float), np.asarray(stds, dtype=float)
    if not np.all(np.isfinite(stds)):
        return "some standard deviations are inf or NaN"
    return (f"last layer: mean {means[-1]:.3g}, std {stds[-1]:.3g}   "
            f"(std over the layers: smallest {stds.min():.3g}, largest {stds.max():.3g})")


def activation_explorer(X, *, seed: int = 0, width: int = 100) -> widgets.VBox:
    """Activation, its parameter, initializer and depth in; the curve and a depth profile out.

    Left: the activation and its derivative.  Right: the mean and standard deviation of
    each layer's outputs when X goes through a fresh stack of ``width``-unit layers
    (a forward pass only, well under a second).  Returns the widget box: make it the last
    expression of a cell to show it.
    """
    activation = widgets.Dropdown(options=ACTIVATIONS, value="selu", description="activation")
    param = widgets.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.05, description="parameter",
                                continuous_update=False, disabled=True)
    initializer = widgets.Dropdown(options=INITIALIZERS, value="lecun_normal", description="initializer")
    depth = widgets.IntSlider(value=30, min=1, max=60, description="depth", continuous_update=False)
    summary = widgets.Label()
    image = widgets.Image(format="png")
    fig, (ax_curve, ax_mean, ax_std) = plt.subplots(1, 3, figsize=(13, 3.5))
    plt.close(fig)  # shown through the Image widget only, redrawn in place

    quiet = []  # non-empty while the controls are being reset: no redraw for each change

    def sync_parameter() -> None:
        spec = PARAMETERS.get(activation.value)
        param.disabled = spec is None
        label, default, low, high = spec or ("parameter", param.value, param.min, param.max)
        quiet.append(True)
        param.max, param.min = max(high, param.min), low  # never min > max on the way
        param.max, param.value, param.description = high, default, label
        quiet.pop()

    def redraw(_change=None) -> None:
        if quiet:
            return
        value = None if param.disabled else param.value
        for ax in (ax_curve, ax_mean, ax_std):
            ax.clear()
        plot_curve(activation.value, value, ax=ax_curve)
        means, stds = depth_profile(X, depth=depth.value, activation=activation.value,
                                    initializer=initializer.value, param=value, width=width, seed=seed)
        label = activation.value + ("" if value is None else f" ({param.description} {value:.2g})")
        plot_depth_profiles({f"{label}, {initializer.value}": (means, stds)}, axes=(ax_mean, ax_std))
        summary.value = describe_depth_profile(means, stds)
        fig.tight_layout()  # three panels side by side: keep each axis label off its neighbour
        image.value = figure_png(fig)

    def on_activation(_change) -> None:
        sync_parameter()
        redraw()

    activation.observe(on_activation, names="value")
    for control in (param, initializer, depth):
        control.observe(redraw, names="value")
    sync_parameter()
    redraw()
    controls = widgets.HBox([widgets.VBox([activation, param]), widgets.VBox([initializer, depth])])
    box = widgets.VBox([controls, image, summary])
    box.figure = fig  # for tests and for saving
    return box
