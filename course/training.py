"""Mini-batch training compiled once and reused: the loop of notebooks 04, 05 and 06.

``model.fit`` traces a new training function for every new model and optimizer, a second or more for a
deep network, and keeps little of what happens inside an epoch. The course's experiments train one
architecture under many seeds and look inside each step, so :class:`TrainingLoop` traces one
TensorFlow loop per model and optimizer and records, at every step, the mini-batch loss and accuracy
and the norm of each variable's gradient **before** the optimizer clips it (Keras optimizers clip
inside ``apply_gradients``). ``reset`` puts back any initial weights and the optimizer's initial state
(step count, momentum): the next run is the one a new model and optimizer would make.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

LossFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class Steps:
    """What a :class:`TrainingLoop` recorded, one row per step."""

    loss: np.ndarray  # (steps,) the mini-batch loss, before the step's update
    accuracy: np.ndarray  # (steps,) the mini-batch accuracy, before the step's update
    grad_norms: np.ndarray  # (steps, variables) the L2 norm of each variable's gradient, before clipping

    @property
    def global_grad_norm(self) -> np.ndarray:
        """(steps,) the norm of the whole gradient: what ``global_clipnorm`` compares with its threshold."""
        return global_norms(self.grad_norms)


def global_norms(grad_norms: np.ndarray) -> np.ndarray:
    """(steps,) the norm of the whole gradient from (steps, variables) norms of each variable's gradient."""
    return np.sqrt(np.sum(np.square(np.asarray(grad_norms, dtype=np.float64)), axis=1))


def epoch_batches(n_examples: int, *, batch_size: int, epochs: int, seed: int) -> np.ndarray:
    """``(epochs, batches, batch_size)`` example indices: a new shuffle each epoch, the incomplete last batch left out.

    Repeatable from ``seed``; the batching of ``model.fit(shuffle=True)`` except for the last batch.
    """
    n_batches = n_examples // batch_size
    if n_batches == 0:
        raise ValueError(f"{n_examples} examples make no complete batch of {batch_size}")
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n_examples)[:n_batches * batch_size].reshape(n_batches, batch_size)
                     for _ in range(epochs)])


def step_batches(n_examples: int, *, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """``(steps, batch_size)`` example indices: one shuffled pass after another, cut at ``steps``."""
    rng = np.random.default_rng(seed)
    n_passes = -(-steps * batch_size // n_examples)  # ceiling division
    order = np.concatenate([rng.permutation(n_examples) for _ in range(n_passes)])
    return order[:steps * batch_size].reshape(steps, batch_size)


class TrainingLoop:
    """One model and one optimizer, their training loop traced once by TensorFlow.

    ``loss`` is called as ``loss(y_true, y_pred)``; without it the loop uses the loss the model was
    compiled with (``model.compute_loss``, regularization losses included), and without ``optimizer``
    the model's compiled optimizer.
    """

    def __init__(self, model: keras.Model, optimizer: keras.optimizers.Optimizer | None = None,
                 loss: LossFn | None = None):
        self.model = model
        self.optimizer = getattr(model, "optimizer", None) if optimizer is None else optimizer
        if self.optimizer is None:
            raise ValueError("the model is not compiled: give TrainingLoop an optimizer")
        self.loss = loss
        self.optimizer.build(model.trainable_variables)
        self._optimizer_start = [variable.numpy() for variable in self.optimizer.variables]
        self._loop = tf.function(self._steps, reduce_retracing=True)

    def reset(self, weights: Sequence[np.ndarray]) -> None:
        """Start again from ``weights`` (as ``model.get_weights()`` gives them), the optimizer as new."""
        self.model.set_weights(weights)
        for variable, value in zip(self.optimizer.variables, self._optimizer_start, strict=True):
            variable.assign(value)

    def _steps(self, X, y, batches):
        model, optimizer = self.model, self.optimizer
        variables = model.trainable_variables
        n_steps = tf.shape(batches)[0]
        losses = tf.TensorArray(tf.float32, size=n_steps)
        accuracies = tf.TensorArray(tf.float32, size=n_steps)
        norms = tf.TensorArray(tf.float32, size=n_steps)
        for step in tf.range(n_steps):
            X_batch, y_batch = tf.gather(X, batches[step]), tf.gather(y, batches[step])
            with tf.GradientTape() as tape:
                y_pred = model(X_batch, training=True)
                if self.loss is None:
                    loss = model.compute_loss(x=X_batch, y=y_batch, y_pred=y_pred, training=True)
                else:
                    loss = self.loss(y_batch, y_pred)
            grads = tape.gradient(loss, variables)
            norms = norms.write(step, tf.stack([tf.cast(tf.norm(g), tf.float32) for g in grads]))
            hits = tf.equal(tf.argmax(y_pred, axis=1), tf.cast(y_batch, tf.int64))
            accuracies = accuracies.write(step, tf.reduce_mean(tf.cast(hits, tf.float32)))
            losses = losses.write(step, tf.cast(loss, tf.float32))
            optimizer.apply_gradients(zip(grads, variables, strict=True))  # clips first, when asked to
        return losses.stack(), accuracies.stack(), norms.stack()

    def run(self, X, y, batches: np.ndarray) -> Steps:
        """Train on ``X[batches[k]]`` at step k, for every row k of ``batches``; record each step."""
        X = tf.constant(np.asarray(X, dtype=np.float32))
        y = tf.constant(np.asarray(y, dtype=np.int64))
        # A new loop per model is expected: keep TensorFlow's warning about retracing quiet.
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")
        try:
            losses, accuracies, norms = self._loop(X, y, tf.constant(np.asarray(batches)))
        finally:
            logger.setLevel(level)
        return Steps(losses.numpy(), accuracies.numpy(), norms.numpy())
