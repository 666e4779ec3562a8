"""Unit tests of course.initialization: the forward-signal experiment, the deep ReLU run, the explorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import course  # noqa: E402
import course.data  # noqa: E402  (course.data.load_digits_standardized below)
from course import initialization  # noqa: E402
from course.initialization import TOO_LARGE, TOO_SMALL  # noqa: E402


def per_layer_factor(stds) -> float:
    """Geometric-mean factor by which a profile's std changes per layer."""
    stds = np.asarray(stds, dtype=float)
    return float((stds[-1] / stds[0]) ** (1 / (len(stds) - 1)))


# --- the forward-signal experiment --------------------------------------------------------------

@pytest.mark.parametrize("activation, weights, expected", [
    ("linear", "lecun_normal", 1.0),             # n * Var(w) = 1
    ("linear", "glorot_normal", 1.0),            # square layers: Glorot = LeCun
    ("linear", "he_normal", np.sqrt(2)),         # twice the variance per layer
    ("relu", "glorot_normal", 1 / np.sqrt(2)),   # ReLU halves the second moment
    ("relu", "he_normal", 1.0),                  # ... and He doubles it back
    ("linear", TOO_SMALL, 0.01 * 16),            # std 0.01 times sqrt(256)
    ("linear", TOO_LARGE, 16.0),
])
def test_activation_std_profile_follows_the_variance_argument(activation, weights, expected):
    stds = initialization.activation_std_profile(activation, weights, depth=30, seed=3)
    assert stds.shape == (30,)
    assert per_layer_factor(stds) == pytest.approx(expected, rel=0.03)


def test_too_large_weights_saturate_tanh_on_the_way_forward():
    stds = initialization.activation_std_profile("tanh", TOO_LARGE, depth=20)
    assert np.all(stds < 1.0) and stds[-1] > 0.9  # outputs near +-1


def test_saturated_tanh_makes_the_gradient_explode_on_the_way_back():
    """Notebook 02, end of section 2: n Var(w) E[tanh'(z)^2] = 256 x about 0.034, far above 1 (the chaotic phase)."""
    exploding = initialization.gradient_std_profile("tanh", TOO_LARGE, depth=30)
    assert 0.02 < exploding.derivative_moments.mean() < 0.05  # saturated: a small derivative ...
    assert exploding.factors.mean() > 5  # ... times n Var(w) = 256
    assert exploding.gradient_stds[0] > 1e10 * exploding.gradient_stds[-1]
    fading = initialization.gradient_std_profile("tanh", "lecun_normal", depth=30)
    assert 0.8 < fading.factors.mean() < 1.0 and fading.gradient_stds[0] < fading.gradient_stds[-1]


@pytest.mark.parametrize("activation, weights, gain", [("tanh", TOO_LARGE, 1.0), ("relu", "he_normal", 1.0),
                                                        ("sigmoid", "glorot_normal", 4.0)])
def test_the_backward_factor_predicts_how_the_gradient_grows(activation, weights, gain):
    profile = initialization.gradient_std_profile(activation, weights, depth=40, gain=gain, seed=2)
    measured = (profile.gradient_stds[0] / profile.gradient_stds[-1]) ** (2 / 39)  # variance ratio per layer
    predicted = float(np.exp(np.mean(np.log(profile.factors[1:]))))  # the factors of layers 2 to 40
    assert measured == pytest.approx(predicted, rel=0.05)


def test_gradient_std_profile_is_back_propagation():
    """The same gradients as tf.GradientTape through the same stack (float64), layer by layer."""
    import tensorflow as tf

    depth, width, n = 4, 16, 10
    profile = initialization.gradient_std_profile("elu", "he_normal", depth=depth, width=width, n_samples=n, seed=5)
    weights = keras.ops.convert_to_numpy(initialization.weight_initializer("he_normal", seed=5)((depth, width, width)))
    h = tf.constant(np.random.default_rng(5).standard_normal((n, width)))
    outputs = []
    with tf.GradientTape() as tape:
        for W in weights.astype(np.float64):
            h = keras.activations.elu(h @ W)
            tape.watch(h)
            outputs.append(h)
        loss = tf.reduce_sum(h * np.random.default_rng(6).standard_normal((n, width)))
    gradients = tape.gradient(loss, outputs)
    np.testing.assert_allclose(profile.gradient_stds, [np.std(g) for g in gradients], rtol=1e-10)
    np.testing.assert_allclose(profile.weight_factors, [width * W.var() for W in weights.astype(np.float64)],
                               rtol=1e-10)
    linear = initialization.gradient_std_profile("linear", "lecun_normal", depth=3, width=32)
    np.testing.assert_array_equal(linear.derivative_moments, 1.0)


