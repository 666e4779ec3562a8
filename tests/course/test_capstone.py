"""Unit tests of course.capstone: the rules of the repair, the budget trainer, the classic experiments."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import dataclasses  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import course  # noqa: E402
from course import capstone, capstone_experiments, diagnostics, lockout  # noqa: E402
from course.data import load_digits_standardized  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "source" / "06_capstone" / "06_capstone.ipynb"

TINY = dataclasses.replace(capstone.BUDGET, min_hidden_layers=2, epochs=2, batch_size=128)
# The rules of the real budget at depth 3 (building twenty 20-layer models would cost seconds).
SHALLOW = dataclasses.replace(capstone.BUDGET, min_hidden_layers=3, max_params=5_000)


def plain(depth=3, width=32, activation="tanh", initializer="glorot_uniform", clip=None, optimizer=None,
          output="softmax", loss="sparse_categorical_crossentropy", n_features=64, n_classes=10, compile=True):
    """A plain MLP compiled the way the rules ask (unless told otherwise). Not the notebook's reference repair."""
    model = keras.Sequential(
        [keras.Input(shape=(n_features,))]
        + [keras.layers.Dense(width, activation=activation, kernel_initializer=initializer) for _ in range(depth)]
        + [keras.layers.Dense(n_classes, activation=output)]
    )
    if compile:
        optimizer = optimizer or keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, **(clip or {}))
        model.compile(optimizer=optimizer, loss=loss)
    return model


# --- the rules -------------------------------------------------------------------------------------

def test_the_broken_network_is_within_the_rules():
    """Resubmitting the broken network must cost points by training, not by breaking a rule."""
    model = capstone.broken_model()
    capstone.check_budget(model)
    hidden = capstone.hidden_dense_layers(model)
    assert len(hidden) == 20 and all(layer.units == 32 for layer in hidden)
    assert all(layer.activation.__name__ == "sigmoid" for layer in hidden)
    assert model.count_params() < capstone.BUDGET.max_params


@pytest.mark.parametrize("model", [
    plain(clip={"global_clipnorm": 1.0}),
    plain(activation="selu", initializer="lecun_normal", clip={"clipvalue": 0.5}),
    keras.Sequential([keras.Input(shape=(64,))]
                     + [layer for _ in range(3) for layer in (keras.layers.Dense(24, use_bias=False),
                                                                keras.layers.BatchNormalization(),
                                                                keras.layers.LeakyReLU(negative_slope=0.1),
                                                                keras.layers.Dropout(0.1))]
                     + [keras.layers.Dense(10, activation="softmax")]),
], ids=["tanh", "selu-clipvalue", "bn-leaky-dropout"])
def test_valid_repairs_pass_the_rules(model):
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0),
                      loss=keras.losses.SparseCategoricalCrossentropy())
    capstone.check_budget(model, budget=SHALLOW)


def _functional():
    inputs = keras.Input(shape=(64,))
    h = inputs
    for _ in range(3):
        h = keras.layers.Dense(32, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("model, message", [
    (plain(depth=2), "at least 3 hidden Dense layers"),
    (plain(activation="linear"), "not followed by a non-linear activation"),
    (plain(width=40), "parameters; the budget is 5,000"),
    (plain(compile=False), "not compiled"),
    (plain(optimizer=keras.optimizers.Adam()), "keep the optimizer"),
    (plain(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)), "keep the learning rate"),
    (plain(optimizer=keras.optimizers.SGD(learning_rate=0.1)), "momentum"),
    (plain(output="sigmoid"), "last layer must be Dense(10, activation='softmax')"),
    (plain(n_classes=3), "last layer must be Dense(10"),
    (plain(n_features=32), "input shape should be (None, 64)"),
    (plain(loss="mse"), "loss"),
    (_functional(), "keras.Sequential"),
], ids=["shallow", "linear", "too-big", "uncompiled", "adam", "learning-rate", "no-momentum", "output",
        "classes", "features", "loss", "functional"])
