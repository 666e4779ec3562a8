"""The instruments of the course: what the gradients and activations of a network do.

Every function here is plain (no plotting, no widgets) so that tests, widgets and
notebooks share one implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from course.lockout import exercise_helper


def _loss_value(model: keras.Model, X, y, loss: keras.losses.Loss | None):
    loss = loss or keras.losses.SparseCategoricalCrossentropy()
    return loss(y, model(X, training=True))


@exercise_helper  # notebook 01's exercise 1 (kernel_gradient_norms) refuses it
def gradient_norms(
    model: keras.Model, X, y, loss: keras.losses.Loss | None = None
) -> dict[str, float]:
    """L2 norm of the loss gradient for every trainable variable, keyed by ``var.path``.

    The loss defaults to the mean sparse categorical cross-entropy over the batch.
    Variables come in the model's order (input side first).
    """
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        value = _loss_value(model, X, y, loss)
    grads = tape.gradient(value, variables)
    return {
        var.path: float("nan") if grad is None else float(tf.norm(grad))
        for var, grad in zip(variables, grads, strict=True)
    }


def kernel_norms(norms: dict[str, float]) -> np.ndarray:
    """Keep the kernels (weight matrices) of a :func:`gradient_norms` result, in order."""
    return np.array([value for path, value in norms.items() if path.endswith("/kernel")])


def first_last_ratio(norms) -> float:
    """Ratio of the input-side norm to the output-side norm (inf when the last is 0)."""
    norms = np.asarray(norms, dtype=float)
    if norms[-1] == 0:
        return float("inf") if norms[0] > 0 else float("nan")
    return float(norms[0] / norms[-1])


def scaled_initializer(name: str, gain: float = 1.0, seed: int | None = None):
    """A Keras initializer ``name`` whose standard deviation is multiplied by ``gain``.

    Glorot, He and LeCun are all ``VarianceScaling``: their variance ``scale`` is
    multiplied by ``gain**2``.  ``random_normal``/``truncated_normal`` scale their
    ``stddev`` and ``random_uniform`` its limits.
    """
    base = keras.initializers.get(name)
    if isinstance(base, keras.initializers.VarianceScaling):
        return keras.initializers.VarianceScaling(
            scale=base.scale * gain**2, mode=base.mode, distribution=base.distribution, seed=seed
        )
    config = base.get_config()
    if "stddev" in config:
        return type(base)(mean=config.get("mean", 0.0), stddev=config["stddev"] * gain, seed=seed)
    if "maxval" in config:
        return type(base)(minval=config["minval"] * gain, maxval=config["maxval"] * gain, seed=seed)
    raise ValueError(f"cannot scale the initializer {name!r}; use a VarianceScaling or random one")


def probe_network(
    n_features: int,
    n_classes: int,
    *,
    depth: int,
    activation: str,
    initializer: str = "glorot_uniform",
    gain: float = 1.0,
    width: int = 64,
    seed: int = 0,
) -> keras.Model:
    """An uncompiled plain MLP of ``depth`` hidden layers for the explorers and experiments."""
    layers = [keras.Input(shape=(n_features,))]
    for index in range(depth):
        init = scaled_initializer(initializer, gain, seed=seed + index)
        layers.append(keras.layers.Dense(width, activation=activation, kernel_initializer=init))
    output_init = scaled_initializer(initializer, gain, seed=seed + depth)
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=output_init))
    return keras.Sequential(layers)


def gradient_profile(
    X,
    y,
    *,
    depth: int,
    activation: str,
    initializer: str = "glorot_uniform",
    gain: float = 1.0,
    width: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """Kernel-gradient norms (input to output) of a freshly initialised probe network on (X, y)."""
    n_classes = int(np.max(y)) + 1
    model = probe_network(X.shape[1], n_classes, depth=depth, activation=activation,
                          initializer=initializer, gain=gain, width=width, seed=seed)
    return kernel_norms(gradient_norms(model, X, y))


def kernel_snapshot(model: keras.Model) -> dict[str, np.ndarray]:
    """A copy of every trainable kernel (weight matrix) of ``model``, keyed by ``var.path``, input side first.

    Take one before and one after training and give both to :func:`update_ratios`.
    """
    return {var.path: np.array(var.numpy(), dtype=float)  # float64: a copy, exact differences
            for var in model.trainable_variables if var.path.endswith("/kernel")}


def update_ratios(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The update-to-data ratio of every weight of two snapshots: ``||after - before|| / ||before||`` (L2 norms).

    Over one training step it is Karpathy's "update:data ratio" (about 1e-3 per step is the usual healthy
    value; far below, the layer is not learning; far above, it is being thrown around); over a whole
    training run it is the relative change of each weight. Keys (``var.path``) and their order come from
    ``before``; a weight that was exactly 0 gives inf (nan if it is still 0). The snapshots come from
    :func:`kernel_snapshot` or any ``{name: array}`` mapping (the capstone's models included).
    """
    missing = [name for name in before if name not in after]
    if missing:
        raise KeyError(f"the second snapshot has no {', '.join(missing)}: take both snapshots of the same model")
    ratios = {}
    for name, start in before.items():
        start, end = np.asarray(start, dtype=float), np.asarray(after[name], dtype=float)
        if start.shape != end.shape:
            raise ValueError(f"{name} has shape {start.shape} before and {end.shape} after")
        change, size = float(np.linalg.norm(end - start)), float(np.linalg.norm(start))
        ratios[name] = change / size if size > 0 else (float("inf") if change > 0 else float("nan"))
    return ratios


