"""The capstone (notebook 06): a deep network that does not train, its budget, and a fast trainer.

``broken_model`` is the network to repair; ``BUDGET`` is what a repair may spend; ``check_budget``
says, in words a student can act on, where a model breaks the rules; ``train_under_budget`` trains
any builder exactly as the grader does and records the gradient-norm trace (one norm per variable and
step). The repair itself is the notebook's exercise and is not here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np

from course import checks, diagnostics
from course.data import load_digits_standardized
from course.plots import plot_layer_norms
from course.reproducibility import set_seed
from course.training import TrainingLoop, epoch_batches, global_norms
from course.widgets import image_explorer


@dataclass(frozen=True)
class Budget:
    """What a repair of the broken network may spend."""

    min_hidden_layers: int = 20  # hidden Dense layers, each followed by a non-linearity
    max_params: int = 30_000  # model.count_params() (BatchNormalization's moving statistics included)
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 0.1  # plain SGD with momentum, as the broken network: fixed
    momentum: float = 0.9


BUDGET = Budget()
N_FEATURES, N_CLASSES = 64, 10  # the digits: 8x8 pixels, ten classes


# --- the data --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Split:
    """The standardized digits split into a training and a test part (80/20)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@functools.lru_cache(maxsize=8)
def digits_split(seed: int = 0) -> Split:
    """scikit-learn's 1,797 digits (64 standardized features), shuffled by ``seed``, 80% train, 20% test."""
    X, y = load_digits_standardized()
    order = np.random.default_rng(seed).permutation(len(X))
    n_train = len(X) * 4 // 5
    train, test = order[:n_train], order[n_train:]
    arrays = [X[train], y[train], X[test], y[test]]
    for array in arrays:
        array.flags.writeable = False  # shared by every caller (the split is cached)
    return Split(*arrays)


# --- the broken network ----------------------------------------------------------------------------

