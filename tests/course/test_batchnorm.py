"""Unit tests of course.batchnorm: the moving-statistics simulation against Keras, training, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import course  # noqa: E402
from course import batchnorm  # noqa: E402
from course.data import Dataset  # noqa: E402

RNG = np.random.default_rng(0)


def small_data(n: int = 64, seed: int = 0):
    """A few 4x4 'images' of 3 classes whose mean brightness tells the class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = (rng.normal(size=(n, 4, 4)) * 0.3 + y[:, None, None]).astype("float32")
    return X, y


# --- the simulation is Keras' BN layer, step by step ---------------------------------------------------

@pytest.mark.parametrize("batch_size, momentum, epsilon", [(8, 0.99, 1e-3), (5, 0.9, 0.1), (1, 0.5, 1e-3)])
def test_moving_statistics_trace_follows_keras_batch_normalization(batch_size, momentum, epsilon):
    values = RNG.normal(3.0, 2.0, size=40)
    steps = 12
    trace = batchnorm.moving_statistics_trace(values, batch_size=batch_size, momentum=momentum, steps=steps,
                                              epsilon=epsilon, seed=4)
    # Replay the same batches through Keras: the simulation draws them from the same generator.
    rng = np.random.default_rng(4)
    per_epoch = len(values) // batch_size
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    layer.build((None, 1))
    for step in range(steps):
        if step % per_epoch == 0:
            order = rng.permutation(len(values))
        start = (step % per_epoch) * batch_size
        batch = values[order[start:start + batch_size]].astype("float32")[:, None]
        training = keras.ops.convert_to_numpy(layer(batch, training=True))[:, 0]
        inference = keras.ops.convert_to_numpy(layer(batch, training=False))[:, 0]
        np.testing.assert_allclose(trace.batch_mean[step], batch.mean(), rtol=1e-5)
        np.testing.assert_allclose(trace.moving_mean[step], keras.ops.convert_to_numpy(layer.moving_mean)[0],
                                   rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(trace.moving_variance[step],
                                   keras.ops.convert_to_numpy(layer.moving_variance)[0], rtol=1e-4)
        gap = np.sqrt(np.mean((training - inference) ** 2))
        np.testing.assert_allclose(trace.gap[step], gap, rtol=1e-3, atol=1e-5)


def test_moving_statistics_converge_with_enough_steps_and_lag_with_few():
    values = RNG.normal(0.4, 0.3, size=1000)
    slow = batchnorm.moving_statistics_trace(values, momentum=0.99, steps=50)
    converged = batchnorm.moving_statistics_trace(values, momentum=0.99, steps=2000)
    # After t steps the initial values (0 and 1) still weigh momentum ** t.
    assert slow.moving_mean[-1] == pytest.approx(0.4 * (1 - 0.99**50), abs=0.03)
    assert converged.moving_mean[-1] == pytest.approx(0.4, abs=0.03)
    assert converged.moving_variance[-1] == pytest.approx(0.09, rel=0.15)
    assert slow.gap[-1] > 5 * converged.gap[-1]
    assert "after 50 steps" in batchnorm.describe_trace(slow)


def test_batch_size_one_normalizes_everything_to_zero_in_training():
    trace = batchnorm.moving_statistics_trace(RNG.normal(size=30), batch_size=1, steps=5)
    np.testing.assert_array_equal(trace.batch_variance, 0.0)
    with pytest.raises(ValueError, match="momentum"):
        batchnorm.moving_statistics_trace([1.0, 2.0], momentum=1.5)


# --- models, the training loop, the sweep ---------------------------------------------------------------

def test_deep_network_with_and_without_batch_norm():
    plain = batchnorm.deep_network(depth=3, units=7, input_shape=(4, 4), n_classes=3)
    with_bn = batchnorm.deep_network(depth=3, units=7, input_shape=(4, 4), n_classes=3, batch_norm=True,
                                     momentum=0.9)
    kinds = [type(layer).__name__ for layer in with_bn.layers]
    assert kinds == ["Flatten"] + ["Dense", "BatchNormalization"] * 3 + ["Dense"]
    assert [type(layer).__name__ for layer in plain.layers] == ["Flatten"] + ["Dense"] * 4
    assert with_bn.layers[2].momentum == 0.9
    assert with_bn.count_params() - plain.count_params() == 3 * 4 * 7


def test_deep_network_with_covariate_shift_after_every_bn_layer():
    shifted = batchnorm.deep_network(depth=2, units=5, input_shape=(4, 4), n_classes=3, batch_norm=True,
                                     covariate_shift=True)
    kinds = [type(layer).__name__ for layer in shifted.layers]
    assert kinds == ["Flatten"] + ["Dense", "BatchNormalization", "CovariateShift"] * 2 + ["Dense"]
    with pytest.raises(ValueError, match="batch_norm"):
        batchnorm.deep_network(covariate_shift=True)


def test_covariate_shift_changes_every_feature_at_every_training_call_and_nothing_in_inference():
    course.set_seed(0)
    layer = batchnorm.CovariateShift(max_scale=2.0, max_shift=1.0)
    X = np.random.default_rng(1).normal(size=(64, 6)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(X, training=False)), X)
    calls = [keras.ops.convert_to_numpy(layer(X, training=True)) for _ in range(2)]
    for Y in calls:
        # one affine map per feature, the same for every example: recover it by least squares
        for feature in range(X.shape[1]):
            scale, shift = np.polyfit(X[:, feature], Y[:, feature], 1)
            np.testing.assert_allclose(Y[:, feature], scale * X[:, feature] + shift, rtol=1e-4, atol=1e-5)
            assert 0.5 - 1e-6 <= scale <= 2.0 + 1e-6 and -1.0 - 1e-6 <= shift <= 1.0 + 1e-6
    assert not np.allclose(calls[0], calls[1])  # a new shift at every step
    with pytest.raises(ValueError, match="max_scale"):
        batchnorm.CovariateShift(max_scale=0.5)


