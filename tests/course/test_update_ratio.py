"""The update-to-data ratio instrument of course.diagnostics, checked against hand computations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import course
from course import diagnostics

X = np.array([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0], [0.0, 1.5]], dtype="float32")
Y = np.array([0, 2, 1, 2])


def softmax_regression(learning_rate: float) -> keras.Model:
    """One Dense softmax layer trained with plain SGD: its step is known in closed form."""
    course.set_seed(3)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


def sgd_step_ratio(model: keras.Model, X_batch: np.ndarray, y_batch: np.ndarray, learning_rate: float) -> float:
    """lr * ||dL/dW|| / ||W|| for one SGD step of softmax regression, with dL/dW = X^T (P - Y) / n by hand."""
    kernel = model.layers[0].kernel.numpy()
    P = keras.ops.convert_to_numpy(model(X_batch))
    gradient = X_batch.T @ (P - np.eye(3)[y_batch]) / len(X_batch)
    return learning_rate * float(np.linalg.norm(gradient)) / float(np.linalg.norm(kernel))


def test_update_ratios_are_the_relative_change_of_each_weight():
    before = {"dense/kernel": np.array([[3.0, 0.0], [0.0, 4.0]]), "dense_1/kernel": np.array([[1.0, 0.0]])}
    after = {"dense_1/kernel": np.array([[1.0, 2.0]]), "dense/kernel": np.array([[3.03, 0.0], [0.0, 4.04]])}
    ratios = diagnostics.update_ratios(before, after)
    assert list(ratios) == ["dense/kernel", "dense_1/kernel"]  # the first snapshot's order
    # ||(0.03, 0.04)|| / ||(3, 4)|| = 0.05 / 5; ||(0, 2)|| / ||(1, 0)|| = 2
    assert ratios["dense/kernel"] == pytest.approx(0.01, rel=1e-12)
    assert ratios["dense_1/kernel"] == pytest.approx(2.0, rel=1e-12)


def test_update_ratios_of_a_zero_weight_and_of_mismatched_snapshots():
    zero = {"w": np.zeros((2, 2))}
    assert diagnostics.update_ratios(zero, {"w": np.ones((2, 2))}) == {"w": float("inf")}
    assert np.isnan(diagnostics.update_ratios(zero, zero)["w"])
    with pytest.raises(KeyError, match="no w"):
        diagnostics.update_ratios(zero, {"v": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"shape \(2, 2\) before and \(3,\) after"):
        diagnostics.update_ratios(zero, {"w": np.zeros(3)})


def test_kernel_snapshot_copies_the_kernels_input_side_first():
    course.set_seed(0)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(4), keras.layers.Dropout(0.1),
                              keras.layers.Dense(3)])
    snapshot = diagnostics.kernel_snapshot(model)
    assert list(snapshot) == [layer.kernel.path for layer in (model.layers[0], model.layers[2])]
    assert [array.shape for array in snapshot.values()] == [(2, 4), (4, 3)]
    kept = snapshot[model.layers[0].kernel.path].copy()
    model.layers[0].kernel.assign(np.zeros((2, 4)))
    np.testing.assert_array_equal(snapshot[model.layers[0].kernel.path], kept)  # a copy, not a view


def test_the_callback_records_one_sgd_step_ratio_per_batch():
    learning_rate = 0.5
    model = softmax_regression(learning_rate)
    expected_first = sgd_step_ratio(model, X[:2], Y[:2], learning_rate)
    start = diagnostics.kernel_snapshot(model)
    log = diagnostics.UpdateRatioLog(every="batch")
    model.fit(X, Y, epochs=3, batch_size=2, shuffle=False, verbose=0, callbacks=[log])
    assert log.paths == [model.layers[0].kernel.path]
    assert log.ratios.shape == (6, 1)  # 2 batches per epoch, 3 epochs, 1 kernel
    assert log.ratios[0, 0] == pytest.approx(expected_first, rel=1e-4)
    assert np.all(log.ratios > 0)
    whole_run = diagnostics.update_ratios(start, diagnostics.kernel_snapshot(model))
    assert log.change_since_start() == pytest.approx(whole_run, rel=1e-12)


def test_the_callback_per_epoch_and_a_new_fit_starts_a_new_record():
    learning_rate = 0.1
    model = softmax_regression(learning_rate)
    expected = sgd_step_ratio(model, X, Y, learning_rate)  # one batch per epoch: the epoch's change is one step
    log = diagnostics.UpdateRatioLog()
    model.fit(X, Y, epochs=2, batch_size=len(X), verbose=0, callbacks=[log])
    assert log.ratios.shape == (2, 1)
    assert log.ratios[0, 0] == pytest.approx(expected, rel=1e-4)
    model.fit(X, Y, epochs=1, batch_size=len(X), verbose=0, callbacks=[log])
    assert log.ratios.shape == (1, 1)


def test_the_callback_refuses_a_wrong_period_and_an_empty_record():
    with pytest.raises(ValueError, match="'batch' or 'epoch'"):
        diagnostics.UpdateRatioLog(every="step")
    log = diagnostics.UpdateRatioLog()
    assert log.ratios.shape == (0, 0)
    with pytest.raises(RuntimeError, match="recorded nothing"):
        log.change_since_start()
