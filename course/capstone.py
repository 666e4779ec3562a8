"""The capstone (notebook 06): a deep network that does not train, its budget, and a fast trainer.

``broken_model`` is the network to repair; ``BUDGET`` is what a repair may spend; ``check_budget``
says, in words a student can act on, where a model breaks the rules; ``train_under_budget`` trains
any builder exactly as the grader does and records the gradient-norm trace (one norm per variable and
step). The repair itself is the notebook's exercise and is not here; the experiments, the figures and the
explorer are in :mod:`course.capstone_experiments`.

What the grader trains is always a **fresh copy** of the builder's model (:func:`fresh_copy`): the layers
rebuilt from their configuration with ``keras.models.clone_model`` (new weights drawn by their
initializers, BatchNormalization's moving statistics reset) and a new optimizer of the same
configuration, so weights set or learned inside the builder are thrown away.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from course import checks, diagnostics, lockout
from course.data import load_digits_standardized
from course.reproducibility import set_seed
from course.training import TrainingLoop, epoch_batches, global_norms


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
    # One initializer per layer: an unseeded initializer shared by layers draws the same matrix for each of them.
    model = keras.Sequential(
        [keras.Input(shape=(n_features,))]
        + [keras.layers.Dense(32, activation="sigmoid", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0))
           for _ in range(20)]
        + [keras.layers.Dense(n_classes, activation="softmax")]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=BUDGET.learning_rate, momentum=BUDGET.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --- the rules -------------------------------------------------------------------------------------

# The only layer types a repair may use (exact types, not subclasses); the notebook's text lists the same names.
ALLOWED_LAYERS = (keras.layers.Dense, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
                  keras.layers.ELU, keras.layers.PReLU, keras.layers.BatchNormalization,
                  keras.layers.LayerNormalization, keras.layers.Dropout, keras.layers.AlphaDropout,
                  keras.layers.GaussianNoise)
CLIPPING_OPTIONS = ("clipvalue", "clipnorm", "global_clipnorm")  # a repair may set one of them
LOSS = "sparse_categorical_crossentropy"


def allowed_layer_names() -> list[str]:
    """The class names of :data:`ALLOWED_LAYERS`, as the notebook's text lists them."""
    return [layer_type.__name__ for layer_type in ALLOWED_LAYERS]


def _is_nonlinearity(layer: keras.layers.Layer) -> bool:
    """A layer that applies a non-linear activation (Dense/Activation with one, or LeakyReLU, ELU, ...)."""
    if isinstance(layer, keras.layers.Dense | keras.layers.Activation):
        return checks.activation_spec(layer) != "linear"
    return isinstance(layer, keras.layers.LeakyReLU | keras.layers.ReLU | keras.layers.ELU
                      | keras.layers.PReLU | keras.layers.Softmax)


def _is_keras_activation(function) -> bool:
    """``function`` is one of Keras' own activation functions (what ``activation="elu"`` gives)."""
    name = getattr(function, "__name__", None)
    if not isinstance(name, str):
        return False
    try:
        return keras.activations.get(name) is function
    except (ValueError, TypeError):
        return False


def hidden_dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The Dense layers of a model except the last (the output layer)."""
    return checks.dense_layers(model)[:-1]


def _describe(number: int, layer: keras.layers.Layer) -> str:
    return f"layer {number} ({type(layer).__name__} {layer.name!r})"


def _check_layers(model: keras.Model, n_classes: int, budget: Budget) -> None:
    """Every layer's type, every activation, the output layer, the depth, the non-linearities, the size."""
    layers = model.layers
    names = ", ".join(allowed_layer_names())
    for number, layer in enumerate(layers, start=1):
        if type(layer) not in ALLOWED_LAYERS:
            raise AssertionError(f"{_describe(number, layer)} is not part of this exercise: build the network "
                                 f"from these Keras layers only (capstone.ALLOWED_LAYERS): {names}")
        if isinstance(layer, keras.layers.Dense | keras.layers.Activation) \
                and not _is_keras_activation(layer.activation):
            raise AssertionError(f"{_describe(number, layer)} uses the activation {layer.activation!r}, which is not "
                                 "one of Keras' own: give it by name (activation='elu') or use an activation layer "
                                 "(ELU, ReLU, LeakyReLU, PReLU)")
    if not layers or not isinstance(layers[-1], keras.layers.Dense) or layers[-1].units != n_classes \
            or checks.activation_spec(layers[-1]) != "softmax":
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
    if model.count_params() > budget.max_params:
        raise AssertionError(f"the model has {model.count_params():,} parameters; the budget is "
                             f"{budget.max_params:,} (model.count_params())")