def broken_model(n_features: int = N_FEATURES, n_classes: int = N_CLASSES) -> keras.Model:
    """The network to repair: 20 sigmoid layers of 32 units, weights drawn from N(0, 1), SGD at 0.1, compiled."""
    init = keras.initializers.RandomNormal(stddev=1.0)
    model = keras.Sequential(
        [keras.Input(shape=(n_features,))]
        + [keras.layers.Dense(32, activation="sigmoid", kernel_initializer=init) for _ in range(20)]
        + [keras.layers.Dense(n_classes, activation="softmax")]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=BUDGET.learning_rate, momentum=BUDGET.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --- the rules -------------------------------------------------------------------------------------

_PASS_THROUGH = (keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.Dropout,
                 keras.layers.GaussianNoise, keras.layers.AlphaDropout)


def _is_nonlinearity(layer: keras.layers.Layer) -> bool:
    """A layer that applies a non-linear activation (Dense/Activation with one, or LeakyReLU, ELU, ...)."""
    if isinstance(layer, keras.layers.Dense | keras.layers.Activation):
        return checks.activation_name(layer) != "linear"
    return isinstance(layer, keras.layers.LeakyReLU | keras.layers.ReLU | keras.layers.ELU
                      | keras.layers.PReLU | keras.layers.Softmax)


def hidden_dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The Dense layers of a model except the last (the output layer)."""
    return checks.dense_layers(model)[:-1]


def check_budget(model, n_features: int = N_FEATURES, n_classes: int = N_CLASSES,
                 budget: Budget = BUDGET) -> None:
    """Raise an AssertionError saying what to change if ``model`` breaks one of the rules of the repair."""
    checks.check_is_model(model, name="build_fixed_model")
    if not isinstance(model, keras.Sequential):
        raise AssertionError(f"build the model as a keras.Sequential stack of layers, got {type(model).__name__}")
    checks.check_input_shape(model, n_features)
    layers = model.layers
    if not layers or not isinstance(layers[-1], keras.layers.Dense) or layers[-1].units != n_classes \
            or checks.activation_name(layers[-1]) != "softmax":
        raise AssertionError(f"the last layer must be Dense({n_classes}, activation='softmax'): "
                             "the grader reads probabilities")
    hidden = hidden_dense_layers(model)
    if len(hidden) < budget.min_hidden_layers:
        raise AssertionError(f"the network must keep at least {budget.min_hidden_layers} hidden Dense layers "
                             f"(depth is part of the problem); yours has {len(hidden)}")
    # Every hidden Dense layer must be followed by a non-linearity before the next Dense layer:
    # a stack of linear layers is one linear map, not a deep network.
    index_of = {id(layer): i for i, layer in enumerate(layers)}
    for number, dense in enumerate(hidden, start=1):
        if _is_nonlinearity(dense):
            continue
        after = []
        for layer in layers[index_of[id(dense)] + 1:]:
            if isinstance(layer, keras.layers.Dense):
                break
            after.append(layer)
        if not any(_is_nonlinearity(layer) for layer in after):
            raise AssertionError(f"hidden Dense layer {number} is not followed by a non-linear activation "
                                 "before the next Dense layer; every hidden layer needs one")
        unknown = [type(layer).__name__ for layer in after
                   if not (_is_nonlinearity(layer) or isinstance(layer, (*_PASS_THROUGH, keras.layers.Activation)))]
        if unknown:
            raise AssertionError(f"layers of type {unknown} are not part of this exercise: use Dense, "
                                 "BatchNormalization, activation layers and Dropout")
    if model.count_params() > budget.max_params:
        raise AssertionError(f"the model has {model.count_params():,} parameters; the budget is "
                             f"{budget.max_params:,} (model.count_params())")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise AssertionError("the model is not compiled: call model.compile(...) before returning it")
    if int(optimizer.iterations.numpy()) != 0:
        raise AssertionError(f"return the model untrained: its optimizer has already made "
                             f"{int(optimizer.iterations.numpy())} steps, and the training under the budget is "
                             "the grader's")
    if type(optimizer) is not keras.optimizers.SGD:
        raise AssertionError(f"keep the optimizer of the broken network, keras.optimizers.SGD; got "
                             f"{type(optimizer).__name__}")
    learning_rate = _learning_rate(optimizer)
    if learning_rate is None or not math.isclose(learning_rate, budget.learning_rate, rel_tol=1e-6):
        found = "a schedule" if learning_rate is None else f"{learning_rate:g}"
        raise AssertionError(f"keep the learning rate of the broken network, {budget.learning_rate}; got {found}")
    if not math.isclose(float(optimizer.momentum), budget.momentum):
        raise AssertionError(f"keep SGD's momentum at {budget.momentum}; got {optimizer.momentum}")
    checks.check_compiled(model, optimizer=keras.optimizers.SGD, loss="sparse_categorical_crossentropy")


def _learning_rate(optimizer) -> float | None:
    """The optimizer's learning rate as a float (None for a schedule)."""
    value = optimizer.get_config()["learning_rate"]  # a schedule's config is a dict
    return float(value) if isinstance(value, int | float) else None


# --- training under the budget, with a gradient-norm trace -----------------------------------------

@dataclass
class Run:
    """One training run under the budget: what the grader looks at, and the traces for the plots."""

    step_loss: np.ndarray  # training loss of each mini-batch, before its update
    grad_norms: np.ndarray  # (steps, variables): L2 norm of each variable's gradient, before clipping
    variable_paths: list[str]
    train_loss: float  # mean cross-entropy on the whole training set after training (inference mode)
    test_accuracy: float  # on the split's test part, in inference mode
    epoch_loss: np.ndarray  # mean step loss of each epoch (what Keras' fit reports as "loss")
    weights: list[np.ndarray] = field(repr=False)  # model.get_weights() after training
    _build: Callable[[], keras.Model] = field(repr=False)

    @functools.cached_property
    def model(self) -> keras.Model:
        """The trained model (built again when first asked for, with the trained weights)."""
        model = self._build()
        model.set_weights(self.weights)
        return model

    @property
    def finite(self) -> bool:
        """No NaN or inf anywhere in the losses."""
        return bool(np.all(np.isfinite(self.step_loss)) and math.isfinite(self.train_loss))

    @property
    def global_grad_norm(self) -> np.ndarray:
        """Norm of the whole gradient at each step (what global_clipnorm clips)."""
        return global_norms(self.grad_norms)

    def kernel_grad_norms(self) -> np.ndarray:
        """(steps, Dense kernels): the gradient norm of each kernel at each step, input side first."""
        columns = [i for i, path in enumerate(self.variable_paths) if path.endswith("/kernel")]
        return self.grad_norms[:, columns]


class _Runner:
    """A builder's training loop, traced once; each run first resets it to a fresh model's weights."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.signature = _signature(model)
        self.loop = TrainingLoop(model)  # the model's compiled optimizer (clipping included) and loss

    def run(self, initial_weights: list[np.ndarray], split: Split, seed: int, budget: Budget,
            build: Callable[[], keras.Model]) -> Run:
        model = self.model
        self.loop.reset(initial_weights)
        batches = epoch_batches(len(split.X_train), batch_size=budget.batch_size, epochs=budget.epochs, seed=seed)
        steps = self.loop.run(split.X_train, split.y_train, batches.reshape(-1, budget.batch_size))
        with np.errstate(all="ignore"):
            train_loss = _mean_cross_entropy(model, split.X_train, split.y_train)
            probabilities = keras.ops.convert_to_numpy(model(split.X_test, training=False))
            accuracy = float(np.mean(np.argmax(probabilities, axis=1) == split.y_test))
            if not np.all(np.isfinite(probabilities)):
                accuracy = 0.0  # a NaN network predicts nothing (argmax of NaN is 0, a class)
        return Run(step_loss=steps.loss, grad_norms=steps.grad_norms,
                   variable_paths=[v.path for v in model.trainable_variables],
                   train_loss=train_loss, test_accuracy=accuracy,
                   epoch_loss=steps.loss.reshape(budget.epochs, -1).mean(axis=1), weights=model.get_weights(),
                   _build=build)


def _mean_cross_entropy(model: keras.Model, X, y) -> float:
    probabilities = model(X, training=False)
    return float(keras.losses.SparseCategoricalCrossentropy()(y, probabilities))


def _signature(model: keras.Model) -> str:
    """The model's structure and optimizer settings, without layer names (what a traced loop depends on)."""
    def clean(config):
        return {key: value for key, value in config.items() if key != "name"}
    layers = [(type(layer).__name__, clean(layer.get_config())) for layer in model.layers]
    weights = [tuple(v.shape) for v in model.weights]
    return repr((layers, weights, clean(model.optimizer.get_config())))


# Caches, keyed by the builder function itself: a student who redefines it gets fresh runs.
_RUNNERS: dict = {}  # builder -> _Runner
_RUNS: dict[tuple, Run] = {}  # (builder, seed, split seed, budget, check) -> Run
_INITIAL: dict[tuple, list[np.ndarray]] = {}  # (builder, seed, checked) -> weights just after building


def train_under_budget(build_fn: Callable[[int, int], keras.Model], *, seed: int = 0, split_seed: int = 0,
                       budget: Budget = BUDGET, check: bool = True) -> Run:
    """Build a model with ``build_fn(64, 10)`` under ``set_seed(seed)`` and train it as the grader does.

    ``budget.epochs`` epochs of mini-batches of ``budget.batch_size`` (reshuffled each epoch from ``seed``)
    on ``digits_split(split_seed)``, with the model's own compiled optimizer (clipping included) and loss.
    ``check`` first applies :func:`check_budget`. Tracing the training loop of a 20-layer network costs
    seconds, so it is traced once per builder and reused; a run already made with the same builder
    (the same function object), seeds and budget is returned again without training.
    """
    key = (build_fn, seed, split_seed, budget, check)
    if key in _RUNS:
        return _RUNS[key]
    split = digits_split(split_seed)
    n_features, n_classes = split.X_train.shape[1], int(split.y_train.max()) + 1
    set_seed(seed)
    fresh = build_fn(n_features, n_classes)
    if check:
        check_budget(fresh, n_features, n_classes, budget)
    initial = fresh.get_weights()
    _remember(_INITIAL, (build_fn, seed, check), initial, 32)
    runner = _RUNNERS.get(build_fn)
    if runner is None or runner.signature != _signature(fresh):
        _RUNNERS.pop(build_fn, None)
        _remember(_RUNNERS, build_fn, _Runner(fresh), 4)  # the fresh model becomes the runner's
        runner = _RUNNERS[build_fn]
    run = runner.run(initial, split, seed, budget, build=lambda: build_fn(n_features, n_classes))
    _remember(_RUNS, key, run, 16)
    return run


def _remember(cache: dict, key, value, size: int) -> None:
    """Store ``value`` under ``key``, forgetting the oldest entries beyond ``size``."""
    cache.pop(key, None)
    while len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[key] = value


def gradient_ratio_at_init(build_fn: Callable[[int, int], keras.Model], *, seed: int = 0, split_seed: int = 0,
                           n_examples: int = 256, check: bool = True) -> float:
    """First/last kernel-gradient-norm ratio of a model just built by ``build_fn`` (seeded with ``seed``).

    Measured with :mod:`course.diagnostics` on the first ``n_examples`` training examples of
    ``digits_split(split_seed)``, in training mode (Batch Normalization uses the batch's statistics).
    ``check`` first applies :func:`check_budget`. When :func:`train_under_budget` already built this
    builder under this seed, its initial weights are reused instead of building again.
    """
    split = digits_split(split_seed)
    X, y = split.X_train[:n_examples], split.y_train[:n_examples]
    n_features, n_classes = split.X_train.shape[1], int(split.y_train.max()) + 1
    initial = _INITIAL.get((build_fn, seed, True)) or (None if check else _INITIAL.get((build_fn, seed, False)))
    runner = _RUNNERS.get(build_fn)
    model = None
    if initial is not None and runner is not None:
        try:
            runner.model.set_weights(initial)
            model = runner.model
        except ValueError:  # the builder now builds another structure
            model = None
    if model is None:
        set_seed(seed)
        model = build_fn(n_features, n_classes)
        if check:
            check_budget(model, n_features, n_classes)
    norms = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))
    return diagnostics.first_last_ratio(norms)


