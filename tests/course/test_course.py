"""Unit tests of the course package: instruments, checks, plots, widgets, seeding."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import course  # noqa: E402
from course import checks, diagnostics, plots, widgets  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 3)).astype("float32")
Y = RNG.integers(0, 3, size=32)


def softmax_model(n_in: int = 3, n_out: int = 3) -> keras.Model:
    return keras.Sequential([keras.Input(shape=(n_in,)), keras.layers.Dense(n_out, activation="softmax")])


# --- diagnostics ---------------------------------------------------------------------------------

def test_gradient_norms_match_the_closed_form_of_softmax_regression():
    course.set_seed(1)
    model = softmax_model()
    P = keras.ops.convert_to_numpy(model(X))
    residual = (P - np.eye(3)[Y]) / len(X)  # d(mean cross-entropy)/d(logits)
    norms = diagnostics.gradient_norms(model, X, Y)
    assert list(norms) == [v.path for v in model.trainable_variables]
    kernel_path, bias_path = list(norms)
    np.testing.assert_allclose(norms[kernel_path], np.linalg.norm(X.T @ residual), rtol=1e-5)
    np.testing.assert_allclose(norms[bias_path], np.linalg.norm(residual.sum(axis=0)), rtol=1e-5)


def test_kernel_norms_keep_kernels_in_model_order():
    course.set_seed(2)
    model = diagnostics.probe_network(3, 3, depth=4, activation="tanh", width=8)
    norms = diagnostics.gradient_norms(model, X, Y)
    kernels = diagnostics.kernel_norms(norms)
    assert kernels.shape == (5,)
    np.testing.assert_array_equal(kernels, [v for p, v in norms.items() if p.endswith("/kernel")])


def test_sigmoid_profile_vanishes_and_tanh_with_large_weights_explodes():
    sigmoid = diagnostics.gradient_profile(X, Y, depth=6, activation="sigmoid")
    assert diagnostics.first_last_ratio(sigmoid) < 1e-2
    tanh_large = diagnostics.gradient_profile(X, Y, depth=6, activation="tanh",
                                              initializer="random_normal", gain=20.0)
    assert diagnostics.first_last_ratio(tanh_large) > 5
    tanh_glorot = diagnostics.gradient_profile(X, Y, depth=6, activation="tanh")
    assert 0.1 < diagnostics.first_last_ratio(tanh_glorot) < 10


def test_gradient_profile_is_repeatable_for_a_seed():
    a = diagnostics.gradient_profile(X, Y, depth=3, activation="relu", initializer="he_normal", seed=5)
    b = diagnostics.gradient_profile(X, Y, depth=3, activation="relu", initializer="he_normal", seed=5)
    c = diagnostics.gradient_profile(X, Y, depth=3, activation="relu", initializer="he_normal", seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_first_last_ratio_edge_cases():
    assert diagnostics.first_last_ratio([1.0, 4.0]) == 0.25
    assert diagnostics.first_last_ratio([1.0, 0.0]) == float("inf")
    assert np.isnan(diagnostics.first_last_ratio([0.0, 0.0]))


@pytest.mark.parametrize(
    "name", ["glorot_uniform", "he_normal", "lecun_normal", "random_normal", "random_uniform"]
)
@pytest.mark.parametrize("gain", [0.5, 3.0])
def test_scaled_initializer_multiplies_the_standard_deviation(name, gain):
    shape = (400, 300)
    base = keras.ops.convert_to_numpy(diagnostics.scaled_initializer(name, 1.0, seed=3)(shape))
    scaled = keras.ops.convert_to_numpy(diagnostics.scaled_initializer(name, gain, seed=3)(shape))
    np.testing.assert_allclose(scaled.std() / base.std(), gain, rtol=0.02)


def test_scaled_initializer_keeps_keras_own_standard_deviation_at_gain_one():
    shape = (500, 200)
    ours = keras.ops.convert_to_numpy(diagnostics.scaled_initializer("he_normal", 1.0, seed=4)(shape))
    theirs = keras.ops.convert_to_numpy(keras.initializers.HeNormal(seed=4)(shape))
    np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.02)


def test_scaled_initializer_rejects_constant_initializers():
    with pytest.raises(ValueError, match="cannot scale"):
        diagnostics.scaled_initializer("zeros", 2.0)


def test_activation_stats_count_dead_and_saturated_units():
    model = keras.Sequential([
        keras.Input(shape=(2,)),
        keras.layers.Dense(4, activation="relu", kernel_initializer="ones",
                           bias_initializer=keras.initializers.Constant([0.0, 0.0, -100.0, -100.0])),
        keras.layers.Dense(2, activation="sigmoid", kernel_initializer=keras.initializers.Constant(50.0)),
    ])
    X_pos = np.abs(RNG.normal(size=(10, 2))).astype("float32") + 0.1
    relu, sigmoid = diagnostics.activation_stats(model, X_pos)
    assert relu.dead_fraction == 0.5  # the two units with bias -100 never fire
    assert relu.saturated_fraction == 0.0
    assert sigmoid.saturated_fraction == 1.0  # huge positive inputs: outputs are 1
    assert sigmoid.mean == pytest.approx(1.0)


def test_activation_stats_give_one_entry_per_layer_of_a_functional_model_too():
    inputs = keras.Input(shape=(2,))
    hidden = keras.layers.Dense(3, kernel_initializer="ones", bias_initializer=keras.initializers.Constant(-100.0))
    outputs = keras.layers.Dense(2, activation="sigmoid")(keras.layers.Activation("relu")(hidden(inputs)))
    stats = diagnostics.activation_stats(keras.Model(inputs, outputs), np.ones((4, 2), dtype="float32"))
    assert [s.name for s in stats] == [hidden.name, stats[1].name, stats[2].name] and len(stats) == 3
    assert stats[0].dead_fraction == 0.0 and stats[1].dead_fraction == 1.0  # dead after the Activation layer


# --- checks ----------------------------------------------------------------------------------------

def _mlp(units, activation="relu", init="he_normal"):
    layers = [keras.Input(shape=(2,))]
    layers += [keras.layers.Dense(n, activation=activation, kernel_initializer=init) for n in units[:-1]]
    layers += [keras.layers.Dense(units[-1], activation="softmax")]
    return keras.Sequential(layers)


def test_check_dense_stack_accepts_the_right_model():
    checks.check_dense_stack(_mlp([8, 4, 3]), n_features=2, units=[8, 4, 3],
                             activations=["relu", "relu", "softmax"], initializer="he_normal")


@pytest.mark.parametrize("model, kwargs, message", [
    (_mlp([8, 3]), {}, "expected 3 Dense layers, found 2"),
    (_mlp([8, 5, 3]), {}, "Dense layer 2 has 5 units, expected 4"),
    (_mlp([8, 4, 3], activation="tanh"), {}, "Dense layer 1 applies the activation 'tanh', expected 'relu'"),
    (_mlp([8, 4, 3], init="glorot_uniform"), {},
     "Dense layer 1 draws its kernel with glorot_uniform, expected he_normal"),
    (_mlp([8, 4, 3], init=keras.initializers.VarianceScaling(2.0, "fan_in", "uniform")), {},
     "Dense layer 1 draws its kernel with he_uniform, expected he_normal"),
    (_mlp([8, 4, 3]), {"n_features": 5}, "input shape should be (None, 5)"),
])
def test_check_dense_stack_says_what_is_wrong(model, kwargs, message):
    arguments = dict(n_features=2, units=[8, 4, 3], activations=["relu", "relu", "softmax"],
                     initializer="he_normal") | kwargs
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checks.check_dense_stack(model, **arguments)


def _separate_activations(functional: bool):
    """8 -> 4 -> 3 with the hidden activations as their own layers (Activation, ReLU) and He as VarianceScaling."""
    he = keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal")
    layers = [keras.layers.Dense(8, kernel_initializer=he), keras.layers.Activation("relu"),
              keras.layers.Dense(4, kernel_initializer=keras.initializers.HeNormal), keras.layers.ReLU(),
              keras.layers.Dense(3, activation="softmax")]
    if not functional:
        return keras.Sequential([keras.Input(shape=(2,)), *layers])
    inputs = keras.Input(shape=(2,))
    h = inputs
    for layer in layers:
        h = layer(h)
    return keras.Model(inputs, h)


@pytest.mark.parametrize("functional", [False, True], ids=["Sequential", "Functional"])
def test_check_dense_stack_accepts_every_way_of_writing_the_same_model(functional):
    checks.check_dense_stack(_separate_activations(functional), n_features=2, units=[8, 4, 3],
                             activations=["relu", "relu", "softmax"], initializer="he_normal")
    with pytest.raises(AssertionError, match="Dense layer 2 applies the activation 'relu', expected 'elu'"):
        checks.check_dense_stack(_separate_activations(functional), n_features=2, units=[8, 4, 3],
                                 activations=["relu", "elu", "softmax"], initializer="he_normal")


@pytest.mark.parametrize("written, expected, same", [
    (keras.layers.ELU(), "elu", True),
    (keras.layers.ELU(alpha=0.5), "elu", False),
    (keras.layers.Activation("elu"), keras.layers.Dense(2, activation="elu"), True),
    (keras.layers.LeakyReLU(), "leaky_relu", False),  # the layer's slope is 0.3, the function's 0.2
    (keras.layers.LeakyReLU(negative_slope=0.2), "leaky_relu", True),
    (keras.layers.ReLU(negative_slope=0.3), keras.layers.LeakyReLU(), True),
    (keras.layers.ReLU(max_value=6.0), "relu", False),
    (keras.layers.Dense(2), "linear", True),
    (keras.layers.Dense(2, activation=keras.layers.ELU()), "elu", True),
])
def test_an_activation_is_the_same_whichever_way_it_is_written(written, expected, same):
    assert (checks.activation_spec(written) == checks.activation_spec(expected)) is same


@pytest.mark.parametrize("written, expected, same", [
    ("he_normal", keras.initializers.HeNormal, True),
    (keras.initializers.HeNormal(seed=3), "he_normal", True),
    (keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal"), "he_normal", True),
    (keras.initializers.VarianceScaling(2.0, "fan_in", "normal"), "he_normal", True),  # Keras' alias
    (keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"), "he_normal", False),
    (keras.initializers.VarianceScaling(1.0, "fan_avg", "uniform"), "glorot_uniform", True),
    ("lecun_normal", "he_normal", False),
    (keras.initializers.RandomNormal(stddev=0.05, seed=1), "random_normal", True),
    (keras.initializers.RandomNormal(stddev=1.0), "random_normal", False),
])
def test_an_initializer_is_the_same_when_it_draws_from_the_same_distribution(written, expected, same):
    assert checks.same_initializer(written, expected) is same


def test_an_error_in_student_code_becomes_a_sentence():
    def diagnose(norms):
        return norms[0] / norms[-1]

    with pytest.raises(AssertionError, match=r"^diagnose\(\[1, 0\]\) raised ZeroDivisionError: division by zero"):
        checks.call(diagnose, [1, 0], name="diagnose([1, 0])")
    with pytest.raises(AssertionError, match="not written yet"):
        checks.call(lambda: (_ for _ in ()).throw(NotImplementedError), name="f()")
    with pytest.raises(AssertionError, match="evaluating the model raised TypeError: .*; compile with metrics"):
        with checks.explained("evaluating the model", hint="compile with metrics=['accuracy']"):
            loss, accuracy = 0.5
    with pytest.raises(AssertionError, match="^a check's own message$"):  # failed checks pass through unchanged
        with checks.explained("anything"):
            raise AssertionError("a check's own message")


def test_a_helper_that_is_the_exercise_refuses_to_run_while_the_answer_is_tested():
    from course import lockout

    model = _mlp([4, 3])
    X, y = np.ones((2, 2), dtype="float32"), np.array([0, 1])

    def answer_by_calling_the_helper(model, X, y):
        return diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))

    from course.diagnostics import gradient_norms  # imported by name: refused too
    expected = answer_by_calling_the_helper(model, X, y)  # outside the block it works
    with lockout.off_limits(diagnostics.gradient_norms, exercise="exercise 1", instead="use tf.GradientTape"):
        for answer in (answer_by_calling_the_helper, lambda m, a, b: gradient_norms(m, a, b)):
            with pytest.raises(AssertionError, match="exercise 1 asks you to use tf.GradientTape; "
                                                     "course.diagnostics.gradient_norms is off limits here"):
                answer(model, X, y)
        assert diagnostics.kernel_norms({"d/kernel": 1.0}).tolist() == [1.0]  # helpers not listed still run
    np.testing.assert_array_equal(answer_by_calling_the_helper(model, X, y), expected)  # unlocked again
    with pytest.raises(TypeError, match="not marked"):
        with lockout.off_limits(diagnostics.kernel_norms, exercise="e", instead="i"):
            pass


def test_check_dense_stack_rejects_what_is_not_a_model():
    with pytest.raises(AssertionError, match="should return a keras.Model"):
        checks.check_dense_stack(None, n_features=2, units=[3], activations=["softmax"],
                                 initializer="he_normal")


def test_check_compiled():
    model = _mlp([4, 3])
    with pytest.raises(AssertionError, match="not compiled"):
        checks.check_compiled(model, optimizer=keras.optimizers.Adam, loss="sparse_categorical_crossentropy")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(AssertionError, match="compiled with SGD, expected Adam"):
        checks.check_compiled(model, optimizer=keras.optimizers.Adam, loss="sparse_categorical_crossentropy")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy())
    checks.check_compiled(model, optimizer=keras.optimizers.Adam, loss="sparse_categorical_crossentropy")
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(AssertionError, match="loss 'mse'"):
        checks.check_compiled(model, optimizer=keras.optimizers.Adam, loss="sparse_categorical_crossentropy")


def test_check_close_and_check_array_messages():
    checks.check_close([1.0, 2.0], [1.0, 2.00001])
    with pytest.raises(AssertionError, match="should have shape"):
        checks.check_close([1.0], [1.0, 2.0], name="norms")
    with pytest.raises(AssertionError, match="expected"):
        checks.check_close([1.0, 3.0], [1.0, 2.0], name="norms")
    with pytest.raises(AssertionError, match="array of numbers"):
        checks.check_array({"a": 1}, name="norms")


def test_a_near_miss_shows_where_by_how_much_and_the_tolerance():
    """float32 against float64 differs in the 8th digit: the message must show digits that differ."""
    expected = np.array([0.1, 0.2, 0.3], dtype=np.float64)
    got = expected.astype(np.float32)
    with pytest.raises(AssertionError) as error:
        checks.check_close(got, expected, name="clipped", rtol=1e-12, atol=0)
    message = str(error.value)
    assert "the largest difference is" in message and "at position " in message
    assert "tolerance is 0 + 1e-12 x |expected|" in message
    worst = int(np.argmax(np.abs(got.astype(float) - expected)))
    assert f"got {float(got[worst]):.10g}"[:12] in message and f"expected {expected[worst]:.10g}" in message
    assert "np." not in message
    with pytest.raises(AssertionError, match=r"NaN at position \(1, 0\) where 3 was expected"):
        checks.check_close([[1.0, 2.0], [np.nan, 4.0]], [[1.0, 2.0], [3.0, 4.0]], name="norms")


def test_messages_print_plain_numbers():
    with pytest.raises(AssertionError) as error:
        checks.check_equal(np.float64(2.0), np.float64(3.0), name="the loss")
    assert str(error.value) == "the loss: expected 3.0, got 2.0"
    with pytest.raises(AssertionError) as error:
        checks.check_equal((np.int64(2), 3), (2, 4), name="the shape")
    assert "np." not in str(error.value) and "(2, 3)" in str(error.value)


def test_check_keras_name():
    checks.check_keras_name("elu", kind="activation")
    checks.check_keras_name("he_normal", kind="initializer")
    with pytest.raises(AssertionError, match="does not know"):
        checks.check_keras_name("he-normal", kind="initializer")
    with pytest.raises(AssertionError, match="as a name"):
        checks.check_keras_name(keras.activations.elu, kind="activation")


# --- plots and widgets -----------------------------------------------------------------------------

def test_plot_layer_norms_draws_one_line_per_profile_on_a_log_axis():
    ax = plots.plot_layer_norms({"a": [1e-3, 1e-1, 1.0], "b": [1.0, float("nan"), 2.0]})
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert np.isnan(ax.get_lines()[1].get_ydata()[1])  # non-finite values are gaps, not crashes


def test_plot_histories_draws_a_panel_per_metric_and_skips_what_a_history_lacks():
    histories = {"a": {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]},
                 "b": {"loss": [1.0, 0.9], "accuracy": [0.3, 0.4]}}
    axes = plots.plot_histories(histories, metrics=("accuracy", "val_accuracy"))
    assert [len(ax.get_lines()) for ax in axes] == [2, 2, 1]
    assert list(axes[2].get_lines()[0].get_xdata()) == [1, 2]  # epochs counted from 1
    assert axes[2].get_ylabel() == "validation accuracy (inference mode)"
    assert len(plots.plot_histories(histories)) == 2  # loss and accuracy by default


def test_plot_layer_profiles_draws_means_and_stds_with_gaps_for_zero_stds():
    axes = plots.plot_layer_profiles({"a": ([0.1, 0.2], [1.0, 0.0])})
    assert axes[1].get_yscale() == "log"
    np.testing.assert_array_equal(axes[0].get_lines()[0].get_ydata(), [0.1, 0.2])
    assert np.isnan(axes[1].get_lines()[0].get_ydata()[1])


def test_gradient_explorer_redraws_when_a_control_moves():
    box = widgets.gradient_explorer(X, Y)
    controls = box.children[0]
    depth, gain = controls.children[0].children
    activation, initializer = controls.children[1].children
    summary = box.children[2]
    line = box.figure.axes[0].get_lines
    image = box.children[1]
    first, first_png = summary.value, bytes(image.value)
    assert first_png.startswith(b"\x89PNG")
    assert first.startswith("first/last ratio")
    assert len(line()) == 1 and len(line()[0].get_ydata()) == 7  # depth 6 + the output layer
    depth.value = 12
    assert len(line()) == 1 and len(line()[0].get_ydata()) == 13  # redrawn in place, not added
    after_depth = (summary.value, line()[0].get_ydata().copy())
    assert after_depth[0] != first
    activation.value = "relu"
    initializer.value = "he_normal"
    assert line()[0].get_label().startswith("relu, he_normal")
    assert not np.array_equal(line()[0].get_ydata(), after_depth[1])
    assert bytes(image.value) != first_png


def test_describe_profile():
    assert "inf or NaN" in widgets.describe_profile([1.0, float("inf")])
    assert "ratio = 0.5" in widgets.describe_profile([1.0, 2.0])


def test_set_seed_makes_initial_weights_repeatable():
    course.set_seed(11)
    a = softmax_model().get_weights()[0]
    course.set_seed(11)
    b = softmax_model().get_weights()[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError):
        course.set_seed("42")


def test_layer_outputs_follow_the_layers():
    model = _mlp([5, 4, 3])
    outputs = diagnostics.layer_outputs(model, X[:, :2])
    assert [name for name, _ in outputs] == [layer.name for layer in model.layers]
    assert [out.shape for _, out in outputs] == [(32, 5), (32, 4), (32, 3)]
    np.testing.assert_allclose(outputs[-1][1], keras.ops.convert_to_numpy(model(X[:, :2])), rtol=1e-6)


def test_importing_course_first_keeps_tensorflow_start_up_logs_out_of_the_notebook():
    """The notebooks' first line, `import course  # first: it quiets TensorFlow's start-up logs`, is true."""
    import subprocess
    import sys

    script = "import course, keras, tensorflow as tf; print(float(tf.constant(1.0) + 1))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"})
    assert result.stdout.strip() == "2.0"
    assert "cudart_stub" not in result.stderr and "oneDNN" not in result.stderr and "I0000" not in result.stderr, \
        result.stderr


def test_a_near_miss_between_small_numbers_prints_apart_and_warns_nothing(quiet_process):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may reach a student's test output
        with pytest.raises(AssertionError, match=r"got \[0\.00030001, -0\.0004\], expected \[0\.0003, -0\.0004\]"):
            checks.check_close([3.0001e-4, -4e-4], [3e-4, -4e-4], name="x", rtol=1e-6, atol=1e-12)
        with pytest.raises(AssertionError, match="relative inf"):
            checks.check_close([1e308], [1e-308], name="x")
