"""Unit tests of course.activations: curves, the fast training loop, depth profiles, the explorer."""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import course  # noqa: E402
from course import activations, diagnostics  # noqa: E402
from course.data import load_iris_petals  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 12)).astype("float32")  # standardized-like inputs
Y = (X[:, 0] + X[:, 1] > 0).astype("int64") + (X[:, 2] > 1).astype("int64")  # 3 classes


def _labelled_lines(ax):
    """The plotted data lines (reference lines such as axhline have labels starting with '_')."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


# --- curves ----------------------------------------------------------------------------------------

def test_keras_activation_binds_the_parameter():
    z = np.array([-2.0, 3.0])
    leaky = activations.keras_activation("leaky_relu", 0.1)
    elu = activations.keras_activation("elu", 0.5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(leaky(z)), [-0.2, 3.0], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(elu(z)), [0.5 * np.expm1(-2.0), 3.0], rtol=1e-6)
    assert leaky.__name__ == "leaky_relu"
    assert activations.keras_activation("relu", 0.7) is keras.activations.relu  # no parameter: ignored


def test_curve_gives_the_tape_derivative_and_its_conventions_at_zero():
    z = np.array([-1.0, 0.0, 1.0])
    values, derivatives = activations.curve("sigmoid", z)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(values, s, rtol=1e-12)
    np.testing.assert_allclose(derivatives, s * (1 - s), rtol=1e-12)
    assert values.dtype == np.float64
    assert activations.curve("relu", [0.0])[1][0] == 0.0
    assert activations.curve("leaky_relu", [0.0], 0.3)[1][0] == pytest.approx(0.3)
    assert activations.curve("elu", [0.0], 0.5)[1][0] == pytest.approx(0.5)
    assert activations.curve("selu", [0.0])[1][0] == pytest.approx(1.0507009873554805)


# --- training --------------------------------------------------------------------------------------

def _small(activation="relu", seed=0):
    course.set_seed(seed)
    return keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(16, activation=activation),
                             keras.layers.Dense(3, activation="softmax")])


def _loss(model):
    return float(keras.losses.SparseCategoricalCrossentropy()(Y, model(X)))


def test_train_full_batch_lowers_the_loss_and_is_repeatable():
    a, b = _small(seed=3), _small(seed=3)
    before = _loss(a)
    last_a = activations.train_full_batch(a, X, Y, learning_rate=0.01, steps=50)
    last_b = activations.train_full_batch(b, X, Y, learning_rate=0.01, steps=50)
    assert _loss(a) < before
    assert last_a == last_b
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_train_full_batch_matches_plain_gradient_descent():
    model = _small("tanh", seed=4)
    reference = _small("tanh", seed=4)
    activations.train_full_batch(model, X, Y, learning_rate=0.1, steps=1, optimizer="sgd")
    reference.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    reference.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_train_full_batch_restores_the_tensorflow_log_level():
    logger = logging.getLogger("tensorflow")
    level = logger.level
    activations.train_full_batch(_small(), X, Y, learning_rate=0.01, steps=2)
    assert logger.level == level


def test_a_large_learning_rate_kills_relu_units_and_not_leaky_ones():
    """The notebook's setting: standardized iris petals, 4 x 32 units, Adam at 0.1 (about half die)."""
    X_raw, y = load_iris_petals()
    X_std = (X_raw - X_raw.mean(axis=0)) / X_raw.std(axis=0)
    dead = {}
    for activation in ("relu", "leaky_relu"):
        course.set_seed(0)
        hidden = [keras.layers.Dense(32, activation=activation, kernel_initializer="he_normal")
                  for _ in range(4)]
        output = keras.layers.Dense(3, activation="softmax")
        model = keras.Sequential([keras.Input(shape=(2,)), *hidden, output])
        activations.train_full_batch(model, X_std, y, learning_rate=0.1, steps=100)
        dead[activation] = np.mean([s.dead_fraction for s in diagnostics.activation_stats(model, X_std)[:-1]])
    assert dead["relu"] > 0.3
    assert dead["leaky_relu"] == 0.0