# --- classic experiments ---------------------------------------------------------------------------

def standard_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """The "standard" initialization of Glorot & Bengio (2010): W ~ U[-1/sqrt(n_in), 1/sqrt(n_in)]."""
    # VarianceScaling draws U[-sqrt(3 scale / n_in), +sqrt(3 scale / n_in)]: scale 1/3 gives the bound 1/sqrt(n_in).
    return keras.initializers.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform", seed=seed)


def saturation_experiment(*, split_seed: int = 0, depth: int = 4, width: int = 100, epochs: int = 20,
                          batch_size: int = 10, learning_rate: float = 0.1, record_every: int = 50,
                          n_probe: int = 300, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot & Bengio (2010), figure 2, at CPU scale: sigmoid layers' outputs over the course of training.

    A ``depth``-layer sigmoid MLP with the standard initialization is trained with plain SGD; every
    ``record_every`` steps, :func:`course.diagnostics.activation_stats` measures each hidden layer's output
    on ``n_probe`` fixed test examples. Returns ``step`` (records), ``mean`` and ``std`` (records x depth),
    ``low``/``high`` (the 2nd and 98th percentiles, as the paper's bars), and ``loss`` (mean training loss
    of the steps since the previous record).
    """
    split = digits_split(split_seed)
    set_seed(seed)
    n_features, n_classes = split.X_train.shape[1], int(split.y_train.max()) + 1
    model = keras.Sequential(
        [keras.Input(shape=(n_features,))]
        + [keras.layers.Dense(width, activation="sigmoid", kernel_initializer=standard_initializer(seed + i))
           for i in range(depth)]
        + [keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=standard_initializer(seed + depth))]
    )
    loop = TrainingLoop(model, keras.optimizers.SGD(learning_rate=learning_rate),
                        loss=keras.losses.SparseCategoricalCrossentropy())
    order = epoch_batches(len(split.X_train), batch_size=batch_size, epochs=epochs, seed=seed)
    order = order.reshape(-1, batch_size)
    probe = split.X_test[:n_probe]
    records: dict[str, list] = {"step": [], "mean": [], "std": [], "low": [], "high": [], "loss": []}

    def record(step: int, loss: float) -> None:
        outputs = [out for _, out in diagnostics.layer_outputs(model, probe)[:depth]]
        stats = diagnostics.activation_stats(model, probe)[:depth]
        records["step"].append(step)
        records["mean"].append([s.mean for s in stats])
        records["std"].append([s.std for s in stats])
        records["low"].append([np.percentile(out, 2) for out in outputs])
        records["high"].append([np.percentile(out, 98) for out in outputs])
        records["loss"].append(loss)

    record(0, float("nan"))
    for start in range(0, len(order), record_every):
        chunk = order[start:start + record_every]
        steps = loop.run(split.X_train, split.y_train, chunk)
        record(start + len(chunk), float(np.mean(steps.loss)))
    return {key: np.array(value, dtype=float) for key, value in records.items()}


def depth_sweep(depths=(5, 10, 20, 30, 40), initializers=("glorot_uniform", "he_normal"), *,
                activation: str = "relu", width: int = 64, n_examples: int = 256, seed: int = 0) -> dict:
    """He et al. (2015) at initialization: plain ReLU networks of growing depth, Glorot against He.

    For each initializer and depth, a fresh :func:`course.diagnostics.probe_network` on the first
    ``n_examples`` digits: the geometric mean of its kernel-gradient norms (:func:`diagnostics.gradient_norms`),
    its first/last ratio, and the standard deviation of the last hidden layer's output
    (:func:`diagnostics.activation_stats`). Returns ``{initializer: {"mean_norm", "ratio", "last_std"}}``,
    arrays over ``depths``.
    """
    split = digits_split(0)
    X, y = split.X_train[:n_examples], split.y_train[:n_examples]
    result = {}
    for name in initializers:
        rows = {"mean_norm": [], "ratio": [], "last_std": []}
        for depth in depths:
            model = diagnostics.probe_network(X.shape[1], 10, depth=depth, activation=activation,
                                              initializer=name, width=width, seed=seed)
            norms = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))
            rows["mean_norm"].append(float(np.exp(np.mean(np.log(norms)))))
            rows["ratio"].append(diagnostics.first_last_ratio(norms))
            rows["last_std"].append(diagnostics.activation_stats(model, X)[-2].std)
        result[name] = {key: np.array(value) for key, value in rows.items()}
    return result


# --- figures (extra code: not the lesson) ----------------------------------------------------------

def plot_runs(runs: dict[str, Run], *, axes=None):
    """Per-step training loss, global gradient norm, and first/last kernel-gradient norms of several runs."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    for label, run in runs.items():
        steps = np.arange(1, len(run.step_loss) + 1)
        line, = axes[0].plot(steps, np.where(np.isfinite(run.step_loss), run.step_loss, np.nan), label=label)
        norms = run.global_grad_norm
        axes[1].plot(steps, np.where(np.isfinite(norms) & (norms > 0), norms, np.nan), label=label,
                     color=line.get_color())
        kernels = run.kernel_grad_norms()
        for column, style, which in ((0, "-", "first layer"), (-1, ":", "output layer")):
            values = kernels[:, column]
            axes[2].plot(steps, np.where(np.isfinite(values) & (values > 0), values, np.nan), style,
                         color=line.get_color(), label=f"{label}: {which}")
    axes[0].axhline(np.log(10), color="grey", lw=0.8, ls="--")
    axes[0].set_ylabel("training loss (grey: ln 10, a uniform guess)")
    axes[1].set_ylabel("global gradient norm (log)")
    axes[2].set_ylabel("kernel-gradient norm (log)")
    for ax in axes[1:]:
        ax.set_yscale("log")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    return axes


def plot_saturation(result: dict[str, np.ndarray], *, axes=None):
    """Glorot & Bengio's figure 2: mean (line) and 2nd-98th percentiles (band) of each sigmoid layer, and the loss."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.5), gridspec_kw={"width_ratios": [2, 1]})
    steps = result["step"]
    for layer in range(result["mean"].shape[1]):
        line, = axes[0].plot(steps, result["mean"][:, layer], label=f"layer {layer + 1}")
        axes[0].fill_between(steps, result["low"][:, layer], result["high"][:, layer], alpha=0.12,
                             color=line.get_color())
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("sigmoid output: mean, 2nd-98th percentile")
    axes[1].plot(steps[1:], result["loss"][1:])
    axes[1].axhline(np.log(10), color="grey", lw=0.8, ls="--")
    axes[1].set_ylabel("training loss (grey: ln 10)")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small", ncol=2)
    return axes


def plot_depth_sweep(result: dict, depths, *, axes=None):
    """The three measures of :func:`depth_sweep` against depth, one line per initializer."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    labels = {"mean_norm": "kernel-gradient norm (geometric mean, log)",
              "ratio": "first/last ratio (log)", "last_std": "std of the last hidden layer (log)"}
    for name, rows in result.items():
        for ax, (key, label) in zip(axes, labels.items(), strict=True):
            ax.plot(depths, rows[key], marker="o", label=name)
            ax.set_ylabel(label)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("hidden layers (ReLU, 64 units)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    return axes


# --- the explorer ----------------------------------------------------------------------------------

EXPLORER_ACTIVATIONS = ("sigmoid", "tanh", "relu", "elu", "selu")
EXPLORER_INITIALIZERS = ("N(0, 1) (broken)", "glorot_uniform", "he_normal", "lecun_normal")


def explorer_model(activation: str, initializer: str, batch_norm: bool, n_features: int = N_FEATURES,
                   n_classes: int = N_CLASSES, depth: int = 20, width: int = 32) -> keras.Model:
    """The broken network's shape with another activation, initializer, and optional BatchNormalization."""
    init = keras.initializers.RandomNormal(stddev=1.0) if initializer == EXPLORER_INITIALIZERS[0] else initializer
    layers = [keras.Input(shape=(n_features,))]
    for _ in range(depth):
        if batch_norm:
            layers += [keras.layers.Dense(width, kernel_initializer=init), keras.layers.BatchNormalization(),
                       keras.layers.Activation(activation)]
        else:
            layers.append(keras.layers.Dense(width, activation=activation, kernel_initializer=init))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


def repair_explorer(X, y, *, seed: int = 0):
    """Activation, initializer and BatchNormalization in; per-layer gradient norms and saturation at init out.

    Each change builds the broken network's shape (20 layers of 32 units) with the chosen parts and measures
    one gradient and the layers' outputs on (X, y) with :mod:`course.diagnostics` (a second or two). It looks
    at initialization only: clipping and the learning rate show up in training, not here.
    """
    activation = widgets.Dropdown(options=EXPLORER_ACTIVATIONS, value="sigmoid", description="activation")
    initializer = widgets.Dropdown(options=EXPLORER_INITIALIZERS, value=EXPLORER_INITIALIZERS[0],
                                   description="initializer")
    batch_norm = widgets.Checkbox(value=False, description="BatchNormalization before each activation")

    def draw(ax) -> str:
        set_seed(seed)
        model = explorer_model(activation.value, initializer.value, batch_norm.value, X.shape[1], int(max(y)) + 1)
        norms = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))
        stats = diagnostics.activation_stats(model, X)[:-1]
        label = f"{activation.value}, {initializer.value}" + (", BN" if batch_norm.value else "")
        plot_layer_norms({label: norms}, ax=ax)
        return (f"first/last ratio {diagnostics.first_last_ratio(norms):.3g} | most saturated layer "
                f"{max(s.saturated_fraction for s in stats):.0%} | most dead {max(s.dead_fraction for s in stats):.0%}")

    layout = widgets.HBox([widgets.VBox([activation, initializer]), batch_norm])
    return image_explorer([activation, initializer, batch_norm], layout, draw)
