"""Weight initialization (notebook 02): the forward-signal experiment, the deep ReLU test, the explorer.

The experiments draw their weights from Keras' own initializers (the formulas are the
notebook's exercises, so they are not written out here).  The forward pass is plain NumPy
in float64, so that a signal can grow or shrink by a factor of 1e50 and still be plotted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from threadpoolctl import threadpool_limits

from course.activations import curve, keras_activation
from course.diagnostics import scaled_initializer
from course.tables import ACTIVATIONS, LINEAR

TOO_SMALL, TOO_LARGE = "too small: N(0, 0.01²)", "too large: N(0, 1)"
INITIAL_WEIGHTS = (TOO_SMALL, TOO_LARGE, "lecun_normal", "glorot_normal", "he_normal")


class StackedVarianceScaling(keras.initializers.VarianceScaling):
    """A ``VarianceScaling`` whose fans are those of the last two axes of the shape it draws.

    Called with a shape ``(depth, n_in, n_out)`` it draws ``depth`` matrices, each with the variance of one
    ``(n_in, n_out)`` Dense kernel.  Keras counts the leading axes as a convolution window that multiplies
    both fans, so the scale is multiplied by the same number: the same numbers on every Keras 3 version
    (the ``input_axes``/``output_axes`` arguments only exist from Keras 3.15 on).
    """

    def __call__(self, shape, dtype=None):
        stack = math.prod(shape[:-2]) if len(shape) > 2 else 1
        flat = keras.initializers.VarianceScaling(scale=self.scale * stack, mode=self.mode,
                                                  distribution=self.distribution, seed=self.seed)
        return flat(shape, dtype=dtype)


def weight_initializer(name: str, gain: float = 1.0, seed: int | None = None):
    """A Keras initializer for one of ``INITIAL_WEIGHTS`` (or a Keras name), std multiplied by ``gain``.

    Its fans are those of the last two axes, so that one call can draw a stack of ``depth``
    weight matrices of shape ``(depth, n_in, n_out)``, each initialised as one Dense kernel.
    """
    if name == TOO_SMALL:
        return keras.initializers.RandomNormal(stddev=0.01 * gain, seed=seed)
    if name == TOO_LARGE:
        return keras.initializers.RandomNormal(stddev=1.0 * gain, seed=seed)
    base = keras.initializers.get(name)
    if isinstance(base, keras.initializers.VarianceScaling):
        return StackedVarianceScaling(scale=base.scale * gain**2, mode=base.mode, distribution=base.distribution,
                                      seed=seed)
    return scaled_initializer(name, gain, seed=seed)


def _forward(activation: str, initializer: str, *, depth: int, width: int, gain: float, n_samples: int,
             seed: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """The experiment both profiles share: the stack's weights, each layer's pre-activations and outputs (float64).

    A N(0, 1) batch of ``n_samples`` goes through ``depth`` square layers ``activation(h @ W_l)`` (no bias,
    Keras' activation), the ``(width, width)`` matrices drawn by ``weight_initializer(initializer, gain, seed)``.
    """
    if activation not in (LINEAR, *ACTIVATIONS):
        raise ValueError(f"activation must be one of {[LINEAR, *ACTIVATIONS]}, got {activation!r}")
    function = keras_activation(activation)
    init = weight_initializer(initializer, gain, seed=seed)
    weights = keras.ops.convert_to_numpy(init((depth, width, width))).astype(np.float64)
    h = np.random.default_rng(seed).standard_normal((n_samples, width))
    pre_activations, outputs = [], []
    # One BLAS thread: for matrices this small, more threads wait on each other (several times slower).
    with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(limits=1, user_api="blas"):
        for W in weights:
            pre_activations.append(h @ W)
            h = keras.ops.convert_to_numpy(function(tf.constant(pre_activations[-1])))
            outputs.append(h)
    return weights, pre_activations, outputs


def activation_std_profile(
    activation: str,
    initializer: str,
    *,
    depth: int = 50,
    width: int = 256,
    gain: float = 1.0,
    n_samples: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """Standard deviation of each layer's output when a N(0, 1) batch goes through ``depth`` square layers.

    Layer ``l`` computes ``activation(h @ W_l)`` (no bias, Keras' activation in float64), with the ``depth``
    matrices ``W_l`` of shape ``(width, width)`` drawn by ``weight_initializer(initializer, gain, seed)``.
    Returns ``depth`` numbers, input side first.
    """
    _, _, outputs = _forward(activation, initializer, depth=depth, width=width, gain=gain, n_samples=n_samples,
                             seed=seed)
    with np.errstate(over="ignore", invalid="ignore"):  # a signal that overflowed has an inf or NaN std
        return np.array([float(np.std(h)) for h in outputs])


class BackwardProfile(NamedTuple):
    """What back-propagation does to a gradient in each layer of a stack (layer 1 next to the input)."""

    gradient_stds: np.ndarray  # std of the gradient with respect to each layer's output
    weight_factors: np.ndarray  # n_out * Var(w) of each layer's drawn weights
    derivative_moments: np.ndarray  # E[f'(z)^2] of each layer, over the batch and the units

    @property
    def factors(self) -> np.ndarray:
        """The variance argument's factor of each layer on the way back: n_out * Var(w) * E[f'(z)^2]."""
        return self.weight_factors * self.derivative_moments


def gradient_std_profile(
    activation: str,
    initializer: str,
    *,
    depth: int = 50,
    width: int = 256,
    gain: float = 1.0,
    n_samples: int = 100,
    seed: int = 0,
) -> BackwardProfile:
    """Back-propagate a N(0, 1) gradient from the last layer of :func:`activation_std_profile`'s stack.

    The same weights and batch as ``activation_std_profile`` with the same arguments; the derivatives
    ``f'(z)`` come from ``tf.GradientTape`` (float64).  The gradient with respect to layer ``depth``'s
    output is drawn from N(0, 1); each layer below receives ``(g * f'(z)) @ W.T``.
    """
    weights, pre_activations, _ = _forward(activation, initializer, depth=depth, width=width, gain=gain,
                                           n_samples=n_samples, seed=seed)
    derivatives = [curve(activation, z)[1] for z in pre_activations]
    g = np.random.default_rng(seed + 1).standard_normal((n_samples, width))
    stds = []
    with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(limits=1, user_api="blas"):
        for W, derivative in zip(weights[::-1], derivatives[::-1], strict=True):
            stds.append(float(np.std(g)))
            g = (g * derivative) @ W.T
    return BackwardProfile(
        gradient_stds=np.array(stds[::-1]),
        weight_factors=np.array([W.shape[1] * W.var() for W in weights]),
        derivative_moments=np.array([np.mean(derivative**2) for derivative in derivatives]),
    )


def describe_std_profile(stds) -> str:
    """One line about a per-layer std profile: first and last layer, and the average factor per layer."""
    stds = np.asarray(stds, dtype=float)
    first, last = stds[0], stds[-1]
    if not np.all(np.isfinite(stds)):
        return f"layer 1 std = {first:.3g}; the signal overflows (inf or NaN) by layer {len(stds)}"
    if len(stds) == 1:
        return f"layer 1 std = {first:.3g}"
    if first == 0 or last == 0:
        return f"layer 1 std = {first:.3g}, layer {len(stds)} std = {last:.3g}: the signal died out"
    factor = (last / first) ** (1 / (len(stds) - 1))
    return (f"layer 1 std = {first:.3g}, layer {len(stds)} std = {last:.3g}: "
            f"x{factor:.3f} per layer on average")


def plot_activation_stds(
    profiles: Mapping[str, Sequence[float]],
    *,
    ax: plt.Axes | None = None,
    title: str = "Standard deviation of each layer's output",
    ylabel: str = "std of the layer's output (log)",
) -> plt.Axes:
    """One line per profile: std of each layer's output (layer 1 next to the input), log scale."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, stds in profiles.items():
        stds = np.asarray(stds, dtype=float)
        shown = np.where(np.isfinite(stds) & (stds > 0), stds, np.nan)
        ax.plot(np.arange(1, len(stds) + 1), shown, label=label)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def shuffled_batches(X, y, *, batch_size: int = 32, seed: int = 0) -> tf.data.Dataset:
    """(X, y) as a tf.data pipeline: reshuffled every epoch (repeatably, from ``seed``), in mini-batches."""
    data = tf.data.Dataset.from_tensor_slices((X, y)).cache()
    return data.shuffle(len(X), seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def fit_shuffled(model: keras.Model, X, y, *, epochs: int, seed: int, batch_size: int = 32,
                 verbose: int = 0) -> keras.callbacks.History:
    """``model.fit`` for ``epochs`` epochs on :func:`shuffled_batches` of (X, y); returns the History.

    The same training as ``model.fit(X, y, batch_size=32, epochs=epochs)`` (in another shuffling
    order), at a third of the cost per epoch on a data set as small as iris.
    """
    batches = shuffled_batches(X, y, batch_size=batch_size, seed=seed)
    # shuffle=False: the batches are shuffled already (Keras warns if told to shuffle a Dataset)
    return model.fit(batches, epochs=epochs, shuffle=False, verbose=verbose)


Params = list[tuple[np.ndarray, np.ndarray]]  # (kernel, bias) per Dense layer, input side first


def deep_relu_init(n_features: int, n_classes: int, *, initializer: str, depth: int = 30, width: int = 64,
                   seed: int = 0) -> Params:
    """Initial (kernel, bias) pairs of a plain MLP: ``depth`` hidden layers of ``width``, then the output.

    Kernels are drawn by Keras' initializer ``initializer`` (layer ``l`` with seed ``seed + l``), biases
    are 0, as in :func:`course.diagnostics.probe_network`; float32 NumPy arrays.
    """
    sizes = [n_features] + [width] * depth + [n_classes]
    params = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        kernel = scaled_initializer(initializer, 1.0, seed=seed + index)((n_in, n_out))
        params.append((keras.ops.convert_to_numpy(kernel).astype(np.float32), np.zeros(n_out, np.float32)))
    return params


def deep_relu_forward(params: Params, X) -> list[np.ndarray]:
    """The input, each hidden layer's ReLU output, then the logits (before the softmax)."""
    outputs = [np.asarray(X, dtype=np.float32)]
    for kernel, bias in params[:-1]:
        outputs.append(np.maximum(outputs[-1] @ kernel + bias, 0.0))
    kernel, bias = params[-1]
    outputs.append(outputs[-1] @ kernel + bias)
    return outputs


def deep_relu_step(params: Params, velocities: Params, X_batch, y_batch, *, learning_rate: float,
                   momentum: float) -> tuple[float, int]:
    """One SGD + momentum step on the mean cross-entropy of a batch, in place; returns (summed loss, correct).

    The same update as ``keras.optimizers.SGD(learning_rate, momentum)``: ``v = momentum * v -
    learning_rate * gradient``, then ``w = w + v``.  Loss and accuracy are those of the batch before the step.
    """
    outputs = deep_relu_forward(params, X_batch)
    logits = outputs[-1] - outputs[-1].max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rows = np.arange(len(y_batch))
    loss_sum = float(-log_p[rows, y_batch].sum())
    correct = int(np.sum(np.argmax(log_p, axis=1) == y_batch))
    # Back-propagation of the mean cross-entropy: dL/dlogits = (softmax - one_hot) / batch size.
    delta = np.exp(log_p)
    delta[rows, y_batch] -= 1.0
    delta /= len(y_batch)
    for index in reversed(range(len(params))):
        kernel, bias = params[index]
        grad_kernel, grad_bias = outputs[index].T @ delta, delta.sum(axis=0)
        if index > 0:  # through this kernel, then through the ReLU below it
            delta = (delta @ kernel.T) * (outputs[index] > 0)
        for weight, velocity, grad in ((kernel, velocities[index][0], grad_kernel),
                                       (bias, velocities[index][1], grad_bias)):
            velocity *= momentum
            velocity -= learning_rate * grad
            weight += velocity
    return loss_sum, correct


def train_deep_relu(
    X,
    y,
    *,
    initializer: str,
    depth: int = 30,
    width: int = 64,
    epochs: int = 10,
    learning_rate: float = 0.005,
    momentum: float = 0.9,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train a plain ReLU MLP with softmax cross-entropy and mini-batch SGD + momentum, in NumPy.

    The setting of He et al. (2015), section 2.2, at CPU scale: only ``initializer`` differs between
    runs.  Back-propagation is written out (:func:`deep_relu_step`, no graph to build), so a run takes
    about a second.  Returns a ``History.history``-like dict: training ``loss`` and ``accuracy`` per
    epoch, over the epoch's examples as Keras reports them.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    n_classes = int(np.max(y)) + 1
    # Layer l gets the initializer seed 1000 * seed + l: runs with different seeds share no weights.
    params = deep_relu_init(X.shape[1], n_classes, initializer=initializer, depth=depth, width=width,
                            seed=1000 * seed)
    velocities = [(np.zeros_like(kernel), np.zeros_like(bias)) for kernel, bias in params]
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    with threadpool_limits(limits=1, user_api="blas"):  # small matrices: one BLAS thread is fastest
        for _ in range(epochs):
            total_loss, correct = 0.0, 0
            order = rng.permutation(len(X))
            for start in range(0, len(X), batch_size):
                batch = order[start:start + batch_size]
                loss_sum, batch_correct = deep_relu_step(params, velocities, X[batch], y[batch],
                                                         learning_rate=learning_rate, momentum=momentum)
                total_loss += loss_sum
                correct += batch_correct
            history["loss"].append(total_loss / len(X))
            history["accuracy"].append(correct / len(X))
    return history


def activation_std_explorer(*, seed: int = 0):
    """Activation, initial weights, scale multiplier and depth in; per-layer activation std out.

    Each change draws fresh weights and pushes one batch through with :func:`activation_std_profile`
    (a fraction of a second).  Returns the widget box: make it the last expression of a cell to show it.
    """
    import ipywidgets as widgets

    from course.widgets import image_explorer, tooltip

    activation = widgets.Dropdown(options=(LINEAR, *ACTIVATIONS), value="relu", description="activation")
    initializer = widgets.Dropdown(options=INITIAL_WEIGHTS, value="glorot_normal", description="weights")
    gain = widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.05, description="scale ×",
                                  continuous_update=False,
                                  **tooltip("multiplies the initial weights' standard deviation"))
    depth = widgets.IntSlider(value=50, min=1, max=100, description="depth", continuous_update=False)

    def draw(ax) -> str:
        stds = activation_std_profile(activation.value, initializer.value, depth=depth.value,
                                      gain=gain.value, seed=seed)
        plot_activation_stds({f"{activation.value}, {initializer.value} ×{gain.value:.2g}": stds}, ax=ax)
        return describe_std_profile(stds)

    layout = widgets.HBox([widgets.VBox([activation, initializer]), widgets.VBox([gain, depth])])
    return image_explorer([activation, initializer, gain, depth], layout, draw)