def _check_optimizer(optimizer, budget: Budget) -> None:
    """The broken network's SGD: learning rate, momentum, nothing else changed but at most one clipping option."""
    if type(optimizer) is not keras.optimizers.SGD:
        raise AssertionError(f"keep the optimizer of the broken network, keras.optimizers.SGD; got "
                             f"{type(optimizer).__name__}")
    learning_rate = _learning_rate(optimizer)
    if learning_rate is None or not math.isclose(learning_rate, budget.learning_rate, rel_tol=1e-6):
        found = "a schedule" if learning_rate is None else f"{learning_rate:g}"
        raise AssertionError(f"keep the learning rate of the broken network, {budget.learning_rate} (a fixed "
                             f"number); got {found}")
    config = optimizer.get_config()
    if not math.isclose(float(config["momentum"]), budget.momentum):
        raise AssertionError(f"keep SGD's momentum at {budget.momentum}; got {float(config['momentum']):g}")
    if config.get("nesterov"):
        raise AssertionError("keep SGD's plain momentum, as the broken network: remove nesterov=True")
    if config.get("weight_decay") not in (None, 0, 0.0):
        raise AssertionError(f"weight decay is not part of the budget: remove weight_decay={config['weight_decay']} "
                             "from SGD")
    clipping = [f"{key}={config[key]}" for key in CLIPPING_OPTIONS if config.get(key) is not None]
    if len(clipping) > 1:
        raise AssertionError(f"add at most one of clipvalue, clipnorm and global_clipnorm to SGD; yours sets "
                             f"{' and '.join(clipping)}")
    if config.get("use_ema"):
        raise AssertionError("remove use_ema=True from SGD: the budget trains and evaluates the weights themselves, "
                             "not an exponential moving average of them")
    if config.get("loss_scale_factor") is not None:
        raise AssertionError(f"remove loss_scale_factor={config['loss_scale_factor']} from SGD: it rescales the "
                             "gradients, which changes the learning rate")
    if config.get("gradient_accumulation_steps") is not None:
        raise AssertionError(f"remove gradient_accumulation_steps={config['gradient_accumulation_steps']} from SGD: "
                             "the budget makes one update per mini-batch")
    # Anything else SGD's configuration holds (in this or a later Keras) keeps its default.
    default = keras.optimizers.SGD(learning_rate=budget.learning_rate, momentum=budget.momentum).get_config()
    skipped = {"name", "learning_rate", "momentum", "weight_decay", *CLIPPING_OPTIONS,  # checked above
               "ema_momentum", "ema_overwrite_frequency"}  # without use_ema they change nothing
    for key in sorted(set(config) - skipped):
        if key not in default or checks.plain(config[key]) != checks.plain(default[key]):
            raise AssertionError(f"keep SGD's {key} at its default ({default.get(key)!r}); yours sets "
                                 f"{key}={config[key]!r}: the optimizer is part of the budget")


def _check_loss(model: keras.Model) -> None:
    """One loss, sparse categorical cross-entropy on probabilities, with Keras' default settings, no loss weights."""
    loss = model.loss
    if isinstance(loss, str):
        if loss != LOSS:
            raise AssertionError(f"the model is compiled with the loss {loss!r}, expected {LOSS!r}")
    elif isinstance(loss, keras.losses.Loss):
        if type(loss) is not keras.losses.SparseCategoricalCrossentropy:
            raise AssertionError(f"the model is compiled with the loss {type(loss).__name__}, expected {LOSS!r}")
        default = keras.losses.SparseCategoricalCrossentropy().get_config()
        changed = [f"{key}={value!r}" for key, value in loss.get_config().items()
                   if key not in ("name", "dtype") and checks.plain(value) != checks.plain(default.get(key))]
        if changed:
            raise AssertionError(f"compile with the loss {LOSS!r} as it is: your SparseCategoricalCrossentropy sets "
                                 f"{', '.join(changed)} (the output layer's softmax already gives probabilities)")
    elif loss is not keras.losses.sparse_categorical_crossentropy:
        found = getattr(loss, "__name__", type(loss).__name__)
        raise AssertionError(f"the model is compiled with the loss {found!r}, expected {LOSS!r} (one loss, "
                             "given by name)")
    compile_config = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    if (compile_config or {}).get("loss_weights") is not None:
        raise AssertionError("remove loss_weights from model.compile: scaling the loss changes the learning rate")


