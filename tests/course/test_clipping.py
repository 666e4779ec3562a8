"""Unit tests of course.clipping: the recording loop, the seed runner, what Keras clips, the explorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import course  # noqa: E402
from course import clipping, training  # noqa: E402
from course.data import load_digits_standardized  # noqa: E402

RNG = np.random.default_rng(0)
X_SMALL = RNG.normal(size=(40, 5)).astype("float32")
Y_SMALL = RNG.integers(0, 3, size=40)


def small_model() -> keras.Model:
    return keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(3)])


def one_gradient(model, X, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(X, training=True))
    return float(loss), tape.gradient(loss, model.trainable_variables)


# --- what Keras' optimizers do to a gradient --------------------------------------------------------

GRADIENTS = [RNG.normal(scale=2.0, size=(3, 4)), RNG.normal(size=4), np.zeros(2)]


@pytest.mark.parametrize("threshold", [0.5, 1.0, 100.0])
def test_keras_clipped_matches_tensorflows_three_functions(threshold):
    value = clipping.keras_clipped(GRADIENTS, "clipvalue", threshold)
    norm = clipping.keras_clipped(GRADIENTS, "clipnorm", threshold)
    global_ = clipping.keras_clipped(GRADIENTS, "global_clipnorm", threshold)
    expected_global, _ = tf.clip_by_global_norm([tf.constant(g, tf.float32) for g in GRADIENTS], threshold)
    for index, g in enumerate(GRADIENTS):
        g32 = g.astype(np.float32)
        np.testing.assert_allclose(value[index], tf.clip_by_value(g32, -threshold, threshold), rtol=1e-6)
        np.testing.assert_allclose(norm[index], tf.clip_by_norm(g32, threshold), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(global_[index], expected_global[index], rtol=1e-5, atol=1e-7)


def test_keras_clipped_rejects_unknown_options():
    with pytest.raises(ValueError, match="option"):
        clipping.keras_clipped(GRADIENTS, "clip_norm", 1.0)


def test_clip_demo_only_clipvalue_turns_the_gradient():
    demo = clipping.clip_demo([3.0, 0.5], [0.0, 4.0], 1.0)
    assert set(demo) == set(clipping.CLIP_OPTIONS)
    np.testing.assert_allclose(demo["clipvalue"][0], [1.0, 0.5], rtol=1e-6)
    assert clipping.angle_between([3.0, 0.5], demo["clipvalue"][0]) == pytest.approx(17.1, abs=0.1)
    assert clipping.angle_between([3.0, 0.5], demo["clipnorm"][0]) == pytest.approx(0.0, abs=0.01)
    np.testing.assert_allclose(np.linalg.norm(demo["clipnorm"][0]), 1.0, rtol=1e-6)
    # global: one factor for both variables, total norm 1
    scale = 1.0 / np.sqrt(3.0**2 + 0.5**2 + 4.0**2)
    np.testing.assert_allclose(demo["global_clipnorm"][0], np.array([3.0, 0.5]) * scale, rtol=1e-5)
    np.testing.assert_allclose(demo["global_clipnorm"][1], np.array([0.0, 4.0]) * scale, rtol=1e-5)


def test_angle_between_handles_zero_vectors():
    assert clipping.angle_between([0.0, 0.0], [1.0, 0.0]) == 0.0
    assert clipping.angle_between([1.0, 0.0], [0.0, 2.0]) == pytest.approx(90.0)


# --- the recording loop --------------------------------------------------------------------------------

def test_record_training_records_the_norm_before_clipping_and_the_batch_loss():
    course.set_seed(0)
    model = small_model()
    first_batch = training.step_batches(len(X_SMALL), steps=5, batch_size=8, seed=1)[0]
    loss, grads = one_gradient(model, X_SMALL[first_batch], Y_SMALL[first_batch])
    threshold = 0.1 * float(tf.linalg.global_norm(grads))  # the optimizer clips hard ...
    run = clipping.record_training(model, keras.optimizers.SGD(0.01, global_clipnorm=threshold),
                                   X_SMALL, Y_SMALL, steps=5, batch_size=8, seed=1)
    assert run.loss.shape == run.grad_norm.shape == (5,)
    assert run.loss[0] == pytest.approx(loss, rel=1e-5)
    # ... but the recorded norm is the unclipped one
    assert run.grad_norm[0] == pytest.approx(float(tf.linalg.global_norm(grads)), rel=1e-5)
    assert run.finite and run.first_nonfinite_step is None
    final_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(Y_SMALL, model(X_SMALL))
    assert run.final_loss == pytest.approx(float(final_loss), rel=1e-5)  # the model was trained in place
    assert 0.0 <= run.final_accuracy <= 1.0


def test_the_optimizer_really_clips_inside_the_loop():
    """One SGD step with global_clipnorm moves the weights by exactly learning rate x threshold."""
    course.set_seed(0)
    model = small_model()
    before = [v.numpy().copy() for v in model.trainable_variables]
    run = clipping.record_training(model, keras.optimizers.SGD(0.5, global_clipnorm=1e-3), X_SMALL, Y_SMALL,
                                   steps=1, batch_size=8, seed=2)
    moved = np.sqrt(sum(np.sum((v.numpy() - b) ** 2) for v, b in zip(model.trainable_variables, before, strict=True)))
    assert run.grad_norm[0] > 1e-3
    assert moved == pytest.approx(0.5 * 1e-3, rel=1e-4)


def test_seed_runner_reproduces_a_fresh_run_and_resets_the_optimizer():
    def optimizer():
        return keras.optimizers.SGD(0.05, momentum=0.9, clipnorm=0.5)

    course.set_seed(5)
    fresh = clipping.record_training(small_model(), optimizer(), X_SMALL, Y_SMALL, steps=12, batch_size=8,
                                     seed=5)
    runner = clipping.SeedRunner(small_model, optimizer(), X_SMALL, Y_SMALL, steps=12, batch_size=8)
    other = runner.run(6)
    again = runner.run(5)
    np.testing.assert_array_equal(again.loss, fresh.loss)
    np.testing.assert_array_equal(again.grad_norm, fresh.grad_norm)
    assert again.final_loss == fresh.final_loss
    assert not np.array_equal(other.loss, fresh.loss)


def test_linear_warmup_rises_to_the_target_then_stays():
    schedule = clipping.LinearWarmup(0.15, warmup_steps=4)
    rates = [float(schedule(step)) for step in range(7)]
    np.testing.assert_allclose(rates, [0.0375, 0.075, 0.1125, 0.15, 0.15, 0.15, 0.15], rtol=1e-6)
    assert schedule.get_config() == {"target": 0.15, "warmup_steps": 4}
    with pytest.raises(ValueError, match="warmup_steps"):
        clipping.LinearWarmup(0.15, warmup_steps=0)


def test_linear_warmup_sets_the_step_length_inside_the_loop():
    """With global_clipnorm far below the gradient's norm, step k moves the weights by the schedule's rate at k."""
    course.set_seed(0)
    model = small_model()
    schedule = clipping.LinearWarmup(0.5, warmup_steps=3)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, global_clipnorm=1e-3)
    moves = []
    for step in range(4):
        before = [v.numpy().copy() for v in model.trainable_variables]
        run = clipping.record_training(model, optimizer, X_SMALL, Y_SMALL, steps=1, batch_size=8, seed=step)
        assert run.grad_norm[0] > 1e-3
        moves.append(np.sqrt(sum(np.sum((v.numpy() - b) ** 2)
                                 for v, b in zip(model.trainable_variables, before, strict=True))))
    # rates 1/3, 2/3, 1 and 1 of 0.5 (float32 weights round the small moves to about 0.1%)
    np.testing.assert_allclose(moves, [0.5 / 3 * 1e-3, 1.0 / 3 * 1e-3, 0.5e-3, 0.5e-3], rtol=1e-2)


def test_run_reports_where_it_blew_up():
    run = clipping.ClippingRun(loss=np.array([2.0, 3.0, np.nan, np.nan]),
                               grad_norm=np.array([1.0, 1e30, np.inf, np.nan]),
                               final_loss=float("nan"), final_accuracy=0.1)
    assert not run.finite
    assert run.first_nonfinite_step == 2
    assert "step 2" in run.summary() and "1e+30" in run.summary()
    healthy = clipping.ClippingRun(np.array([2.0, 1.0]), np.array([3.0, 2.0]), 0.5, 0.9)
    assert healthy.finite and "final loss 0.500" in healthy.summary()


def test_the_exploding_run_explodes_without_clipping():
    """The notebook's premise, seed 0: without clipping the run ends in nan (the notebook shows the rescue)."""
    X, y = load_digits_standardized()
    course.set_seed(0)
    unclipped = clipping.record_training(
        clipping.exploding_mlp(), keras.optimizers.SGD(clipping.LEARNING_RATE, momentum=clipping.MOMENTUM), X, y)
    assert not unclipped.finite and unclipped.first_nonfinite_step < clipping.STEPS


# --- plots and the explorer -----------------------------------------------------------------------------

def test_plots_draw_runs_that_blew_up():
    runs = {"blown": clipping.ClippingRun(np.array([2.0, np.nan]), np.array([5.0, np.inf]), float("nan"), 0.1),
            "fine": clipping.ClippingRun(np.array([2.0, 1.0]), np.array([3.0, 0.5]), 0.5, 0.9)}
    ax = clipping.plot_norm_traces(runs, threshold=1.0)
    assert ax.get_yscale() == "log" and len(ax.get_legend().get_texts()) == 3  # two runs and the threshold
    ax = clipping.plot_loss_traces(runs)
    assert len(ax.get_lines()) == 2
    matplotlib.pyplot.close("all")


def test_clip_explorer_redraws_on_every_control():
    box = clipping.clip_explorer()
    controls = box.children[0].children[0].children + box.children[0].children[1].children
    image, summary = box.children[1], box.children[2]
    assert "clipvalue turns g1 by" in summary.value
    first = image.value
    controls[3].value = 2.5  # the threshold
    assert image.value != first
    controls[1].value = 0.0  # angle 0: clipvalue keeps the direction
    assert "turns g1 by 0.0°" in summary.value