def test_gain_multiplies_the_weights_standard_deviation():
    flat = initialization.activation_std_profile("linear", TOO_LARGE, depth=20, gain=1 / 16)
    assert per_layer_factor(flat) == pytest.approx(1.0, rel=0.03)
    he = initialization.activation_std_profile("relu", "glorot_normal", depth=20, gain=np.sqrt(2))
    assert per_layer_factor(he) == pytest.approx(1.0, rel=0.03)


def test_activation_std_profile_is_repeatable_and_rejects_unknown_activations():
    a = initialization.activation_std_profile("relu", "he_normal", depth=5, width=32, seed=1)
    b = initialization.activation_std_profile("relu", "he_normal", depth=5, width=32, seed=1)
    c = initialization.activation_std_profile("relu", "he_normal", depth=5, width=32, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match="activation"):
        initialization.activation_std_profile("sigmoidal", "he_normal", depth=2)
    with pytest.raises(ValueError, match="activation"):
        initialization.gradient_std_profile("sigmoidal", "he_normal", depth=2)


@pytest.mark.parametrize("activation", ["sigmoid", "leaky_relu", "selu", "gelu", "silu"])
def test_activation_std_profile_takes_every_activation_of_the_table(activation):
    stds = initialization.activation_std_profile(activation, "lecun_normal", depth=3, width=32)
    h = np.random.default_rng(0).standard_normal((100, 32))
    W = keras.ops.convert_to_numpy(initialization.weight_initializer("lecun_normal", seed=0)((3, 32, 32)))
    h = keras.ops.convert_to_numpy(keras.activations.get(activation)(h @ W[0].astype(np.float64)))
    assert stds[0] == pytest.approx(h.std(), rel=1e-12)


def test_overflow_is_reported_not_raised():
    stds = initialization.activation_std_profile("linear", TOO_LARGE, depth=100, gain=10.0)
    assert not np.all(np.isfinite(stds))
    assert "overflows" in initialization.describe_std_profile(stds)


@pytest.mark.parametrize("name, std", [(TOO_SMALL, 0.01), (TOO_LARGE, 1.0)])
def test_weight_initializer_named_scales(name, std):
    w = keras.ops.convert_to_numpy(initialization.weight_initializer(name, gain=2.0, seed=0)((300, 300)))
    assert w.std() == pytest.approx(2.0 * std, rel=0.02)


def test_weight_initializer_keeps_keras_variance_scaling():
    init = initialization.weight_initializer("he_normal", gain=3.0, seed=0)
    assert isinstance(init, keras.initializers.VarianceScaling)
    assert (init.scale, init.mode, init.distribution) == (18.0, "fan_in", "truncated_normal")


@pytest.mark.parametrize("name, variance", [("lecun_normal", 1 / 100), ("glorot_uniform", 2 / 150),
                                            ("he_uniform", 2 / 100)])
def test_weight_initializer_draws_a_stack_of_kernels_with_the_fans_of_one(name, variance):
    w = keras.ops.convert_to_numpy(initialization.weight_initializer(name, seed=0)((40, 100, 50)))
    assert w.var() == pytest.approx(variance, rel=0.02)


def test_weight_initializer_stack_is_cut_where_one_kernel_is():
    """he_normal on a stack: each matrix truncated at 2 sigma of one (100, 50) kernel, without input_axes."""
    init = initialization.weight_initializer("he_normal", seed=1)
    w = keras.ops.convert_to_numpy(init((30, 100, 50))).astype(np.float64)
    bound = 2 * np.sqrt(2 / 100) / 0.87962566103423978
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.99 * bound
    assert "input_axes" not in init.get_config() or init.get_config()["input_axes"] is None


def test_describe_std_profile():
    assert "x0.500 per layer" in initialization.describe_std_profile([1.0, 0.5, 0.25])
    assert "died out" in initialization.describe_std_profile([1.0, 0.0])
    assert initialization.describe_std_profile([0.7]) == "layer 1 std = 0.7"


def test_plot_activation_stds_draws_one_line_per_profile_on_a_log_axis():
    ax = initialization.plot_activation_stds({"a": [1.0, 0.5], "b": [1.0, float("inf")], "c": [0.0, 1.0]})
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()[:-1]] == ["a", "b", "c"]  # then the y = 1 guide
    assert np.isnan(ax.get_lines()[1].get_ydata()[1]) and np.isnan(ax.get_lines()[2].get_ydata()[0])


# --- data and training --------------------------------------------------------------------------

def test_load_digits_standardized():
    X, y = course.data.load_digits_standardized()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    varying = X.std(axis=0) > 0
    np.testing.assert_allclose(X[:, varying].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X[:, varying].std(axis=0), 1, rtol=1e-4)


def test_shuffled_batches_cover_the_data_every_epoch_in_a_repeatable_order():
    X = np.arange(10, dtype="float32")[:, None]
    y = np.arange(10)
    data = initialization.shuffled_batches(X, y, batch_size=4, seed=3)
    first, second = (np.concatenate(list(keras.ops.convert_to_numpy(b) for _, b in data)) for _ in range(2))
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert [len(b) for _, b in data] == [4, 4, 2]
    assert not np.array_equal(first, second)  # reshuffled each epoch
    again = initialization.shuffled_batches(X, y, batch_size=4, seed=3)
    np.testing.assert_array_equal(np.concatenate([keras.ops.convert_to_numpy(b) for _, b in again]), first)