def check_budget(model, n_features: int = N_FEATURES, n_classes: int = N_CLASSES,
                 budget: Budget = BUDGET) -> None:
    """Raise an AssertionError saying what to change if ``model`` breaks one of the rules of the repair.

    Every layer (types in :data:`ALLOWED_LAYERS`, Keras' own activations), the depth, a non-linearity after
    each hidden Dense layer, the output layer, the size, the loss and the optimizer's whole configuration.
    """
    checks.check_is_model(model, name="build_fixed_model")
    if not isinstance(model, keras.Sequential):
        raise AssertionError(f"build the model as a keras.Sequential stack of layers, got {type(model).__name__} "
                             "(the capstone's repair is a plain stack: no residual connections)")
    try:
        has_inputs = bool(model.inputs)
    except (AttributeError, ValueError):  # a Sequential model without keras.Input is not built yet
        has_inputs = False
    if not has_inputs:
        raise AssertionError(f"the model has no input shape yet: start it with keras.Input(shape=({n_features},))")
    checks.check_input_shape(model, n_features)
    with checks.explained("capstone.check_budget, reading the model's layers",
                          hint="build the model from Keras layers with their usual arguments"):
        _check_layers(model, n_classes, budget)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise AssertionError("the model is not compiled: call model.compile(...) before returning it")
    if int(optimizer.iterations.numpy()) != 0:
        raise AssertionError(f"return the model untrained: its optimizer has already made "
                             f"{int(optimizer.iterations.numpy())} steps; the grader trains a fresh copy of it "
                             "under the budget (weights learned inside the builder are thrown away)")
    _check_optimizer(optimizer, budget)
    _check_loss(model)


def _learning_rate(optimizer) -> float | None:
    """The optimizer's learning rate as a float (None for a schedule)."""
    value = optimizer.get_config()["learning_rate"]  # a schedule's config is a dict
    return float(value) if isinstance(value, int | float) else None