def test_trainer_learns_and_reset_starts_the_same_run_again():
    X, y = small_data()
    course.set_seed(3)
    model = batchnorm.deep_network(depth=2, units=8, activation="elu", initializer="he_normal",
                                   batch_norm=True, input_shape=(4, 4), n_classes=3)
    initial = model.get_weights()
    trainer = batchnorm.Trainer(model, "sgd", learning_rate=0.1, batch_size=16)
    first = trainer.fit(X, y, epochs=4, seed=1, validation=(X, y))
    assert set(first) == {"loss", "accuracy", "val_accuracy"} and len(first["loss"]) == 4
    assert first["loss"][-1] < first["loss"][0]
    assert int(trainer.optimizer.iterations) == 4 * (len(X) // 16)
    trainer.reset(initial)
    assert int(trainer.optimizer.iterations) == 0
    assert float(trainer.optimizer.learning_rate) == pytest.approx(0.1)
    again = trainer.fit(X, y, epochs=4, seed=1, validation=(X, y))
    np.testing.assert_allclose(again["loss"], first["loss"], rtol=1e-5)
    trainer.reset(initial, learning_rate=0.5)
    assert float(trainer.optimizer.learning_rate) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no complete batch"):
        trainer.fit(X[:3], y[:3], epochs=1)


def test_learning_rate_sweep_runs_every_combination():
    X, y = small_data(48)
    data = Dataset(X, y, X[:16], y[:16], X[:16], y[:16], ("a", "b", "c"), "test")

    def build(batch_norm):
        return batchnorm.deep_network(depth=1, units=6, batch_norm=batch_norm, input_shape=(4, 4),
                                      n_classes=3)

    runs = batchnorm.learning_rate_sweep(build, data, learning_rates=[0.01, 0.1], seeds=[0, 1], epochs=1,
                                         batch_size=16)
    table = batchnorm.sweep_table(runs)
    assert table.count("\n") == 5 and "| yes | 0.1 | 0 of 2 |" in table
    assert [(r.batch_norm, r.learning_rate, r.seed) for r in runs] == [
        (bn, lr, seed) for bn in (False, True) for seed in (0, 1) for lr in (0.01, 0.1)]
    assert all(0 <= r.val_accuracy <= 1 for r in runs)


# --- what the moving statistics know ------------------------------------------------------------------

def test_moving_statistics_report_and_the_two_accuracies():
    X, y = small_data()
    course.set_seed(0)
    model = batchnorm.deep_network(depth=2, units=8, batch_norm=True, input_shape=(4, 4), n_classes=3)
    before = [keras.ops.convert_to_numpy(v) for v in model.non_trainable_variables]
    report = batchnorm.moving_statistics_report(model, X)
    assert [r.name for r in report] == [layer.name for layer in model.layers
                                        if isinstance(layer, keras.layers.BatchNormalization)]
    # Untrained: moving statistics 0 and 1; the inputs are sigmoid outputs (mean about 0.5, small variance).
    assert all(r.mean_error > 1 and r.variance_ratio > 10 for r in report)
    batchnorm.batch_statistics_accuracy(model, X, y)
    after = [keras.ops.convert_to_numpy(v) for v in model.non_trainable_variables]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)  # neither call moved the moving statistics
    layer, inputs = batchnorm.bn_inputs(model, X)[0]
    assert inputs.shape == (len(X), 8)


# --- figures and the explorer --------------------------------------------------------------------------

def test_layer_stats_plot_one_line_per_model():
    X, _ = small_data(16)
    course.set_seed(0)
    model = batchnorm.deep_network(depth=3, units=5, batch_norm=True, input_shape=(4, 4), n_classes=3)
    stats = batchnorm.hidden_dense_stats(model, X)
    assert len(stats) == 3
    axes = batchnorm.plot_layer_stats({"bn": stats})
    assert axes[1].get_yscale() == "log" and len(axes[0].get_lines()) == 1
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), [s.std for s in stats])


