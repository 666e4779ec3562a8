"""Assertion helpers for the visible and hidden tests.

Each helper raises ``AssertionError`` with a message a student can act on: what was
expected and what their code gave.  They inspect Keras objects through public API
only, so the framework is the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import numpy as np


def _fail(message: str) -> None:
    raise AssertionError(message)


def check_array(value, *, shape: tuple[int, ...] | None = None, name: str = "the result") -> np.ndarray:
    """``value`` converts to a finite float array, of ``shape`` when given; returns it."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name} should be an array of numbers, got {type(value).__name__}") from exc
    if shape is not None and array.shape != tuple(shape):
        _fail(f"{name} should have shape {tuple(shape)}, got {array.shape}")
    return array


def plain(value):
    """``value`` as a reader writes it: numpy scalars as Python numbers, containers element by element."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return type(value)(plain(item) for item in value)
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    return value


def _digits_to_show(actual: np.ndarray, expected: np.ndarray) -> int:
    """Enough significant digits that two numbers which differ print differently (4 at least, 17 at most)."""
    with np.errstate(all="ignore"):
        relative = np.abs(actual - expected) / np.maximum(np.abs(expected), np.finfo(float).tiny)
    finite = relative[np.isfinite(relative) & (relative > 0)]
    if not finite.size:
        return 4
    return int(min(17, max(4, np.ceil(-np.log10(finite.min())) + 2)))


def _numbers(array: np.ndarray, digits: int) -> str:
    """An array with ``digits`` significant digits per number (3e-4 and 3.0001e-4 print apart)."""
    return np.array2string(array, separator=", ", formatter={"float_kind": lambda x: f"{x:.{digits}g}"},
                           threshold=50)


def check_close(
    actual, expected, *, name: str = "the result", rtol: float = 1e-4, atol: float = 1e-7
) -> None:
    """``actual`` equals ``expected`` elementwise within tolerance (same shape).

    The message gives the largest absolute and relative difference, where it is, and the tolerance,
    with enough digits to see the miss.
    """
    expected = np.asarray(expected, dtype=float)
    actual = check_array(actual, shape=expected.shape, name=name)
    if not np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
        with np.errstate(all="ignore"):  # inf and overflow are part of what a message may have to say
            _fail_close(actual, expected, name=name, rtol=rtol, atol=atol)


def _fail_close(actual: np.ndarray, expected: np.ndarray, *, name: str, rtol: float, atol: float) -> None:
    """Raise the message of a failed ``check_close``: where, by how much, and the tolerance."""
    difference = np.abs(actual - expected)
    difference = np.where(np.isnan(actual) != np.isnan(expected), np.inf, np.nan_to_num(difference, nan=0.0))
    worst = int(np.argmax(difference.ravel())) if actual.size else 0
    got, want = actual.ravel()[worst], expected.ravel()[worst]
    relative = abs(got - want) / abs(want) if want else float("inf")
    digits = _digits_to_show(actual, expected)
    position = tuple(int(index) for index in np.unravel_index(worst, actual.shape))
    where = f" at position {position[0] if len(position) == 1 else position}" if actual.ndim else ""
    if np.isnan(got) != np.isnan(want):
        miss = f"NaN{where} where {want:g} was expected" if np.isnan(got) else \
            f"{got:g}{where} where NaN was expected"
        _fail(f"{name} is not what was expected: got {_numbers(actual, digits)}, "
              f"expected {_numbers(expected, digits)}; {miss}")
    _fail(
        f"{name} is not what was expected: got {_numbers(actual, digits)}, "
        f"expected {_numbers(expected, digits)}; the largest difference is "
        f"{abs(got - want):.3g} (relative {relative:.3g}){where}: got {got:.{digits}g}, expected "
        f"{want:.{digits}g}, and the tolerance is {atol:g} + {rtol:g} x |expected|"
    )


def check_equal(actual, expected, *, name: str) -> None:
    """Plain equality with a message naming both values (as plain numbers, not numpy reprs)."""
    if actual != expected:
        _fail(f"{name}: expected {plain(expected)!r}, got {plain(actual)!r}")


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The model's Dense layers, input to output."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def check_is_model(model, *, name: str = "your function") -> None:
    """``model`` is a Keras model (not None, not a list of layers)."""
    if not isinstance(model, keras.Model):
        _fail(f"{name} should return a keras.Model (keras.Sequential or a Functional keras.Model), "
              f"got {type(model).__name__}")


def check_layer_count(model: keras.Model, layer_type: type, expected: int) -> None:
    """The model holds exactly ``expected`` layers of ``layer_type``."""
    found = sum(isinstance(layer, layer_type) for layer in model.layers)
    if found != expected:
        _fail(f"expected {expected} {layer_type.__name__} layers, found {found}")


def check_input_shape(model: keras.Model, n_features: int) -> None:
    """The model takes inputs of ``n_features`` features."""
    shape = tuple(model.inputs[0].shape) if model.inputs else None
    if shape != (None, n_features):
        _fail(f"the model's input shape should be (None, {n_features}); got {shape} "
              f"(start the model with keras.Input(shape=({n_features},)))")


# --- One rule for structure: what counts as the same activation and the same initializer -----------------

# Layers that are an activation function applied on their own (after a Dense layer without one).
ACTIVATION_LAYERS = (keras.layers.Activation, keras.layers.ELU, keras.layers.ReLU, keras.layers.LeakyReLU)
_ACTIVATION_DEFAULTS = {"elu": ("alpha", 1.0), "leaky_relu": ("negative_slope", 0.2)}


def _with_parameter(name: str, parameter: str, value: float) -> str:
    """ELU at its default alpha reads "elu"; LeakyReLU always names its slope (the layer's default, 0.3, is not the
    function's, 0.2)."""
    if name == "elu" and float(value) == 1.0:
        return name
    return f"{name}({parameter}={float(value):g})"


def activation_spec(thing) -> str:
    """The activation a name, function, Dense layer or activation layer applies, as one comparable string.

    ``"elu"``, ``Dense(activation="elu")``, ``Activation("elu")`` and ``ELU()`` all give ``"elu"``;
    ``LeakyReLU(negative_slope=0.3)`` and ``ReLU(negative_slope=0.3)`` give ``"leaky_relu(negative_slope=0.3)"``;
    the string ``"leaky_relu"`` (Keras' default slope 0.2) gives ``"leaky_relu(negative_slope=0.2)"``.
    """
    if isinstance(thing, keras.layers.ELU):
        return _with_parameter("elu", "alpha", thing.alpha)
    if isinstance(thing, keras.layers.LeakyReLU):
        return _with_parameter("leaky_relu", "negative_slope", thing.negative_slope)
    if isinstance(thing, keras.layers.ReLU):
        max_value, slope, threshold = thing.max_value, float(thing.negative_slope), float(thing.threshold)
        if max_value is None and threshold == 0.0:
            return "relu" if slope == 0.0 else _with_parameter("leaky_relu", "negative_slope", slope)
        return f"relu(max_value={max_value}, negative_slope={slope:g}, threshold={threshold:g})"
    if isinstance(thing, keras.layers.Layer):
        function = getattr(thing, "activation", None)
    else:
        function = keras.activations.get(thing)
    if function is None:
        return "linear"
    if isinstance(function, ACTIVATION_LAYERS):  # Dense(activation=keras.layers.ELU())
        return activation_spec(function)
    name = getattr(function, "__name__", type(function).__name__)
    if name in _ACTIVATION_DEFAULTS:
        return _with_parameter(name, *_ACTIVATION_DEFAULTS[name])
    return name


@dataclass(frozen=True)
class DenseBlock:
    """A Dense layer and the activation applied to its output: its own, or the activation layer right after it."""

    dense: keras.layers.Dense
    activation: str
    activation_layer: keras.layers.Layer | None  # the separate activation layer, when there is one


def _chain(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers input to output, without the InputLayer (Functional models list it, Sequential not)."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def dense_blocks(model: keras.Model) -> list[DenseBlock]:
    """Each Dense layer with its activation, whether built in (``activation="elu"``) or the next layer."""
    layers = _chain(model)
    blocks = []
    for position, layer in enumerate(layers):
        if not isinstance(layer, keras.layers.Dense):
            continue
        following = layers[position + 1] if position + 1 < len(layers) else None
        if activation_spec(layer) == "linear" and isinstance(following, ACTIVATION_LAYERS):
            blocks.append(DenseBlock(layer, activation_spec(following), following))
        else:
            blocks.append(DenseBlock(layer, activation_spec(layer), None))
    return blocks


def check_activation(layer, expected, *, index: int) -> None:
    """Dense layer ``index`` (1-based) applies activation ``expected``: in the layer or as the next layer.

    ``layer`` is a ``DenseBlock`` (from ``dense_blocks``) or a layer; ``expected`` a name, function or layer.
    """
    found = layer.activation if isinstance(layer, DenseBlock) else activation_spec(layer)
    expected_spec = activation_spec(expected)
    if found != expected_spec:
        _fail(f"Dense layer {index} applies the activation {found!r}, expected {expected_spec!r} "
              f"(activation={expected_spec.split('(')[0]!r} in the Dense layer, or an activation layer right after it)")


_NAMED_VARIANCE_SCALING = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                           "lecun_normal")


def _resolve_initializer(initializer):
    if isinstance(initializer, type):
        initializer = initializer()
    return keras.initializers.get(initializer)


def initializer_distribution(initializer) -> tuple:
    """What an initializer draws from: ``("VarianceScaling", scale, mode, distribution)`` or its class and config.

    ``"he_normal"``, ``keras.initializers.HeNormal`` (class or instance) and
    ``VarianceScaling(2.0, "fan_in", "truncated_normal")`` give the same tuple; the seed does not count.
    """
    init = _resolve_initializer(initializer)
    if isinstance(init, keras.initializers.VarianceScaling):
        distribution = "truncated_normal" if init.distribution == "normal" else init.distribution
        return ("VarianceScaling", float(init.scale), init.mode, distribution)
    config = {key: value for key, value in init.get_config().items() if key != "seed"}
    return (type(init).__name__, tuple(sorted((key, repr(plain(value))) for key, value in config.items())))


def describe_initializer(initializer) -> str:
    """A reader's name for an initializer: ``he_normal``, or its class and parameters."""
    distribution = initializer_distribution(initializer)
    for name in _NAMED_VARIANCE_SCALING:
        if initializer_distribution(name) == distribution:
            return name
    if distribution[0] == "VarianceScaling":
        _, scale, mode, kind = distribution
        return f"VarianceScaling(scale={scale:g}, mode={mode!r}, distribution={kind!r})"
    name, parameters = distribution
    return f"{name}({', '.join(f'{key}={value}' for key, value in parameters)})"


def same_initializer(found, expected) -> bool:
    """Both initializers draw from the same distribution (name, class, instance or equivalent VarianceScaling)."""
    return initializer_distribution(found) == initializer_distribution(expected)


def check_initializer(layer: keras.layers.Layer, expected, *, index: int) -> None:
    """Dense layer ``index`` draws its kernel like ``expected`` (a name, class, instance or VarianceScaling)."""
    dense = layer.dense if isinstance(layer, DenseBlock) else layer
    if not same_initializer(dense.kernel_initializer, expected):
        _fail(f"Dense layer {index} draws its kernel with {describe_initializer(dense.kernel_initializer)}, "
              f"expected {describe_initializer(expected)} (kernel_initializer={describe_initializer(expected)!r} "
              f"or an equivalent VarianceScaling)")


def check_dense_stack(
    model: keras.Model,
    *,
    n_features: int,
    units: Sequence[int],
    activations: Sequence[str],
    initializer,
    n_hidden_checked_for_initializer: int | None = None,
) -> None:
    """A plain MLP (Sequential or Functional): input shape, Dense count, units, activations, kernel initializers.

    An activation counts whether it is built into the Dense layer or is the layer right after it.
    """
    check_is_model(model)
    check_input_shape(model, n_features)
    check_layer_count(model, keras.layers.Dense, len(units))
    blocks = dense_blocks(model)
    rows = zip(blocks, units, activations, strict=True)
    for index, (block, n_units, activation) in enumerate(rows, start=1):
        if block.dense.units != n_units:
            _fail(f"Dense layer {index} has {block.dense.units} units, expected {n_units}")
        check_activation(block, activation, index=index)
    n_checked = n_hidden_checked_for_initializer
    if n_checked is None:
        n_checked = len(blocks) - 1
    for index, block in enumerate(blocks[:n_checked], start=1):
        check_initializer(block, initializer, index=index)


def check_in(value, allowed: Sequence, *, name: str) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        _fail(f"{name} should be one of {list(allowed)!r}, got {value!r}")


def _where_in_student_code(traceback) -> str:
    """`` (in build_model, line 4 of its cell)`` for the deepest frame of a notebook cell inside a function."""
    where = ""
    while traceback is not None:
        code = traceback.tb_frame.f_code
        in_cell = "ipykernel_" in code.co_filename or code.co_filename.startswith("<ipython-input")
        if in_cell and code.co_name != "<module>":
            where = f" (in {code.co_name}, line {traceback.tb_lineno} of its cell)"
        traceback = traceback.tb_next
    return where


def _sentence(what: str, exc: BaseException, hint: str = "") -> str:
    if isinstance(exc, NotImplementedError):
        return f"{what}: the exercise is not written yet (it still raises NotImplementedError)"
    if isinstance(exc, NameError):
        return f"{what}: {exc} (run the cell that defines it, or restore it if it was deleted)"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else "(no message)"
    # A student's function called by the grader's judge raised in its own kernel: it says where.
    where = getattr(exc, "where_in_student_code", None) or _where_in_student_code(exc.__traceback__)
    sentence = f"{what} raised {type(exc).__name__}: {message}{where}"
    return f"{sentence}; {hint}" if hint else sentence


@contextmanager
def explained(what: str, *, hint: str = "") -> Iterator[None]:
    """Turn any error but a failed check inside the block into one sentence: what the grader did, what went wrong.

    ``what`` says what the grader was doing ("training build_bn_model() for 3 epochs"); ``hint`` what to
    change when a known mistake causes it.
    """
    try:
        yield
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(_sentence(what, exc, hint)) from exc


def call(function: Callable, *args, name: str, hint: str = "", **kwargs):
    """Call the student's ``function``; any error becomes a sentence naming the call (``name``) and the error."""
    with explained(name, hint=hint):
        return function(*args, **kwargs)


def check_compiled(model: keras.Model, *, optimizer: type, loss: str) -> None:
    """The model is compiled with an optimizer of class ``optimizer`` and the loss named ``loss``."""
    if getattr(model, "optimizer", None) is None:
        _fail("the model is not compiled: call model.compile(...) before returning it")
    if not isinstance(model.optimizer, optimizer):
        _fail(f"the model is compiled with {type(model.optimizer).__name__}, expected {optimizer.__name__}")
    found = model.loss
    if isinstance(found, str):
        found_name = found
    else:
        found_name = getattr(found, "name", None) or getattr(found, "__name__", "")
    if found_name != loss:
        _fail(f"the model is compiled with the loss {found_name!r}, expected {loss!r}")


def check_keras_name(name, *, kind: str) -> None:
    """``name`` is a string Keras resolves as an ``activation`` or ``initializer``."""
    getter = {"activation": keras.activations.get, "initializer": keras.initializers.get}[kind]
    if not isinstance(name, str):
        _fail(f"the {kind} should be given as a name (a string such as 'elu'), got {type(name).__name__}")
    try:
        getter(name)
    except (ValueError, TypeError) as exc:
        raise AssertionError(f"Keras does not know an {kind} called {name!r}") from exc
