"""Batch Normalization (notebook 04): a fast training loop, the with/without-BN experiments, the explorer.

The experiments train Keras models (their ``BatchNormalization`` layers are Keras' own); only the loop
around them is ours, because ``model.fit`` spends more time tracing and bookkeeping than these small
networks spend learning.  ``moving_statistics_trace`` simulates one feature of a BN layer in NumPy for
the explorer; the tests check it against ``keras.layers.BatchNormalization`` step by step.  Nothing
here is an exercise solution: the notebook's exercises write the NumPy forward pass and the original
model's builder themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course.checks import ACTIVATION_LAYERS, activation_spec
from course.plots import plot_layer_profiles
from course.training import TrainingLoop, epoch_batches

History = dict[str, list[float]]


# --- the networks of the experiments ---------------------------------------------------------------

def deep_network(
    *,
    depth: int = 8,
    units: int = 50,
    activation: str = "sigmoid",
    initializer: str = "glorot_uniform",
    batch_norm: bool = False,
    momentum: float = 0.99,
    covariate_shift: bool = False,
    input_shape: tuple[int, ...] = (28, 28),
    n_classes: int = 10,
) -> keras.Sequential:
    """An uncompiled MLP: Flatten, ``depth`` hidden Dense layers, a softmax output.

    With ``batch_norm`` a ``BatchNormalization(momentum=momentum)`` layer follows every hidden Dense
    layer (after its activation, the placement of the notebook's original model); that is the only
    difference between the two versions of the experiment.  With ``covariate_shift`` too, a
    :class:`CovariateShift` layer follows every BN layer (Santurkar et al.'s "noisy BN").
    """
    if covariate_shift and not batch_norm:
        raise ValueError("covariate_shift follows each BN layer: it needs batch_norm=True")
    layers: list = [keras.Input(shape=input_shape), keras.layers.Flatten()]
    for _ in range(depth):
        layers.append(keras.layers.Dense(units, activation=activation, kernel_initializer=initializer))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=momentum))
        if covariate_shift:
            layers.append(CovariateShift())
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


class CovariateShift(keras.layers.Layer):
    """In training, a new random scale and offset for every feature at every call; in inference, nothing.

    Each feature is multiplied by ``exp(u)`` with ``u`` uniform in ``[-ln(max_scale), ln(max_scale)]``
    (a factor between ``1/max_scale`` and ``max_scale``) and shifted by an offset uniform in
    ``[-max_shift, max_shift]``, the same for every example of the batch.  Put after a BN layer, it gives the
    next layer inputs whose distribution changes at every step, far more than training changes it:
    Santurkar et al. (2018)'s injected covariate shift.
    """

    def __init__(self, max_scale: float = 2.0, max_shift: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if max_scale < 1.0 or max_shift < 0.0:
            raise ValueError(f"max_scale must be at least 1 and max_shift at least 0, got {max_scale}, {max_shift}")
        self.max_scale, self.max_shift = float(max_scale), float(max_shift)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training: bool = False):
        if not training:
            return inputs
        n_features = keras.ops.shape(inputs)[-1]
        log_scale = float(np.log(self.max_scale))
        scale = keras.ops.exp(keras.random.uniform((n_features,), -log_scale, log_scale, seed=self.seed_generator))
        shift = keras.random.uniform((n_features,), -self.max_shift, self.max_shift, seed=self.seed_generator)
        return inputs * scale + shift

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "max_scale": self.max_scale, "max_shift": self.max_shift}


def inference_accuracy(model: keras.Model, X, y) -> float:
    """Accuracy of ``model(X, training=False)``: what ``evaluate`` and ``predict`` use (moving statistics)."""
    probabilities = keras.ops.convert_to_numpy(model(np.asarray(X, dtype=np.float32), training=False))
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(y)))


def batch_statistics_accuracy(model: keras.Model, X, y) -> float:
    """Accuracy when every BN layer normalizes ``X`` with the statistics of ``X`` itself (training mode).

    The moving statistics are put back afterwards: a call with ``training=True`` updates them.
    """
    saved = [(v, keras.ops.convert_to_numpy(v)) for v in model.non_trainable_variables]
    probabilities = keras.ops.convert_to_numpy(model(np.asarray(X, dtype=np.float32), training=True))
    for variable, value in saved:
        variable.assign(value)
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(y)))


# --- training ----------------------------------------------------------------------------------------

class Trainer:
    """Mini-batch training of one Keras model, traced once and reusable for many seeds and learning rates.

    Each epoch is one call of a compiled TensorFlow loop (:class:`course.training.TrainingLoop`) over that
    epoch's mini-batches (the examples reshuffled every epoch, the last incomplete batch dropped), with the
    same updates as ``model.fit``: mean sparse categorical cross-entropy, the optimizer's step, BN layers in
    training mode.  Training ``loss`` and ``accuracy`` are averaged over the epoch's batches, as ``fit``
    reports them; ``val_accuracy`` is measured after each epoch in inference mode (moving statistics).
    """

    def __init__(self, model: keras.Model, optimizer: str | keras.optimizers.Optimizer = "adam", *,
                 learning_rate: float | None = None, batch_size: int = 32):
        self.model = model
        self.optimizer = keras.optimizers.get(optimizer)  # a name gives a fresh instance
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate
        self.batch_size = int(batch_size)
        self._loop = TrainingLoop(model, self.optimizer, loss=keras.losses.SparseCategoricalCrossentropy())

    def fit(self, X, y, *, epochs: int, seed: int = 0, validation: tuple | None = None) -> History:
        """Train for ``epochs`` epochs (shuffling from ``seed``); returns a ``History.history``-like dict."""
        batches = epoch_batches(len(X), batch_size=self.batch_size, epochs=epochs, seed=seed)
        history: History = {"loss": [], "accuracy": []}
        if validation is not None:
            history["val_accuracy"] = []
        for epoch in batches:
            steps = self._loop.run(X, y, epoch)
            history["loss"].append(float(np.mean(steps.loss)))
            history["accuracy"].append(float(np.mean(steps.accuracy)))
            if validation is not None:
                history["val_accuracy"].append(inference_accuracy(self.model, *validation))
        return history

    def reset(self, weights: Sequence[np.ndarray], learning_rate: float | None = None) -> None:
        """Start again from ``weights`` (those of ``model.get_weights()``) with a fresh optimizer state."""
        rate = float(self.optimizer.learning_rate) if learning_rate is None else learning_rate
        self._loop.reset(weights)
        self.optimizer.learning_rate = rate


def train(model: keras.Model, X, y, *, epochs: int, optimizer: str = "adam",
          learning_rate: float | None = None, batch_size: int = 32, seed: int = 0,
          validation: tuple | None = None) -> History:
    """Train ``model`` with mini-batches (see :class:`Trainer`); returns the per-epoch history."""
    trainer = Trainer(model, optimizer, learning_rate=learning_rate, batch_size=batch_size)
    return trainer.fit(X, y, epochs=epochs, seed=seed, validation=validation)


@dataclass(frozen=True)
class SweepRun:
    """One training run of a learning-rate sweep."""

    batch_norm: bool
    learning_rate: float
    seed: int
    loss: float  # training loss of the last epoch (nan if it diverged)
    accuracy: float  # training accuracy of the last epoch
    val_accuracy: float  # inference-mode accuracy on the validation set after training


def learning_rate_sweep(
    build: Callable[[bool], keras.Model],
    data,
    *,
    learning_rates: Sequence[float],
    seeds: Sequence[int],
    epochs: int = 5,
    optimizer: str = "sgd",
    batch_size: int = 32,
) -> list[SweepRun]:
    """Train ``build(batch_norm)`` for every (batch_norm, learning rate, seed); one trace per architecture.

    ``build(batch_norm)`` returns an uncompiled model (called once per seed under ``course.set_seed``
    to draw its initial weights).  ``data`` is a :class:`course.data.Dataset`.
    """
    from course.reproducibility import set_seed

    runs = []
    for batch_norm in (False, True):
        trainer = None
        for seed in seeds:
            set_seed(seed)
            fresh = build(batch_norm)
            if trainer is None:
                trainer = Trainer(fresh, optimizer, batch_size=batch_size)
            initial = fresh.get_weights()
            for rate in learning_rates:
                trainer.reset(initial, learning_rate=rate)
                history = trainer.fit(data.X_train, data.y_train, epochs=epochs, seed=seed,
                                      validation=(data.X_valid, data.y_valid))
                runs.append(SweepRun(batch_norm, float(rate), int(seed), history["loss"][-1],
                                     history["accuracy"][-1], history["val_accuracy"][-1]))
    return runs


# --- what the moving statistics know -----------------------------------------------------------------

@dataclass(frozen=True)
class MovingCheck:
    """How far one BN layer's moving statistics are from the statistics of its inputs on a data set."""

    name: str
    mean_error: float  # median over features of |moving_mean - mean| / std
    variance_ratio: float  # median over features of moving_variance / variance


def bn_inputs(model: keras.Sequential, X) -> list[tuple[keras.layers.BatchNormalization, np.ndarray]]:
    """Each BN layer of a Sequential model with its inputs on X, in training mode (all of X as one batch).

    The moving statistics are left as they were (a training-mode call would update them).
    """
    saved = [(v, keras.ops.convert_to_numpy(v)) for v in model.non_trainable_variables]
    found, h = [], tf.convert_to_tensor(np.asarray(X, dtype=np.float32))
    try:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                found.append((layer, keras.ops.convert_to_numpy(h)))
            h = layer(h, training=True)
    finally:
        for variable, value in saved:
            variable.assign(value)
    return found


def moving_statistics_report(model: keras.Sequential, X) -> list[MovingCheck]:
    """Compare every BN layer's moving mean and variance with the mean and variance of its inputs on X."""
    report = []
    for layer, inputs in bn_inputs(model, X):
        mean, variance = inputs.mean(axis=0), inputs.var(axis=0)
        moving_mean = keras.ops.convert_to_numpy(layer.moving_mean)
        moving_variance = keras.ops.convert_to_numpy(layer.moving_variance)
        varying = variance > 1e-6  # constant features (blank border pixels) have no ratio
        if not np.any(varying):
            report.append(MovingCheck(layer.name, float("nan"), float("nan")))
            continue
        std = np.sqrt(variance[varying])
        report.append(MovingCheck(
            layer.name,
            float(np.median(np.abs(moving_mean[varying] - mean[varying]) / std)),
            float(np.median(moving_variance[varying] / variance[varying])),
        ))
    return report


def recalibrate(model: keras.Sequential, X) -> None:
    """Set every BN layer's moving mean and variance to the (biased) statistics of its inputs on X.

    The inputs come from one training-mode pass over all of X (see :func:`bn_inputs`), so that
    inference afterwards normalizes exactly as that pass did.  No weight is trained.
    """
    for layer, inputs in bn_inputs(model, X):
        layer.moving_mean.assign(inputs.mean(axis=0))
        layer.moving_variance.assign(inputs.var(axis=0))


def layer_summary(model: keras.Model) -> list[str]:
    """One short string per layer, input to output: ``"Dense(50, elu)"``, ``"BatchNormalization"``, ...

    The one rule of :mod:`course.checks`: a Dense layer without activation followed by an activation layer
    (``Activation("elu")``, ``ELU()``, ``ReLU()``, ``LeakyReLU()``) reads like the Dense layer with that
    activation built in, so ``Dense(50)`` then ``ELU()`` gives ``"Dense(50, elu)"``, as
    ``Dense(50, activation="elu")`` does. An activation layer anywhere else (after a BN layer, say) reads
    ``"Activation(elu)"``, whichever of those classes it is. A Dense layer without bias shows ``no bias``.
    The input layer of a Functional model is left out, so Sequential and Functional models read the same.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    summary, position = [], 0
    while position < len(layers):
        layer = layers[position]
        following = layers[position + 1] if position + 1 < len(layers) else None
        if isinstance(layer, keras.layers.Dense):
            activation = activation_spec(layer)
            if activation == "linear" and isinstance(following, ACTIVATION_LAYERS):
                activation = activation_spec(following)
                position += 1  # the activation layer is part of this Dense layer's entry
            summary.append(f"Dense({layer.units}, {activation}{'' if layer.use_bias else ', no bias'})")
        elif isinstance(layer, ACTIVATION_LAYERS):
            summary.append(f"Activation({activation_spec(layer)})")
        else:
            summary.append(type(layer).__name__)
        position += 1
    return summary


def check_layer_summary(model: keras.Model, expected: Sequence[str], *, name: str, hint: str = "") -> None:
    """``layer_summary(model)`` is ``expected``; otherwise an AssertionError naming the first layer that differs."""
    found = layer_summary(model)
    if found == list(expected):
        return
    for index, (got, want) in enumerate(zip(found, expected, strict=False), start=1):
        if got != want:
            where = f"layer {index} is {got!r}, expected {want!r}"
            break
    else:
        where = f"it has {len(found)} layers, expected {len(expected)}"
    message = (f"the layers of {name}, input to output as batchnorm.layer_summary lists them: {where} "
               f"(all of them: {found}; expected {list(expected)})")
    raise AssertionError(f"{message}. {hint}" if hint else message)


def parameter_counts(model: keras.Model) -> tuple[int, int]:
    """(trainable, non-trainable) numbers of parameters, as ``model.summary()`` reports them."""
    def count(variables):
        return int(sum(np.prod(v.shape) for v in variables))

    return count(model.trainable_weights), count(model.non_trainable_weights)


# --- one feature of a BN layer, step by step (the explorer) ---------------------------------------------

@dataclass(frozen=True)
class MovingTrace:
    """One feature through a BN layer in training: batch and moving statistics after each step."""

    batch_mean: np.ndarray
    batch_variance: np.ndarray
    moving_mean: np.ndarray  # after the step's update
    moving_variance: np.ndarray
    gap: np.ndarray  # RMS difference between the batch's training and inference outputs (gamma 1, beta 0)
    population_mean: float
    population_variance: float


def moving_statistics_trace(values, *, batch_size: int = 32, momentum: float = 0.99, steps: int = 200,
                            epsilon: float = 1e-3, seed: int = 0) -> MovingTrace:
    """Simulate Keras' BN layer on one feature whose values over the training set are ``values``.

    Each step takes the next mini-batch (reshuffled every epoch, incomplete batches dropped), computes
    its mean and (biased) variance, and updates ``moving = momentum * moving + (1 - momentum) * batch``
    from Keras' initial values (mean 0, variance 1).  ``gap`` compares, on that batch, the training
    output ``(x - batch mean) / sqrt(batch variance + epsilon)`` with the inference output from the
    moving statistics after the update.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    batch_size = int(min(max(batch_size, 1), len(values)))
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be between 0 and 1, got {momentum}")
    rng = np.random.default_rng(seed)
    per_epoch = len(values) // batch_size
    moving_mean, moving_variance = 0.0, 1.0
    rows = np.empty((steps, 5))
    order = np.empty(0, dtype=int)
    for step in range(steps):
        if step % per_epoch == 0:
            order = rng.permutation(len(values))
        batch = values[order[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]]
        mean, variance = batch.mean(), batch.var()
        moving_mean = momentum * moving_mean + (1 - momentum) * mean
        moving_variance = momentum * moving_variance + (1 - momentum) * variance
        training = (batch - mean) / np.sqrt(variance + epsilon)
        inference = (batch - moving_mean) / np.sqrt(moving_variance + epsilon)
        gap = np.sqrt(np.mean((training - inference) ** 2))
        rows[step] = mean, variance, moving_mean, moving_variance, gap
    return MovingTrace(*rows.T.copy(), population_mean=float(values.mean()),
                       population_variance=float(values.var()))


def describe_trace(trace: MovingTrace) -> str:
    """One line about the end of a trace (used under the explorer's plot)."""
    return (f"after {len(trace.gap)} steps: moving mean {trace.moving_mean[-1]:.3f} "
            f"(data {trace.population_mean:.3f}), moving std {np.sqrt(trace.moving_variance[-1]):.3f} "
            f"(data {np.sqrt(trace.population_variance):.3f}); training vs inference output: "
            f"RMS difference {trace.gap[-1]:.3f}")


def plot_trace(trace: MovingTrace, *, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Batch means (dots), moving mean and moving std (lines) per step, the data's values dashed."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(1, len(trace.gap) + 1)
    ax.plot(steps, trace.batch_mean, ".", color="C0", alpha=0.25, ms=3, label="batch mean")
    ax.plot(steps, trace.moving_mean, color="C0", label="moving mean")
    ax.plot(steps, np.sqrt(trace.moving_variance), color="C1", label="moving std")
    ax.plot(steps, trace.gap, color="C2", lw=0.8, label="train/inference RMS gap")
    ax.axhline(trace.population_mean, color="C0", ls="--", lw=0.8)
    ax.axhline(np.sqrt(trace.population_variance), color="C1", ls="--", lw=0.8)
    ax.set_xlabel("training step")
    ax.set_title(title or "One feature's statistics (dashed: over the whole training set)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper right")
    return ax


BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MOMENTA = (0.0, 0.5, 0.9, 0.99, 0.999)


def moving_statistics_explorer(values, *, seed: int = 0):
    """Batch size, momentum and number of steps in; the moving statistics of one feature out.

    Each change reruns :func:`moving_statistics_trace` (NumPy, milliseconds).  Returns the widget box:
    make it the last expression of a cell to show it.
    """
    import ipywidgets as widgets

    from course.widgets import image_explorer

    batch_size = widgets.Dropdown(options=BATCH_SIZES, value=32, description="batch size")
    momentum = widgets.Dropdown(options=MOMENTA, value=0.99, description="momentum")
    steps = widgets.IntSlider(value=200, min=10, max=3000, step=10, description="steps",
                              continuous_update=False)

    def draw(ax) -> str:
        trace = moving_statistics_trace(values, batch_size=batch_size.value, momentum=momentum.value,
                                        steps=steps.value, seed=seed)
        plot_trace(trace, ax=ax, title=f"batch size {batch_size.value}, momentum {momentum.value}")
        return describe_trace(trace)

    layout = widgets.HBox([widgets.VBox([batch_size, momentum]), steps])
    return image_explorer([batch_size, momentum, steps], layout, draw)


# --- figures --------------------------------------------------------------------------------------------

def hidden_dense_stats(model: keras.Sequential, X) -> list:
    """``diagnostics.activation_stats`` of the hidden Dense layers only (not BN, Flatten or the output)."""
    from course.diagnostics import activation_stats

    stats = activation_stats(model, X)
    dense = [s for layer, s in zip(model.layers, stats, strict=True) if isinstance(layer, keras.layers.Dense)]
    return dense[:-1]


def plot_layer_stats(stats: Mapping[str, Sequence], *, axes: Sequence[plt.Axes] | None = None):
    """Mean and standard deviation of each hidden layer's outputs, one line per model (from
    :func:`hidden_dense_stats`)."""
    profiles = {label: ([s.mean for s in dense], [s.std for s in dense]) for label, dense in stats.items()}
    return plot_layer_profiles(profiles, axes=axes, xlabel="hidden Dense layer (1 = next to the input)")


def sweep_table(runs: Sequence[SweepRun]) -> str:
    """A Markdown table: per (BN, learning rate), diverged runs and min / mean / max of each metric."""
    def spread(values) -> str:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return "–"
        return f"{values.min():.2f} / {values.mean():.2f} / {values.max():.2f}"

    lines = ["| BN | learning rate | diverged | training loss | training accuracy "
             "| validation accuracy (inference) |", "|---|---|---|---|---|---|"]
    keys = sorted({(run.batch_norm, run.learning_rate) for run in runs})
    for batch_norm, rate in keys:
        group = [run for run in runs if (run.batch_norm, run.learning_rate) == (batch_norm, rate)]
        diverged = sum(not np.isfinite(run.loss) for run in group)
        lines.append(f"| {'yes' if batch_norm else 'no'} | {rate:g} | {diverged} of {len(group)} | "
                     f"{spread([r.loss for r in group])} | {spread([r.accuracy for r in group])} | "
                     f"{spread([r.val_accuracy for r in group])} |")
    return "\n".join(lines)
