"""course.training: the compiled, reusable training loop of notebooks 04-06, checked against plain Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import course
from course import training

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5)).astype(np.float32)
Y = RNG.integers(0, 3, size=40)


def small_model(regularized: bool = False, compiled: bool = True, clip: dict | None = None) -> keras.Model:
    course.set_seed(1)
    regularizer = keras.regularizers.L2(0.1) if regularized else None
    model = keras.Sequential([keras.Input(shape=(5,)),
                              keras.layers.Dense(8, activation="tanh", kernel_regularizer=regularizer),
                              keras.layers.Dense(3, activation="softmax")])
    if compiled:
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, **(clip or {})),
                      loss="sparse_categorical_crossentropy")
    return model


def test_epoch_batches_reshuffle_each_epoch_and_drop_the_incomplete_batch():
    batches = training.epoch_batches(10, batch_size=4, epochs=3, seed=2)
    assert batches.shape == (3, 2, 4)
    for epoch in batches:
        assert len(set(epoch.ravel())) == 8  # no example twice in an epoch; 2 left out
    assert not np.array_equal(batches[0], batches[1])
    np.testing.assert_array_equal(batches, training.epoch_batches(10, batch_size=4, epochs=3, seed=2))
    assert not np.array_equal(batches, training.epoch_batches(10, batch_size=4, epochs=3, seed=3))
    with pytest.raises(ValueError, match="no complete batch"):
        training.epoch_batches(3, batch_size=4, epochs=1, seed=0)


def test_step_batches_are_passes_cut_at_the_number_of_steps():
    batches = training.step_batches(10, steps=7, batch_size=4, seed=3)
    assert batches.shape == (7, 4)
    assert sorted(batches.ravel()[:10]) == list(range(10))  # the first pass is a permutation
    np.testing.assert_array_equal(batches, training.step_batches(10, steps=7, batch_size=4, seed=3))


def test_the_first_step_records_keras_loss_accuracy_and_gradient_norms_before_clipping():
    model = small_model(regularized=True, clip={"global_clipnorm": 1e-3})
    batch = training.epoch_batches(len(X), batch_size=8, epochs=1, seed=0)[0]
    X_batch, y_batch = X[batch[0]], Y[batch[0]]
    with tf.GradientTape() as tape:
        y_pred = model(X_batch, training=True)
        loss = model.compute_loss(x=X_batch, y=y_batch, y_pred=y_pred, training=True)  # L2 penalty included
    grads = tape.gradient(loss, model.trainable_variables)
    accuracy = np.mean(np.argmax(y_pred.numpy(), axis=1) == y_batch)

    steps = training.TrainingLoop(model).run(X, Y, batch)
    assert steps.loss.shape == steps.accuracy.shape == (5,)
    assert steps.grad_norms.shape == (5, len(model.trainable_variables))
    assert steps.loss[0] == pytest.approx(float(loss), rel=1e-6)
    assert steps.accuracy[0] == pytest.approx(accuracy)
    np.testing.assert_allclose(steps.grad_norms[0], [float(tf.norm(g)) for g in grads], rtol=1e-5)
    assert steps.global_grad_norm[0] == pytest.approx(float(tf.linalg.global_norm(grads)), rel=1e-5)
    assert steps.global_grad_norm[0] > 1e-3  # recorded before the optimizer clipped it


def test_a_run_trains_as_keras_fit_does():
    """Same batches, same optimizer: the weights after the loop are those after model.fit on those batches."""
    batches = training.epoch_batches(len(X), batch_size=8, epochs=2, seed=4).reshape(-1, 8)
    ours, theirs = small_model(), small_model()
    training.TrainingLoop(ours).run(X, Y, batches)
    ordered = batches.ravel()
    theirs.fit(X[ordered], Y[ordered], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for mine, keras_weights in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(mine, keras_weights, rtol=1e-5, atol=1e-6)


def test_reset_repeats_a_run_exactly_and_a_given_loss_is_used():
    model = small_model(compiled=False)
    initial = model.get_weights()
    loop = training.TrainingLoop(model, keras.optimizers.SGD(0.1, momentum=0.9),
                                 loss=keras.losses.SparseCategoricalCrossentropy())
    batches = training.step_batches(len(X), steps=12, batch_size=8, seed=5)
    first = loop.run(X, Y, batches)
    assert int(loop.optimizer.iterations.numpy()) == 12
    loop.reset(initial)
    assert int(loop.optimizer.iterations.numpy()) == 0
    again = loop.run(X, Y, batches)
    np.testing.assert_array_equal(first.loss, again.loss)
    np.testing.assert_array_equal(first.grad_norms, again.grad_norms)
    assert first.loss[-1] < first.loss[0]


def test_an_uncompiled_model_needs_an_optimizer():
    with pytest.raises(ValueError, match="not compiled"):
        training.TrainingLoop(small_model(compiled=False))