# --- depth profiles --------------------------------------------------------------------------------

def test_depth_profile_is_the_forward_pass_of_a_dense_stack():
    means, stds = activations.depth_profile(X, depth=3, activation="elu", param=0.5, initializer="he_normal",
                                            width=7, seed=4)
    elu = activations.keras_activation("elu", 0.5)
    layers = [keras.layers.Dense(7, activation=elu, bias_initializer="zeros",
                                 kernel_initializer=diagnostics.scaled_initializer("he_normal", seed=4 + i))
              for i in range(3)]
    h = X
    for index, layer in enumerate(layers):
        h = keras.ops.convert_to_numpy(layer(h))
        assert means[index] == pytest.approx(h.mean(), rel=1e-4, abs=1e-6)
        assert stds[index] == pytest.approx(h.std(), rel=1e-4)


def test_selu_with_lecun_normal_keeps_its_statistics_and_he_normal_does_not():
    means, stds = activations.depth_profile(X, depth=30, activation="selu", initializer="lecun_normal")
    assert means.shape == stds.shape == (30,)
    assert np.all((0.7 < stds) & (stds < 1.3)) and np.all(np.abs(means) < 0.3)
    _, he_stds = activations.depth_profile(X, depth=30, activation="selu", initializer="he_normal")
    assert he_stds[-1] > 3


def test_depth_profile_is_repeatable_for_a_seed():
    first = activations.depth_profile(X, depth=4, activation="tanh", initializer="glorot_uniform", seed=2)
    again = activations.depth_profile(X, depth=4, activation="tanh", initializer="glorot_uniform", seed=2)
    other = activations.depth_profile(X, depth=4, activation="tanh", initializer="glorot_uniform", seed=3)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_plots_draw_one_line_per_profile_and_two_per_curve():
    profile = activations.depth_profile(X, depth=3, activation="relu", initializer="he_normal")
    axes = activations.plot_depth_profiles({"a": profile, "b": (profile[0], np.zeros(3))})
    assert [line.get_label() for line in _labelled_lines(axes[0])] == ["a", "b"]
    assert axes[1].get_yscale() == "log"
    assert np.all(np.isnan(_labelled_lines(axes[1])[1].get_ydata()))  # a zero std is a gap on a log axis
    ax = activations.plot_curve("gelu")
    assert [line.get_label() for line in _labelled_lines(ax)] == ["gelu(z)", "derivative"]


def test_describe_depth_profile():
    assert "inf or NaN" in activations.describe_depth_profile([0.0, 1.0], [1.0, float("inf")])
    assert "std 2" in activations.describe_depth_profile([0.0, 0.5], [1.0, 2.0])


# --- the explorer ----------------------------------------------------------------------------------

def test_activation_explorer_redraws_and_enables_the_parameter_when_it_applies():
    box = activations.activation_explorer(X, width=32)
    controls, image, summary = box.children
    activation, param = controls.children[0].children
    initializer, depth = controls.children[1].children
    def mean_lines():
        return _labelled_lines(box.figure.axes[1])

    assert bytes(image.value).startswith(b"\x89PNG")
    assert activation.value == "selu" and param.disabled
    assert len(mean_lines()[0].get_ydata()) == depth.value
    first_png, first_summary = bytes(image.value), summary.value

    activation.value = "leaky_relu"
    assert not param.disabled and param.description == "negative slope" and param.value == 0.2
    assert mean_lines()[0].get_label().startswith("leaky_relu (negative slope 0.2)")
    activation.value = "elu"
    assert not param.disabled and param.description == "alpha" and param.value == 1.0
    assert (param.min, param.max) == (0.1, 3.0)
    param.value = 2.5
    assert "alpha 2.5" in mean_lines()[0].get_label()
    activation.value = "leaky_relu"  # from ELU's range back to LeakyReLU's: the value fits the new range
    assert param.value == 0.2 and param.max == 1.0
    activation.value = "tanh"
    assert param.disabled

    depth.value = 7
    assert len(mean_lines()) == 1 and len(mean_lines()[0].get_ydata()) == 7  # redrawn in place
    initializer.value = "he_normal"
    assert mean_lines()[0].get_label() == "tanh, he_normal"
    assert summary.value != first_summary and bytes(image.value) != first_png