def test_check_budget_says_what_to_change(model, message):
    with pytest.raises(AssertionError) as error:
        capstone.check_budget(model, budget=SHALLOW)
    assert message in str(error.value), str(error.value)


def test_check_budget_rejects_a_learning_rate_schedule_and_foreign_layers():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    with pytest.raises(AssertionError, match="keep the learning rate"):
        capstone.check_budget(plain(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)),
                              budget=SHALLOW)
    model = keras.Sequential([keras.Input(shape=(64,))]
                             + [layer for _ in range(3) for layer in (keras.layers.Dense(16),
                                                                        keras.layers.Reshape((16,)),
                                                                        keras.layers.Activation("relu"))]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    with pytest.raises(AssertionError, match="Reshape"):
        capstone.check_budget(model, budget=SHALLOW)
    with pytest.raises(AssertionError, match="should return a keras.Model"):
        capstone.check_budget([keras.layers.Dense(3)])


def test_check_budget_refuses_a_model_trained_inside_the_builder():
    """Training beyond the budget inside build_fixed_model would dodge the grader's 10 epochs."""
    model = plain()
    X, y = capstone.digits_split(0).X_train[:64], capstone.digits_split(0).y_train[:64]
    capstone.check_budget(model, budget=SHALLOW)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    with pytest.raises(AssertionError, match="return the model untrained: its optimizer has already made 2 steps"):
        capstone.check_budget(model, budget=SHALLOW)


def _stack(*middle, before=(), depth=3):
    """``depth`` hidden blocks of Dense(16) followed by the layers ``middle``, after the layers ``before``."""
    layers = [keras.Input(shape=(64,)), *before]
    for _ in range(depth):
        layers += [keras.layers.Dense(16), *(make() for make in middle)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


def _relu():
    return keras.layers.Activation("relu")


class _MyDense(keras.layers.Dense):
    """A subclass of Dense: it could do anything in call(), so the rules refuse it."""


def _sgd(**options):
    return keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, **options)


def _two_clipping_options():
    """SGD with clipnorm and global_clipnorm (Keras' constructor refuses both; an attribute set afterwards does not)."""
    optimizer = _sgd(global_clipnorm=1.0)
    optimizer.clipnorm = 1.0
    return optimizer


def _with_loss_weights():
    model = plain(compile=False)
    model.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy", loss_weights=[10.0])
    return model


@pytest.mark.parametrize("make, message", [
    # every layer of the stack, wherever it stands
    (lambda: _stack(_relu, before=[keras.layers.Rescaling(10.0)]),
     "layer 1 (Rescaling 'rescaling"),
    (lambda: keras.Sequential(
        [keras.Input(shape=(64,)), keras.layers.Dense(16, activation="relu"), keras.layers.GaussianDropout(0.1),
         keras.layers.Dense(16, activation="relu"), keras.layers.Dense(16, activation="relu"),
         keras.layers.Dense(10, activation="softmax")]),
     "(GaussianDropout"),
    (lambda: keras.Sequential([keras.Input(shape=(64,))] + [_MyDense(16, activation="relu") for _ in range(3)]
                              + [keras.layers.Dense(10, activation="softmax")]),
     "is not part of this exercise"),
    (lambda: _stack(lambda: keras.layers.Activation(lambda x: keras.ops.relu(x) * 3.0)),
     "not one of Keras' own"),
    (lambda: _stack(lambda: keras.layers.Softmax()), "(Softmax"),
    # the optimizer's whole configuration
    (lambda: plain(optimizer=_sgd(nesterov=True)), "remove nesterov=True"),
    (lambda: plain(optimizer=_sgd(weight_decay=1e-4)), "remove weight_decay=0.0001"),
    (lambda: plain(optimizer=_two_clipping_options()),
     "at most one of clipvalue, clipnorm and global_clipnorm to SGD; yours sets clipnorm=1.0 and global_clipnorm=1.0"),
    (lambda: plain(optimizer=_sgd(use_ema=True)), "remove use_ema=True"),
    (lambda: plain(optimizer=_sgd(loss_scale_factor=1e-3)), "remove loss_scale_factor=0.001"),
    (lambda: plain(optimizer=_sgd(gradient_accumulation_steps=4)), "remove gradient_accumulation_steps=4"),
    # the loss as a whole
    (lambda: plain(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), "from_logits=True"),
    (lambda: plain(loss=keras.losses.SparseCategoricalCrossentropy(reduction="sum")), "reduction='sum'"),
    (_with_loss_weights, "remove loss_weights"),
    (lambda: keras.Sequential([keras.layers.Dense(16, activation="relu") for _ in range(3)]
                              + [keras.layers.Dense(10, activation="softmax")]),
     "start it with keras.Input(shape=(64,))"),
], ids=["layer-before-the-first-dense", "layer-after-a-built-in-activation", "dense-subclass", "custom-activation",
        "softmax-layer", "nesterov", "weight-decay", "two-clipping-options", "ema", "loss-scale",
        "gradient-accumulation", "from-logits", "sum-reduction", "loss-weights", "no-input"])
def test_check_budget_checks_every_layer_and_the_whole_optimizer(make, message):
    with pytest.raises(AssertionError) as error:
        capstone.check_budget(make(), budget=SHALLOW)
    assert message in str(error.value), str(error.value)


@pytest.mark.parametrize("options", [{}, {"clipvalue": 0.5}, {"clipnorm": 1.0}, {"global_clipnorm": 1.0},
                                     {"weight_decay": 0.0, "nesterov": False}])
def test_check_budget_accepts_sgd_with_one_clipping_option_and_defaults(options):
    capstone.check_budget(plain(optimizer=_sgd(**options)), budget=SHALLOW)
    capstone.check_budget(plain(loss=keras.losses.SparseCategoricalCrossentropy()), budget=SHALLOW)
    capstone.check_budget(_stack(lambda: keras.layers.BatchNormalization(), _relu,
                                 lambda: keras.layers.AlphaDropout(0.05), before=[keras.layers.Dropout(0.1)]),
                          budget=SHALLOW)


def test_the_notebook_lists_the_allowed_layers_of_the_code():
    """The exercise's text names capstone.ALLOWED_LAYERS and lists exactly its layers."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = next("".join(cell["source"]) for cell in cells if cell.get("id") == "nb06-19")
    found = re.search(r"\(`capstone\.ALLOWED_LAYERS`\):(.*?);", text, re.S)
    assert found, "the rules of exercise 3 should list the allowed layers after (`capstone.ALLOWED_LAYERS`):"
    assert re.findall(r"`(\w+)`", found.group(1)) == capstone.allowed_layer_names()


# --- a fresh copy: what the grader trains ----------------------------------------------------------

def _bn_builder(n_features, n_classes):
    layers = [keras.Input(shape=(n_features,))]
    for _ in range(2):
        layers += [keras.layers.Dense(8, kernel_initializer="he_normal"), keras.layers.BatchNormalization(momentum=0.9),
                   keras.layers.Activation("elu")]
    model = keras.Sequential(layers + [keras.layers.Dense(n_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _pretrained_builder(n_features, n_classes):
    """The shortcut: the model trained on every digit inside the builder, then compiled with a fresh optimizer."""
    model = _bn_builder(n_features, n_classes)
    X, y = load_digits_standardized()
    model.fit(X, y, epochs=2, batch_size=64, verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    return model


def test_fresh_copy_reinitialises_weights_and_batch_norm_statistics():
    course.set_seed(7)
    built = _bn_builder(64, 10)
    untrained = built.get_weights()
    split = capstone.digits_split(0)
    built.fit(split.X_train, split.y_train, epochs=1, batch_size=64, verbose=0)
    course.set_seed(7)
    copy = capstone.fresh_copy(built)
    # Under the builder's seed the copy draws exactly the weights the builder drew (an honest builder's run).
    for got, expected in zip(copy.get_weights(), untrained, strict=True):
        np.testing.assert_array_equal(got, expected)
    bn = next(layer for layer in copy.layers if isinstance(layer, keras.layers.BatchNormalization))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0.0)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), 1.0)
    assert bn.momentum == 0.9
    assert copy.optimizer is not built.optimizer and int(copy.optimizer.iterations.numpy()) == 0
    assert copy.optimizer.get_config() | {"name": None} == built.optimizer.get_config() | {"name": None}
    assert copy.loss == built.loss


def test_the_broken_network_is_its_own_fresh_copy():
    """One initializer per layer: the broken network the notebook measures is the one the grader trains."""
    course.set_seed(42)
    built = capstone.broken_model()
    kernels = [layer.kernel.numpy() for layer in capstone.hidden_dense_layers(built)[1:]]
    assert not np.array_equal(kernels[0], kernels[1])  # no two layers share their weights
    course.set_seed(42)
    for got, expected in zip(capstone.fresh_copy(built).get_weights(), built.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_weights_learned_inside_the_builder_are_thrown_away():
    honest = capstone.train_under_budget(_bn_builder, seed=3, budget=TINY)
    shortcut = capstone.train_under_budget(_pretrained_builder, seed=3, budget=TINY)
    np.testing.assert_allclose(shortcut.step_loss, honest.step_loss, rtol=1e-5)
    assert shortcut.test_accuracy == honest.test_accuracy
    assert capstone.gradient_ratio_at_init(_pretrained_builder, seed=5, check=False) == pytest.approx(
        capstone.gradient_ratio_at_init(_bn_builder, seed=5, check=False), rel=1e-6)


def _explorer_builder(n_features, n_classes):
    model = capstone_experiments.explorer_model("elu", "he_normal", batch_norm=True, n_features=n_features,
                                                n_classes=n_classes, depth=2, width=8)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    return model


def test_the_explorer_model_is_off_limits_inside_a_checked_builder():
    message = ("exercise 3 asks you to build the repaired network yourself; "
               "course.capstone_experiments.explorer_model is off limits here")
    with pytest.raises(AssertionError, match=re.escape(message)):
        capstone.train_under_budget(_explorer_builder, seed=0, budget=TINY)
    with pytest.raises(AssertionError, match=re.escape(message)):
        capstone.gradient_ratio_at_init(_explorer_builder, seed=0)
    assert lockout._locked == {}  # unlocked again afterwards: the explorer widget and the figures still work
    assert isinstance(_explorer_builder(64, 10), keras.Model)
    assert capstone.train_under_budget(_explorer_builder, seed=0, budget=TINY, check=False).finite


def test_builder_errors_are_sentences():
    def blank(n_features, n_classes):
        raise NotImplementedError

    def typo(n_features, n_classes):
        return keras.Sequential([keras.Input(shape=(n_features,)), keras.layers.Dense(n_classes, activaton="softmax")])

    def returns_layers(n_features, n_classes):
        return [keras.layers.Dense(n_classes)]

    with pytest.raises(AssertionError, match=r"blank\(64, 10\): the exercise is not written yet"):
        capstone.train_under_budget(blank, seed=0)
    with pytest.raises(AssertionError, match=r"typo\(64, 10\) raised ValueError: Unrecognized keyword"):
        capstone.gradient_ratio_at_init(typo, seed=0)
    with pytest.raises(AssertionError, match="should return a keras.Model"):
        capstone.train_under_budget(returns_layers, seed=0)


# --- the data --------------------------------------------------------------------------------------

def test_digits_split_is_repeatable_disjoint_and_depends_on_its_seed():
    a, b, c = capstone.digits_split(0), capstone.digits_split(0), capstone.digits_split(1)
    assert a.X_train.shape == (1437, 64) and a.X_test.shape == (360, 64)
    assert set(np.unique(a.y_train)) == set(range(10))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    train_rows = {row.tobytes() for row in a.X_train}
    assert sum(row.tobytes() in train_rows for row in a.X_test) <= 5  # the digits hold a few duplicate images
    with pytest.raises(ValueError):
        a.X_train[0, 0] = 1.0  # the cached split is read-only


# --- the trainer -----------------------------------------------------------------------------------

def tiny_builder(n_features, n_classes):
    """Two small tanh layers, plain SGD with momentum (the rules of TINY)."""
    model = plain(depth=2, width=8, n_features=n_features, n_classes=n_classes)
    return model


def clipped_builder(n_features, n_classes):
    return plain(depth=2, width=8, n_features=n_features, n_classes=n_classes, clip={"global_clipnorm": 1e-3})


def eager_reference(build_fn, *, seed, split_seed, budget):
    """The same training, written plainly: one eager step per batch on a fresh model and optimizer."""
    split = capstone.digits_split(split_seed)
    course.set_seed(seed)
    model = build_fn(64, 10)
    rng = np.random.default_rng(seed)
    n_batches = len(split.X_train) // budget.batch_size
    losses = []
    for _ in range(budget.epochs):
        order = rng.permutation(len(split.X_train))[:n_batches * budget.batch_size]
        for batch in order.reshape(n_batches, budget.batch_size):
            with tf.GradientTape() as tape:
                loss = keras.losses.SparseCategoricalCrossentropy()(
                    split.y_train[batch], model(split.X_train[batch], training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply(grads, model.trainable_variables)
            losses.append(float(loss))
    return np.array(losses), model


def test_train_under_budget_matches_a_plain_training_loop_and_reuses_its_trace():
    capstone._RUNS.clear()
    capstone._RUNNERS.clear()
    first = capstone.train_under_budget(tiny_builder, seed=3, split_seed=1, budget=TINY)
    second = capstone.train_under_budget(tiny_builder, seed=4, split_seed=2, budget=TINY)  # reuses the trace
    assert len(capstone._RUNNERS) == 1
    # The second run, made in the first run's model with fresh initial weights, is the run a fresh model makes.
    losses, model = eager_reference(tiny_builder, seed=4, split_seed=2, budget=TINY)
    np.testing.assert_allclose(second.step_loss, losses, rtol=1e-4)
    for got, expected in zip(second.model.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)
    assert first.step_loss.shape == (2 * (1437 // 128),)
    assert first.grad_norms.shape == (len(first.step_loss), 6)  # 3 kernels and 3 biases
    assert first.kernel_grad_norms().shape == (len(first.step_loss), 3)
    np.testing.assert_allclose(first.global_grad_norm, np.sqrt((first.grad_norms ** 2).sum(axis=1)))
    np.testing.assert_allclose(first.epoch_loss, first.step_loss.reshape(2, -1).mean(axis=1))
    assert first.finite and 0.0 <= first.test_accuracy <= 1.0
    # a run made before is returned as it is
    assert capstone.train_under_budget(tiny_builder, seed=3, split_seed=1, budget=TINY) is first


def test_the_recorded_gradient_norms_are_before_clipping_and_clipping_acts():
    free = capstone.train_under_budget(tiny_builder, seed=5, budget=TINY)
    clipped = capstone.train_under_budget(clipped_builder, seed=5, budget=TINY)
    assert free.grad_norms[0] == pytest.approx(clipped.grad_norms[0], rel=1e-5)  # same weights, same first batch
    assert clipped.global_grad_norm[0] > 1e-2  # measured before the optimizer clips it to 1e-3
    assert abs(clipped.step_loss[-1] - clipped.step_loss[0]) < abs(free.step_loss[-1] - free.step_loss[0])


def test_train_under_budget_checks_the_rules_and_reports_nan():
    with pytest.raises(AssertionError, match="hidden Dense layers"):
        capstone.train_under_budget(tiny_builder, seed=0)  # two layers: not within the real budget

    def exploding(n_features, n_classes):
        model = plain(depth=4, width=16, activation="relu", initializer=keras.initializers.RandomNormal(stddev=3.0),
                      n_features=n_features, n_classes=n_classes, compile=False)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e3), loss="sparse_categorical_crossentropy")
        return model

    run = capstone.train_under_budget(exploding, seed=0, budget=TINY, check=False)
    assert not run.finite and run.test_accuracy == 0.0


def test_gradient_ratio_at_init_is_the_instruments_ratio():
    split = capstone.digits_split(2)
    course.set_seed(11)
    model = tiny_builder(64, 10)
    expected = diagnostics.first_last_ratio(diagnostics.kernel_norms(
        diagnostics.gradient_norms(model, split.X_train[:256], split.y_train[:256])))
    assert capstone.gradient_ratio_at_init(tiny_builder, seed=11, split_seed=2, check=False) == pytest.approx(
        expected, rel=1e-5)
    # After a run under that seed, the ratio comes from the run's initial weights (no new build): the same number.
    capstone.train_under_budget(tiny_builder, seed=11, budget=TINY, check=False)
    assert (tiny_builder, 11, False) in capstone._INITIAL
    assert capstone.gradient_ratio_at_init(tiny_builder, seed=11, split_seed=2, check=False) == pytest.approx(
        expected, rel=1e-5)
    with pytest.raises(AssertionError, match="hidden Dense layers"):
        capstone.gradient_ratio_at_init(tiny_builder, seed=11)  # checks the rules by default


# --- the classic experiments -----------------------------------------------------------------------

def test_standard_initializer_is_uniform_within_one_over_root_fan_in():
    weights = keras.ops.convert_to_numpy(capstone_experiments.standard_initializer(seed=0)((400, 300)))
    bound = 1 / np.sqrt(400)
    assert np.abs(weights).max() <= bound
    assert weights.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)


def test_saturation_experiment_records_each_hidden_layer():
    result = capstone_experiments.saturation_experiment(depth=2, width=8, epochs=1, record_every=50, n_probe=40)
    n_records = 1 + -(-(1437 // 10) // 50)
    assert result["step"].shape == (n_records,)
    for key in ("mean", "std", "low", "high"):
        assert result[key].shape == (n_records, 2)
    assert np.all((result["low"] <= result["mean"]) & (result["mean"] <= result["high"]))
    assert np.all((result["mean"] > 0) & (result["mean"] < 1))
    assert np.isnan(result["loss"][0]) and np.all(np.isfinite(result["loss"][1:]))


def test_depth_sweep_shows_glorot_shrinking_the_relu_signal():
    result = capstone_experiments.depth_sweep((2, 12), n_examples=64)
    glorot, he = result["glorot_uniform"], result["he_normal"]
    assert glorot["last_std"].shape == (2,)
    assert glorot["last_std"][1] < glorot["last_std"][0] / 4  # about a factor 2**(-10 / 2) = 1/32
    assert he["last_std"][1] > glorot["last_std"][1] * 4


def test_explorer_model_and_plots():
    model = capstone_experiments.explorer_model("elu", "he_normal", True, depth=3)
    assert len(capstone.hidden_dense_layers(model)) == 3
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 3
    broken_like = capstone_experiments.explorer_model("sigmoid", capstone_experiments.EXPLORER_INITIALIZERS[0], False,
                                                      depth=2)
    assert isinstance(broken_like.layers[0].kernel_initializer, keras.initializers.RandomNormal)
    run = capstone.train_under_budget(tiny_builder, seed=3, split_seed=1, budget=TINY)
    capstone_experiments.plot_runs({"tiny": run})
    capstone_experiments.plot_saturation(capstone_experiments.saturation_experiment(depth=1, width=4, epochs=1,
                                                                                    record_every=200, n_probe=20))
    capstone_experiments.plot_depth_sweep(capstone_experiments.depth_sweep((2, 3), n_examples=32), (2, 3))
    matplotlib.pyplot.close("all")


def test_the_lock_names_the_explorer_model_where_it_lives():
    """course.capstone locks the explorer's builder by name (it cannot import it): the name must be its own."""
    assert capstone.EXPLORER_MODEL == lockout.qualified_name(capstone_experiments.explorer_model)