class UpdateRatioLog(keras.callbacks.Callback):
    """A Keras callback that records every kernel's update-to-data ratio during ``fit``, input side first.

    ``every="batch"``: one ratio per training step (Karpathy's update:data ratio, about 1e-3 when healthy);
    ``every="epoch"``: the relative change over each epoch. ``ratios`` is an array of shape
    (number of steps or epochs recorded, number of kernels), ``paths`` names its columns, and
    ``change_since_start()`` gives each kernel's relative change over the whole ``fit``. Works with any
    compiled Keras model: ``model.fit(X, y, callbacks=[log := UpdateRatioLog()])`` (the capstone's too).
    Each ``fit`` starts a new record, as Keras' ``History`` does.
    """

    def __init__(self, every: Literal["batch", "epoch"] = "epoch") -> None:
        super().__init__()
        if every not in ("batch", "epoch"):
            raise ValueError(f"every must be 'batch' or 'epoch', got {every!r}")
        self.every = every
        self.paths: list[str] = []
        self._rows: list[list[float]] = []
        self._start: dict[str, np.ndarray] = {}
        self._last: dict[str, np.ndarray] = {}

    @property
    def ratios(self) -> np.ndarray:
        """The recorded ratios, one row per step or epoch, one column per kernel (see ``paths``)."""
        return np.array(self._rows, dtype=float).reshape(len(self._rows), len(self.paths))

    def change_since_start(self) -> dict[str, float]:
        """Each kernel's relative change from the start of the last ``fit`` to now: ``||W - W_0|| / ||W_0||``."""
        if not self._start:
            raise RuntimeError("UpdateRatioLog has recorded nothing yet: pass it to fit(callbacks=[...]) first")
        return update_ratios(self._start, kernel_snapshot(self.model))

    def _record(self) -> None:
        now = kernel_snapshot(self.model)
        self._rows.append(list(update_ratios(self._last, now).values()))
        self._last = now

    def on_train_begin(self, logs=None) -> None:
        self._start = self._last = kernel_snapshot(self.model)
        self.paths, self._rows = list(self._last), []  # one fit's record, as Keras' History

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self.every == "batch":
            self._record()

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self.every == "epoch":
            self._record()


@dataclass(frozen=True)
class LayerStats:
    """Summary of one layer's outputs over a data set."""

    name: str
    mean: float
    std: float
    dead_fraction: float  # units whose output is exactly 0 on every example
    saturated_fraction: float  # outputs within 1e-3 of the activation's bounds (sigmoid/tanh)


def _computing_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def layer_outputs(model: keras.Model, X) -> list[tuple[str, np.ndarray]]:
    """(layer name, output on X) for each layer of a chain of layers, in inference mode.

    Sequential or Functional: a Functional model's InputLayer is not a layer that computes, so it is left out.
    """
    outputs, h = [], tf.convert_to_tensor(X)
    for layer in _computing_layers(model):
        h = layer(h, training=False)
        outputs.append((layer.name, keras.ops.convert_to_numpy(h)))
    return outputs


@exercise_helper  # notebook 03's exercise 2 (dead_unit_fraction) refuses it
def activation_stats(model: keras.Model, X) -> list[LayerStats]:
    """Mean, standard deviation, dead and saturated fractions of every layer's outputs, in inference mode.

    One ``LayerStats`` per layer of the model, in order: every layer counts, not only Dense ones
    (Flatten, BatchNormalization, Activation, Dropout ...) and the output layer is the last entry, so
    ``activation_stats(model, X)[:-1]`` leaves out the output layer. A layer is saturated only if it applies
    sigmoid or tanh itself (a Dense with that activation, or an ``Activation`` layer); dead means exactly 0
    on every example of ``X``. A Functional model's InputLayer has no entry (it computes nothing).
    """
    stats = []
    for layer, (name, out) in zip(_computing_layers(model), layer_outputs(model, X), strict=True):
        flat = out.reshape(len(out), -1)
        dead = float(np.mean(np.all(flat == 0, axis=0)))
        act = getattr(getattr(layer, "activation", None), "__name__", "")
        if act == "sigmoid":
            saturated = float(np.mean((flat < 1e-3) | (flat > 1 - 1e-3)))
        elif act == "tanh":
            saturated = float(np.mean(np.abs(flat) > 1 - 1e-3))
        else:
            saturated = 0.0
        stats.append(LayerStats(name, float(flat.mean()), float(flat.std()), dead, saturated))
    return stats