# --- the table's newer activations, and training watched step by step --------------------------

def test_curve_gives_the_closed_form_derivatives_of_gelu_and_silu():
    """Notebook 03's table: GELU' = Phi(z) + z phi(z), SiLU' = s(z) (1 + z (1 - s(z)))."""
    from scipy.special import erf

    z = np.linspace(-6.0, 6.0, 241)
    s = 1 / (1 + np.exp(-z))
    values, derivatives = activations.curve("silu", z)
    np.testing.assert_allclose(values, z * s, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(derivatives, s * (1 + z * (1 - s)), rtol=1e-12, atol=1e-15)
    gelu_derivative = 0.5 * (1 + erf(z / np.sqrt(2))) + z * np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(activations.curve("gelu", z)[1], gelu_derivative, atol=1e-7)


def test_measure_while_training_measures_before_and_after_each_step_of_train_full_batch():
    watched, reference = _small(seed=5), _small(seed=5)
    before = _loss(watched)
    losses = activations.measure_while_training(watched, X, Y, measure=_loss, learning_rate=0.01, steps=20)
    activations.train_full_batch(reference, X, Y, learning_rate=0.01, steps=20)
    assert len(losses) == 21 and losses[0] == before and losses[-1] < losses[0]
    assert losses[-1] == pytest.approx(_loss(reference), rel=1e-5)
    for ours, theirs in zip(watched.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_loss_curve_is_the_loss_before_each_step_and_after_the_last():
    model, reference = _small(seed=6), _small(seed=6)
    before = _loss(model)
    curve = activations.loss_curve(model, X, Y, learning_rate=0.01, steps=15)
    watched = activations.measure_while_training(reference, X, Y, measure=_loss, learning_rate=0.01, steps=15)
    assert curve.shape == (16,) and curve[0] == pytest.approx(before, rel=1e-6)
    np.testing.assert_allclose(curve, watched, rtol=1e-5)
    assert curve[-1] == pytest.approx(_loss(model), rel=1e-6)


def test_relu_units_die_over_several_adam_steps_at_a_large_learning_rate():
    """Notebook 03, section 1: under Adam at 0.1 the dead fraction builds over the first steps, not in one."""
    X_raw, y = load_iris_petals()
    X_std = (X_raw - X_raw.mean(axis=0)) / X_raw.std(axis=0)
    course.set_seed(0)
    model = keras.Sequential([keras.Input(shape=(2,))]
                             + [keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal")
                                for _ in range(4)] + [keras.layers.Dense(3, activation="softmax")])

    def dead(m):
        return float(np.mean([s.dead_fraction for s in diagnostics.activation_stats(m, X_std)[:-1]]))

    per_step = activations.measure_while_training(model, X_std, y, measure=dead, learning_rate=0.1, steps=20)
    assert per_step[0] < per_step[1] < per_step[20]
    assert per_step[20] - per_step[1] > 0.1  # most of the dying happens after the first step


def test_units_that_start_equal_stay_equal():
    """Notebook 02, section 7: constant kernels give identical units, and Adam keeps them identical."""
    course.set_seed(0)
    constant = keras.initializers.Constant(0.1)
    model = keras.Sequential([keras.Input(shape=(12,)),
                              keras.layers.Dense(8, activation="tanh", kernel_initializer=constant),
                              keras.layers.Dense(8, activation="tanh", kernel_initializer=constant),
                              keras.layers.Dense(3, activation="softmax", kernel_initializer=constant)])
    last = activations.train_full_batch(model, X, Y, learning_rate=0.01, steps=50)
    assert last < np.log(3)  # it learned something ...
    for layer in model.layers[:2]:
        kernel = layer.get_weights()[0]
        assert np.ptp(kernel, axis=1).max() == 0.0  # ... with every unit of a layer a copy of the others
        assert not np.allclose(kernel, 0.1)
