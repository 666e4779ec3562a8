"""Assertion helpers for the visible and hidden tests.

Each helper raises ``AssertionError`` with a message a student can act on: what was
expected and what their code gave.  They inspect Keras objects through public API
only, so the framework is the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(actual - expected) / np.maximum(np.abs(expected), np.finfo(float).tiny)
    finite = relative[np.isfinite(relative) & (relative > 0)]
    if not finite.size:
        return 4
    return int(min(17, max(4, np.ceil(-np.log10(finite.min())) + 2)))


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
            _fail(f"{name} is not what was expected: got {np.array2string(actual, precision=digits)}, "
                  f"expected {np.array2string(expected, precision=digits)}; {miss}")
        _fail(
            f"{name} is not what was expected: got {np.array2string(actual, precision=digits)}, "
            f"expected {np.array2string(expected, precision=digits)}; the largest difference is "
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
        _fail(f"{name} should return a keras.Model (e.g. keras.Sequential), got {type(model).__name__}")


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


def activation_name(layer: keras.layers.Layer) -> str:
    """The name of a layer's activation function (``'linear'`` when it has none)."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"


def check_activation(layer: keras.layers.Layer, expected: str, *, index: int) -> None:
    """Layer ``index`` (1-based, counting Dense layers) uses activation ``expected``."""
    expected_name = activation_name(keras.layers.Dense(1, activation=expected))
    found = activation_name(layer)
    if found != expected_name:
        _fail(f"Dense layer {index} uses activation {found!r}, expected {expected_name!r}")


def check_initializer(layer: keras.layers.Layer, expected, *, index: int) -> None:
    """Layer ``index`` uses Keras' initializer ``expected`` (a name, class or instance) for its kernel."""
    expected_class = expected if isinstance(expected, type) else type(keras.initializers.get(expected))
    found = type(layer.kernel_initializer)
    if found is not expected_class:
        _fail(f"Dense layer {index} uses {found.__name__}, expected {expected_class.__name__}")


def check_dense_stack(
    model: keras.Model,
    *,
    n_features: int,
    units: Sequence[int],
    activations: Sequence[str],
    initializer,
    n_hidden_checked_for_initializer: int | None = None,
) -> None:
    """A plain MLP: input shape, Dense layer count, units, activations and kernel initializers."""
    check_is_model(model)
    check_input_shape(model, n_features)
    check_layer_count(model, keras.layers.Dense, len(units))
    layers = dense_layers(model)
    rows = zip(layers, units, activations, strict=True)
    for index, (layer, n_units, activation) in enumerate(rows, start=1):
        if layer.units != n_units:
            _fail(f"Dense layer {index} has {layer.units} units, expected {n_units}")
        check_activation(layer, activation, index=index)
    n_checked = n_hidden_checked_for_initializer
    if n_checked is None:
        n_checked = len(layers) - 1
    for index, layer in enumerate(layers[:n_checked], start=1):
        check_initializer(layer, initializer, index=index)


def check_in(value, allowed: Sequence, *, name: str) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        _fail(f"{name} should be one of {list(allowed)!r}, got {value!r}")


def check_raises_nothing(function: Callable, *args, name: str, **kwargs):
    """Call ``function`` and turn the placeholder ``NotImplementedError`` into a clear failure."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError as exc:
        raise AssertionError(f"{name} is not written yet (it still raises NotImplementedError)") from exc


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
