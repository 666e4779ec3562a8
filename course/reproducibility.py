"""One call that makes a notebook's randomness repeatable."""

from __future__ import annotations

import keras
import tensorflow as tf


def set_seed(seed: int = 42, *, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TF ops deterministic.

    ``keras.utils.set_random_seed`` seeds Python's ``random``, NumPy and the
    backend, and resets Keras' global seed generator (``tf.random.set_seed``
    alone does not seed Keras 3 initializers).  Op determinism makes the
    reductions of a training step bit-for-bit repeatable on CPU.
    """
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