def test_explorer_redraws_on_each_control():
    box = batchnorm.moving_statistics_explorer(RNG.normal(0.3, 0.2, size=500))
    controls, image, summary = box.children
    batch_size, _momentum = controls.children[0].children
    steps = controls.children[1]
    first = image.value
    assert "after 200 steps" in summary.value
    steps.value = 500
    assert "after 500 steps" in summary.value
    batch_size.value = 1
    assert image.value != first
    assert len(box.figure.axes[0].get_lines()) >= 4


# --- the layer list the exercises compare ---------------------------------------------------------------

def _bn_model(hidden, *, functional=False):
    """Flatten, BN, then ``hidden()`` (a list of layers) twice, a softmax output."""
    layers = [keras.layers.Flatten(), keras.layers.BatchNormalization()] + hidden() + hidden()
    layers.append(keras.layers.Dense(3, activation="softmax"))
    if not functional:
        return keras.Sequential([keras.Input(shape=(4, 4))] + layers)
    inputs = h = keras.Input(shape=(4, 4))
    for layer in layers:
        h = layer(h)
    return keras.Model(inputs, h)


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_layer_summary_reads_a_separate_activation_like_a_built_in_one(functional):
    expected = ["Flatten", "BatchNormalization", "Dense(5, elu)", "BatchNormalization", "Dense(5, elu)",
                "BatchNormalization", "Dense(3, softmax)"]
    for hidden in (
        lambda: [keras.layers.Dense(5, activation="elu"), keras.layers.BatchNormalization()],
        lambda: [keras.layers.Dense(5), keras.layers.Activation("elu"), keras.layers.BatchNormalization()],
        lambda: [keras.layers.Dense(5), keras.layers.ELU(), keras.layers.BatchNormalization()],
        lambda: [keras.layers.Dense(5, activation=keras.activations.elu), keras.layers.BatchNormalization()],
    ):
        assert batchnorm.layer_summary(_bn_model(hidden, functional=functional)) == expected
    relu = batchnorm.layer_summary(_bn_model(lambda: [keras.layers.Dense(5), keras.layers.ReLU()],
                                             functional=functional))
    assert relu[2:4] == ["Dense(5, relu)", "Dense(5, relu)"]


def test_layer_summary_of_bn_before_the_activation():
    expected = ["Flatten", "BatchNormalization", "Dense(5, linear, no bias)", "BatchNormalization",
                "Activation(elu)", "Dense(5, linear, no bias)", "BatchNormalization", "Activation(elu)",
                "Dense(3, softmax)"]
    for activation in (lambda: keras.layers.Activation("elu"), keras.layers.ELU):
        model = _bn_model(lambda activation=activation: [keras.layers.Dense(5, use_bias=False),
                                                         keras.layers.BatchNormalization(), activation()])
        assert batchnorm.layer_summary(model) == expected
    other = _bn_model(lambda: [keras.layers.Dense(5, use_bias=False), keras.layers.BatchNormalization(),
                               keras.layers.ELU(alpha=0.5)])
    assert batchnorm.layer_summary(other)[4] == "Activation(elu(alpha=0.5))"
    # The activation before BN reads as the Dense layer's, however it is written.
    after = _bn_model(lambda: [keras.layers.Dense(5, use_bias=False), keras.layers.Activation("elu"),
                               keras.layers.BatchNormalization()])
    assert batchnorm.layer_summary(after)[2:4] == ["Dense(5, elu, no bias)", "BatchNormalization"]


def test_check_layer_summary_names_the_first_layer_that_differs():
    model = _bn_model(lambda: [keras.layers.Dense(5), keras.layers.ReLU(), keras.layers.BatchNormalization()])
    expected = ["Flatten", "BatchNormalization", "Dense(5, elu)", "BatchNormalization", "Dense(5, elu)",
                "BatchNormalization", "Dense(3, softmax)"]
    with pytest.raises(AssertionError, match=r"layer 3 is 'Dense\(5, relu\)', expected 'Dense\(5, elu\)'.*Hint"):
        batchnorm.check_layer_summary(model, expected, name="the model", hint="Hint.")
    with pytest.raises(AssertionError, match="it has 7 layers, expected 8"):
        batchnorm.check_layer_summary(model, ["Flatten", "BatchNormalization", "Dense(5, relu)",
                                              "BatchNormalization", "Dense(5, relu)", "BatchNormalization",
                                              "Dense(3, softmax)", "Dense(3, softmax)"], name="the model")
    batchnorm.check_layer_summary(_bn_model(lambda: [keras.layers.Dense(5), keras.layers.ELU(),
                                                     keras.layers.BatchNormalization()]), expected, name="it")
