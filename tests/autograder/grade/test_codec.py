"""autograder.grade.codec: what may cross between the student kernel and the grader kernel, as data only.

Every attack below is a value (or a message) a student's function could send back; each must be refused with a
sentence, or arrive as a plain object the grader built itself.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from autograder.grade import codec
from autograder.grade.codec import Refused


def roundtrip(value, **kwargs):
    return codec.decode(codec.from_text(codec.to_text(codec.encode(value, **kwargs))))


def test_plain_values_cross_unchanged():
    value = {"a": [1, 2.5, None, True, "x"], ("t", 1): (1, (2, 3)), 7: float("nan"), "big": 2**80,
             "inf": float("-inf")}
    back = roundtrip(value)
    assert back["a"] == [1, 2.5, None, True, "x"] and back[("t", 1)] == (1, (2, 3)) and back["big"] == 2**80
    assert np.isnan(back[7]) and back["inf"] == float("-inf")
    assert type(back[("t", 1)]) is tuple and type(back["a"]) is list


def test_arrays_and_scalars_keep_dtype_shape_and_bits():
    for array in [np.arange(12, dtype="float32").reshape(3, 4), np.array([True, False]), np.zeros((0, 5)),
                  np.array([1, 2], dtype="uint8"), np.asfortranarray(np.ones((3, 2), dtype="float64"))]:
        back = roundtrip(array)
        assert type(back) is np.ndarray and back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)
        assert back.flags.writeable
    scalar = roundtrip(np.float32(0.1))
    assert type(scalar) is np.float32 and scalar == np.float32(0.1)


def test_tensors_cross_as_arrays():
    import tensorflow as tf

    back = roundtrip(tf.constant([[1.0, 2.0]]))
    assert type(back) is np.ndarray and back.dtype == np.float32 and back.tolist() == [[1.0, 2.0]]
    back = roundtrip(tf.Variable([3, 4]))
    assert back.tolist() == [3, 4]


def test_a_compiled_model_is_rebuilt_with_its_weights_and_compile_settings():
    import keras

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="elu",
                                                                          kernel_initializer="he_normal"),
                              keras.layers.BatchNormalization(), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    back = roundtrip(model)
    assert back is not model and type(back) is keras.Sequential
    assert [type(layer).__name__ for layer in back.layers] == ["Dense", "BatchNormalization", "Dense"]
    for mine, theirs in zip(model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert type(back.optimizer) is keras.optimizers.SGD and back.optimizer.global_clipnorm == 1.0
    assert float(back.optimizer.learning_rate) == pytest.approx(0.1) and back.loss == "sparse_categorical_crossentropy"
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_functional_models_initializers_and_activations_cross():
    import keras

    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(3)(inputs)
    outputs = keras.layers.Add()([hidden, keras.layers.Dense(3)(inputs)])
    model = keras.Model(inputs, outputs)
    assert isinstance(roundtrip(model), keras.Model) and len(roundtrip(model).layers) == 4
    initializer = roundtrip(keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="normal"))
    assert type(initializer) is keras.initializers.VarianceScaling and initializer.scale == 2.0
    assert roundtrip(keras.activations.relu) is keras.activations.relu
    assert type(roundtrip(keras.optimizers.Adam(learning_rate=0.01))) is keras.optimizers.Adam


# --- attacks: values a student's function returns --------------------------------------------------------

class Liar:
    """Equal to everything, any float, any array."""

    def __eq__(self, other):
        return True

    def __float__(self):
        return 1.0

    def __array__(self, dtype=None, copy=None):
        return np.ones(3)


class LyingList(list):
    def __eq__(self, other):
        return True


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return True


def test_objects_that_lie_are_refused_or_arrive_as_plain_data():
    with pytest.raises(Refused, match="got a Liar"):
        codec.encode(Liar())
    with pytest.raises(Refused, match="got a LyingList"):
        codec.encode(LyingList([1, 2]))
    lying = np.zeros(3).view(LyingArray)
    back = roundtrip(lying)
    assert type(back) is np.ndarray and not np.array_equal(back, np.ones(3))


def test_a_lambda_layer_or_custom_class_is_refused():
    import keras

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Lambda(lambda x: x * 0 + 1)])
    with pytest.raises(Refused, match="Lambda"):
        roundtrip(model)

    @keras.saving.register_keras_serializable(package="student")
    class Sneaky(keras.layers.Layer):
        def call(self, x):
            return x

    with pytest.raises(Refused, match="Keras' own"):
        roundtrip(keras.Sequential([keras.Input(shape=(2,)), Sneaky()]))


def test_a_forged_keras_config_naming_another_module_is_refused_before_keras_sees_it():
    forged = {"$keras": {"kind": "initializer", "config": {"module": "os", "class_name": "system",
                                                          "config": "touch /tmp/owned", "registered_name": None}}}
    with pytest.raises(Refused, match="'os'"):
        codec.decode(codec.Payload(forged))
    lambda_config = {"$keras": {"kind": "layer", "config": {"module": "keras.layers", "class_name": "Dense",
                                                           "config": {"units": 2, "activation": {
                                                               "class_name": "__lambda__", "module": "keras",
                                                               "config": {"code": "AAAA"}}}}}}
    with pytest.raises(Refused, match="Python code"):
        codec.decode(codec.Payload(lambda_config))


def test_a_pickled_payload_is_not_read():
    message = pickle.dumps({"score": 18})
    with pytest.raises(Refused, match="format|cut short"):
        codec.decode(codec.from_bytes(message))


def test_sizes_are_capped_before_anything_is_built():
    huge = np.broadcast_to(np.zeros(1, dtype="float64"), (2**31,))  # 16 GiB, no memory behind it
    with pytest.raises(Refused, match="MiB"):
        codec.encode(huge)
    with pytest.raises(Refused, match="at most"):
        codec.from_bytes(b"\0" * 100, max_bytes=50)
    header = json.dumps({"tree": {"$array": {"dtype": "float64", "shape": [10**9], "buffer": 0}},
                         "buffers": 1}).encode()
    lying_length = codec._LENGTH.pack(len(header)) + header + codec._LENGTH.pack(8) + b"\0" * 8
    with pytest.raises(Refused, match="came with 8 bytes"):
        codec.decode(codec.from_bytes(lying_length))
    with pytest.raises(Refused, match="cut short"):
        codec.from_bytes(codec._LENGTH.pack(10**12) + b"{}")


def test_deep_nesting_is_refused():
    deep = "[" * 1_000_000 + "]" * 1_000_000
    message = codec._LENGTH.pack(len(deep) + 20) + f'{{"buffers": 0, "tree": {deep}}}'.encode()
    with pytest.raises(Refused):
        codec.decode(codec.from_bytes(message))
    tree = []
    for _ in range(200):
        tree = [tree]
    with pytest.raises(Refused, match="nested"):
        codec.decode(codec.Payload(tree))
    with pytest.raises(Refused, match="nested"):
        codec.encode(tree)


def test_object_dtype_and_other_types_are_refused_with_a_sentence():
    with pytest.raises(Refused, match="dtype object"):
        codec.encode(np.array([Liar()], dtype=object))
    with pytest.raises(Refused, match="got a generator"):
        codec.encode(x for x in range(3))
    with pytest.raises(Refused, match="got a set"):
        codec.encode({1, 2})


def test_plain_callables_cross_as_handles_only_when_allowed():
    def student_function(x):
        return x + 1

    with pytest.raises(Refused, match="got a function"):
        codec.encode(student_function)
    handles = []
    payload = codec.encode({"f": student_function}, callables=lambda f: handles.append(f) or len(handles) - 1)
    assert handles == [student_function]
    back = codec.decode(payload, callback=lambda handle: ("proxy", handle))
    assert back == {"f": ("proxy", 0)}
    with pytest.raises(Refused):
        codec.decode(payload)  # no callback: a handle means nothing