def test_fit_shuffled_trains_repeatably_without_warnings(quiet_process):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2)).astype("float32")
    y = (X[:, 0] > 0).astype("int64")

    def run():
        course.set_seed(0)
        model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return initialization.fit_shuffled(model, X, y, epochs=3, seed=4, batch_size=8).history

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = run()
    assert len(first["loss"]) == 3 and first == run()


def _keras_copy(params):
    """A Keras model with the same layers and weights as a deep_relu parameter list."""
    layers = [keras.Input(shape=(params[0][0].shape[0],))]
    layers += [keras.layers.Dense(kernel.shape[1], activation="relu") for kernel, _ in params[:-1]]
    layers += [keras.layers.Dense(params[-1][0].shape[1], activation="softmax")]
    model = keras.Sequential(layers)
    model.set_weights([array for pair in params for array in pair])
    return model


def test_deep_relu_forward_matches_keras():
    params = initialization.deep_relu_init(5, 3, initializer="he_normal", depth=4, width=7, seed=2)
    assert [kernel.shape for kernel, _ in params] == [(5, 7), (7, 7), (7, 7), (7, 7), (7, 3)]
    X = np.random.default_rng(0).normal(size=(20, 5)).astype("float32")
    logits = initialization.deep_relu_forward(params, X)[-1]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, keras.ops.convert_to_numpy(_keras_copy(params)(X)), rtol=1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_deep_relu_step_is_keras_sgd(momentum):
    """Two steps of the NumPy back-propagation + SGD give the weights two Keras SGD steps give."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(16, 4)).astype("float32")
    y = rng.integers(0, 3, size=16)
    params = initialization.deep_relu_init(4, 3, initializer="he_normal", depth=3, width=6, seed=5)
    for _, bias in params:
        bias += rng.normal(scale=0.1, size=bias.shape).astype("float32")  # non-zero biases, a stronger test
    model = _keras_copy(params)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=momentum),
                  loss="sparse_categorical_crossentropy")
    loss_before = model.evaluate(X, y, verbose=0)
    velocities = [(np.zeros_like(kernel), np.zeros_like(bias)) for kernel, bias in params]
    step = dict(learning_rate=0.1, momentum=momentum)
    loss_sum, _ = initialization.deep_relu_step(params, velocities, X, y, **step)
    initialization.deep_relu_step(params, velocities, X, y, **step)
    model.train_on_batch(X, y)
    model.train_on_batch(X, y)
    assert loss_sum / len(X) == pytest.approx(loss_before, rel=1e-4)
    for mine, theirs in zip([a for pair in params for a in pair], model.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


def test_train_deep_relu_is_repeatable_and_learns():
    X, y = course.data.load_digits_standardized()
    a = initialization.train_deep_relu(X[:300], y[:300], initializer="he_normal", depth=3, width=16, epochs=3,
                                       seed=1)
    b = initialization.train_deep_relu(X[:300], y[:300], initializer="he_normal", depth=3, width=16, epochs=3,
                                       seed=1)
    assert a == b and len(a["loss"]) == 3
    assert a["loss"][-1] < a["loss"][0] < np.log(10) + 0.5


def test_glorot_stalls_where_he_learns_at_depth_30():
    """The notebook's section 5, on one seed: Glorot's loss stays at ln(10), He's falls."""
    X, y = course.data.load_digits_standardized()
    glorot = initialization.train_deep_relu(X, y, initializer="glorot_uniform", depth=30, epochs=3, seed=0)
    he = initialization.train_deep_relu(X, y, initializer="he_normal", depth=30, epochs=3, seed=0)
    assert abs(glorot["loss"][-1] - np.log(10)) < 1e-3
    assert he["loss"][-1] < 2.0


# --- the explorer -------------------------------------------------------------------------------

def test_activation_std_explorer_redraws_when_a_control_moves():
    box = initialization.activation_std_explorer()
    controls, image, summary = box.children
    activation, weights = controls.children[0].children
    gain, depth = controls.children[1].children
    lines = box.figure.axes[0].get_lines
    assert bytes(image.value).startswith(b"\x89PNG")
    assert summary.value.startswith("layer 1 std")
    assert len(lines()[0].get_ydata()) == 50
    before = summary.value
    depth.value = 10
    assert len(lines()) == 2 and len(lines()[0].get_ydata()) == 10  # redrawn in place, not added
    weights.value = "he_normal"
    assert summary.value != before
    gain.value = 2.0
    activation.value = "tanh"
    assert "tanh, he_normal" in lines()[0].get_label()