def fresh_copy(model: keras.Model, *, name: str = "the builder") -> keras.Model:
    """A freshly initialised copy of a compiled model: what the grader trains.

    The layers are rebuilt from their configuration (``keras.models.clone_model``): new weights drawn by
    their initializers, BatchNormalization's moving statistics reset; the copy is compiled with a new
    optimizer of the same configuration and the same loss. Weights set or learned in ``model`` are not
    carried over. Under the same ``set_seed`` the copy draws the weights the model was built with, when
    building it drew nothing else at random.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise AssertionError(f"{name} returned a model that is not compiled: call model.compile(...) before "
                             "returning it")
    with checks.explained(f"rebuilding the model {name} returned from its configuration (keras.models.clone_model)",
                          hint="build it from standard Keras layers with their usual arguments"):
        clone = keras.models.clone_model(model)
        clone.compile(optimizer=type(optimizer).from_config(optimizer.get_config()), loss=model.loss,
                      metrics=_compiled_metrics(model))
    return clone


def _compiled_metrics(model: keras.Model):
    """The metrics ``model`` was compiled with, when Keras can give them again (else none: training ignores them)."""
    try:
        metrics = (model.get_compile_config() or {}).get("metrics")
        return keras.saving.deserialize_keras_object(metrics) if metrics is not None else None
    except Exception:  # a metric Keras cannot rebuild from its configuration
        return None


# The explorer's model builder, locked while a builder is checked (it lives in course.capstone_experiments,
# which imports this module: named here, not imported).
EXPLORER_MODEL = "course.capstone_experiments.explorer_model"


# --- training under the budget, with a gradient-norm trace -----------------------------------------

@dataclass
class BudgetRun:
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
        """The trained model (a fresh copy made when first asked for, given the trained weights)."""
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
            build: Callable[[], keras.Model]) -> BudgetRun:
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
        return BudgetRun(step_loss=steps.loss, grad_norms=steps.grad_norms,
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
_RUNS: dict[tuple, BudgetRun] = {}  # (builder, seed, split seed, budget, check) -> BudgetRun
_INITIAL: dict[tuple, list[np.ndarray]] = {}  # (builder, seed, checked) -> weights just after building


def _builder_name(build_fn, n_features: int, n_classes: int) -> str:
    return f"{getattr(build_fn, '__name__', 'the builder')}({n_features}, {n_classes})"


def _build(build_fn: Callable[[int, int], keras.Model], seed: int, n_features: int, n_classes: int,
           budget: Budget, check: bool) -> tuple[keras.Model, keras.Model]:
    """The builder's model and the fresh copy of it that the grader trains, both made under ``set_seed(seed)``.

    With ``check``, the builder runs with the capstone's own repair helpers locked (exercise 3 asks students
    to build the network themselves) and its model must pass :func:`check_budget`. Any error of the builder
    becomes one sentence (an ``AssertionError``) naming the call.
    """
    name = _builder_name(build_fn, n_features, n_classes)
    set_seed(seed)
    if check:
        with lockout.off_limits(EXPLORER_MODEL, exercise="exercise 3", instead="build the repaired network yourself"):
            built = checks.call(build_fn, n_features, n_classes, name=name)
        check_budget(built, n_features, n_classes, budget)
    else:
        built = checks.call(build_fn, n_features, n_classes, name=name)
        checks.check_is_model(built, name=name)
    set_seed(seed)  # the copy's initializers draw the seeds the builder's drew: an honest builder's weights
    return built, fresh_copy(built, name=name)


def train_under_budget(build_fn: Callable[[int, int], keras.Model], *, seed: int = 0, split_seed: int = 0,
                       budget: Budget = BUDGET, check: bool = True) -> BudgetRun:
    """Build a model with ``build_fn(64, 10)`` under ``set_seed(seed)`` and train a fresh copy as the grader does.

    The copy (:func:`fresh_copy`) has the builder's layers, initializers, optimizer configuration and loss,
    and new weights: what the builder did to its model's weights (training included) is thrown away.
    ``budget.epochs`` epochs of mini-batches of ``budget.batch_size`` (reshuffled each epoch from ``seed``)
    on ``digits_split(split_seed)``, with the copy's optimizer (clipping included) and loss.
    ``check`` first applies :func:`check_budget` and locks :func:`explorer_model` while the builder runs.
    Tracing the training loop of a 20-layer network costs seconds, so it is traced once per builder and
    reused; a run already made with the same builder (the same function object), seeds and budget is
    returned again without training.
    """
    key = (build_fn, seed, split_seed, budget, check)
    if key in _RUNS:
        return _RUNS[key]
    split = digits_split(split_seed)
    n_features, n_classes = split.X_train.shape[1], int(split.y_train.max()) + 1
    built, fresh = _build(build_fn, seed, n_features, n_classes, budget, check)
    name = _builder_name(build_fn, n_features, n_classes)
    initial = fresh.get_weights()
    _remember(_INITIAL, (build_fn, seed, check), initial, 32)
    with checks.explained(f"training a fresh copy of the model of {name} under the budget"):
        runner = _RUNNERS.get(build_fn)
        if runner is None or runner.signature != _signature(fresh):
            _RUNNERS.pop(build_fn, None)
            _remember(_RUNNERS, build_fn, _Runner(fresh), 4)  # the fresh copy becomes the runner's
            runner = _RUNNERS[build_fn]
        run = runner.run(initial, split, seed, budget, build=lambda: fresh_copy(built, name=name))
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
    """First/last kernel-gradient-norm ratio of a fresh copy of the model ``build_fn`` builds under ``seed``.

    Measured with :mod:`course.diagnostics` on the first ``n_examples`` training examples of
    ``digits_split(split_seed)``, in training mode (Batch Normalization uses the batch's statistics), on
    the fresh copy :func:`train_under_budget` would train (weights set inside the builder do not count).
    ``check`` first applies :func:`check_budget` (and locks :func:`explorer_model` while the builder runs).
    When :func:`train_under_budget` already built this builder under this seed, its initial weights are
    reused instead of building again.
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
        _, model = _build(build_fn, seed, n_features, n_classes, BUDGET, check)
    with checks.explained(f"measuring the gradients of a fresh copy of the model of "
                          f"{_builder_name(build_fn, n_features, n_classes)}"):
        norms = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))
    return diagnostics.first_last_ratio(norms)
