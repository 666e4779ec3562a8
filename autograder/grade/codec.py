"""Values as data: what may cross between the grader kernel and the student kernel, and nothing else.

The judge runs a notebook's tests in a kernel where student code never ran; the student's functions are
called in the student's own kernel, and arguments and results travel between the two as data only:

- ``None``, bools, ints, floats, strings; lists, tuples and dicts of those;
- NumPy arrays and scalars of numeric and boolean dtypes, and tensors (as arrays);
- Keras models, layers, initializers, optimizers, losses, regularizers, constraints and activations, as their
  Keras config plus weights (and a model's compile config), rebuilt on the other side with Keras' safe
  deserialization, after a check that every class in the config is one of Keras' own: a ``Lambda`` layer or a
  custom class is refused;
- callables that are none of those, as a handle the other side calls back through (:mod:`autograder.grade.proxy`).

Anything else is refused with a sentence the student understands (:class:`Refused`). Decoding builds plain
objects only (``json``, ``numpy.frombuffer``, Keras' own classes), so a value whose ``__eq__``, ``__array__``
or ``__float__`` would lie cannot cross; sizes and nesting are capped before anything is built.

The module needs the standard library and NumPy (Keras is imported only when a Keras value crosses): the
judge sends its source to the student kernel, which imports nothing of the grader.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_BYTES = 256 * 1024 * 1024  # one message, header and arrays together
MAX_DEPTH = 64  # lists in lists in dicts ...
MAX_ITEMS = 1_000_000  # values in one message (array elements count as one array)
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"}
KERAS_KINDS = ("model", "layer", "initializer", "optimizer", "loss", "regularizer", "constraint", "activation")
REFUSED_CLASSES = {"Lambda", "TFSMLayer"}  # Keras' own, but they carry code or load files
# Keras' serialization writes these markers for values inside a config (a Functional model's node references,
# constants); none imports a module or runs code. "__lambda__" (code) and "__typespec__" (imports) are refused.
KERAS_VALUE_MARKERS = {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"}


class Refused(Exception):
    """A value that may not cross; the message is a sentence for the student."""


@dataclass
class Payload:
    """An encoded value: a JSON-able tree and the byte buffers its arrays point to."""

    tree: object
    buffers: list[bytes] = field(default_factory=list)


def describe(value: object) -> str:
    """``a MyModel`` / ``a generator``: how a refusal names what it got."""
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


# --- encoding ------------------------------------------------------------------------------------------

def encode(value: object, *, callables: Callable[[Callable], int] | None = None) -> Payload:
    """``value`` as data; ``callables`` registers a plain callable and returns its handle (else refused)."""
    payload = Payload(None)
    payload.tree = _encode(value, payload, callables, depth=0)
    return payload


def _encode(value, payload: Payload, callables, depth: int):
    if depth > MAX_DEPTH:
        raise Refused(f"the value is nested more than {MAX_DEPTH} levels deep")
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value if abs(value) < 2**63 else {"$int": str(value)}
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) is list:
        return [_encode(item, payload, callables, depth + 1) for item in value]
    if type(value) is tuple:
        return {"$tuple": [_encode(item, payload, callables, depth + 1) for item in value]}
    if type(value) is dict:
        return {"$dict": [[_encode(key, payload, callables, depth + 1), _encode(item, payload, callables, depth + 1)]
                          for key, item in value.items()]}
    if isinstance(value, np.ndarray | np.generic):
        return _encode_array(value, payload)
    module = type(value).__module__ or ""
    if module.startswith(("keras", "tensorflow")) or _is_keras_function(value):
        return _encode_framework(value, payload, callables, depth)
    if callable(value) and callables is not None and not isinstance(value, type):
        return {"$callable": callables(value)}
    raise Refused(f"the grader reads numbers, strings, lists, tuples, dicts, NumPy arrays and Keras objects; "
                  f"got {describe(value)}")


def _encode_array(value, payload: Payload) -> dict:
    array = np.asarray(value)
    if array.dtype.name not in DTYPES:
        raise Refused(f"the grader reads arrays of numbers or booleans; got an array of dtype {array.dtype}")
    if array.nbytes > MAX_BYTES:
        raise Refused(f"an array of {array.nbytes / 2**20:.0f} MiB is larger than the grader reads "
                      f"({MAX_BYTES / 2**20:.0f} MiB)")
    payload.buffers.append(np.ascontiguousarray(array).tobytes())
    kind = "$scalar" if isinstance(value, np.generic) else "$array"
    return {kind: {"dtype": array.dtype.name, "shape": list(array.shape), "buffer": len(payload.buffers) - 1}}


def _is_keras_function(value) -> bool:
    module = getattr(value, "__module__", None) or ""
    return callable(value) and module.startswith("keras") and not isinstance(value, type)


def _encode_framework(value, payload: Payload, callables, depth: int):
    import keras

    if isinstance(value, keras.Model | keras.layers.Layer):
        weights = [_encode_array(np.asarray(w), payload) for w in value.get_weights()]
        tree = {"kind": "model" if isinstance(value, keras.Model) else "layer",
                "config": keras.saving.serialize_keras_object(value), "weights": weights}
        if isinstance(value, keras.Model) and getattr(value, "compiled", False) and value.optimizer is not None:
            tree["compile"] = value.get_compile_config()
        return {"$keras": _jsonable(tree)}
    for kind, base in (("initializer", keras.initializers.Initializer), ("optimizer", keras.optimizers.Optimizer),
                       ("loss", keras.losses.Loss), ("regularizer", keras.regularizers.Regularizer),
                       ("constraint", keras.constraints.Constraint)):
        if isinstance(value, base):
            return {"$keras": _jsonable({"kind": kind, "config": keras.saving.serialize_keras_object(value)})}
    if _is_keras_function(value):
        return {"$keras": _jsonable({"kind": "activation", "config": keras.saving.serialize_keras_object(value)})}
    if hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):  # a tensor or variable
        return _encode_array(keras.ops.convert_to_numpy(value), payload)
    raise Refused(f"the grader reads Keras models (Sequential or Functional), layers, initializers, optimizers "
                  f"and losses; got {describe(value)}")


def _jsonable(tree):
    """A Keras config as plain JSON (Keras writes tuples and NumPy numbers in places)."""
    return json.loads(json.dumps(tree, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# --- decoding ------------------------------------------------------------------------------------------

def decode(payload: Payload, *, callback: Callable[[int], Callable] | None = None):
    """The value ``payload`` holds, built from plain types only; Refused if anything is not allowed."""
    counter = [0]
    return _decode(payload.tree, payload, callback, counter, depth=0)


def _decode(tree, payload: Payload, callback, counter: list[int], depth: int):
    counter[0] += 1
    if counter[0] > MAX_ITEMS:
        raise Refused(f"the value holds more than {MAX_ITEMS:,} items")
    if depth > MAX_DEPTH:
        raise Refused(f"the value is nested more than {MAX_DEPTH} levels deep")
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is list:
        return [_decode(item, payload, callback, counter, depth + 1) for item in tree]
    if type(tree) is not dict or len(tree) != 1:
        raise Refused("the value sent is not in the grader's format")
    (tag, body), = tree.items()
    if tag == "$tuple" and type(body) is list:
        return tuple(_decode(item, payload, callback, counter, depth + 1) for item in body)
    if tag == "$dict" and type(body) is list:
        result = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise Refused("the value sent is not in the grader's format")
            key = _decode(pair[0], payload, callback, counter, depth + 1)
            if not isinstance(key, str | int | float | bool | tuple | type(None)):
                raise Refused(f"a dictionary key must be a string or a number; got {describe(key)}")
            result[key] = _decode(pair[1], payload, callback, counter, depth + 1)
        return result
    if tag == "$int" and type(body) is str and len(body) <= 64:
        try:
            return int(body)
        except ValueError as error:
            raise Refused("an integer sent is not in the grader's format") from error
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("$array", "$scalar"):
        array = _decode_array(body, payload)
        return array[()] if tag == "$scalar" else array
    if tag == "$keras" and type(body) is dict:
        return _decode_keras(body, payload)
    if tag == "$callable" and type(body) is int and callback is not None:
        return callback(body)
    raise Refused("the value sent is not in the grader's format")


def _decode_array(body, payload: Payload) -> np.ndarray:
    if type(body) is not dict or body.get("dtype") not in DTYPES or type(body.get("shape")) is not list \
            or not all(type(n) is int and n >= 0 for n in body["shape"]) or type(body.get("buffer")) is not int \
            or not 0 <= body["buffer"] < len(payload.buffers):
        raise Refused("an array sent is not in the grader's format")
    dtype, shape = np.dtype(body["dtype"]), tuple(body["shape"])
    data = payload.buffers[body["buffer"]]
    if math.prod(shape) * dtype.itemsize != len(data):
        raise Refused(f"an array of shape {shape} and dtype {dtype} came with {len(data)} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def check_keras_config(config, where: str = "the object") -> None:
    """Every class named in a Keras config is one of Keras' own, and none carries code (Lambda)."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack += item
        elif isinstance(item, dict):
            if "__lambda__" in item or "function_type" in item or item.get("class_name") == "__lambda__":
                raise Refused(f"{where} holds Python code (a Lambda layer or function); the grader rebuilds "
                              "Keras' own layers only")
            if "class_name" in item and item["class_name"] not in KERAS_VALUE_MARKERS:
                module, name = item.get("module"), item.get("class_name")
                if name in REFUSED_CLASSES:
                    raise Refused(f"{where} holds a {name} layer; the grader rebuilds Keras' own layers only "
                                  "(write the computation with built-in layers)")
                keras_function = name == "function" and module == "builtins" and isinstance(item.get("config"), str)
                keras_class = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
                if not (keras_function or keras_class):
                    raise Refused(f"{where} holds the class {name!r} from {module!r}; the grader rebuilds "
                                  "Keras' own classes only (no custom layers or subclassed models)")
                registered = item.get("registered_name")
                if registered not in (None, name, "function"):
                    raise Refused(f"{where} holds the registered custom object {registered!r}; the grader "
                                  "rebuilds Keras' own classes only")
            stack += list(item.values())


def _decode_keras(body: dict, payload: Payload):
    import keras

    kind, config = body.get("kind"), body.get("config")
    if kind not in KERAS_KINDS:
        raise Refused("a Keras object sent is not in the grader's format")
    check_keras_config(config, f"the {kind}")
    if "compile" in body:
        check_keras_config(body["compile"], f"the {kind}'s compile settings")
    try:
        value = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:
        raise Refused(f"the grader could not rebuild the {kind} from its Keras config: {error}") from error
    if kind in ("model", "layer"):
        weights = [_decode_array(w.get("$array"), payload) if isinstance(w, dict) else None
                   for w in body.get("weights", [])]
        try:
            value.set_weights(weights)
        except Exception as error:
            raise Refused(f"the {kind}'s weights do not fit its layers: {error}") from error
        if "compile" in body:
            try:
                value.compile_from_config(body["compile"])
            except Exception as error:
                raise Refused(f"the grader could not compile the model as it was compiled: {error}") from error
    return value


# --- bytes ---------------------------------------------------------------------------------------------

_LENGTH = struct.Struct(">Q")


def to_bytes(payload: Payload) -> bytes:
    """One message: the header's length and JSON, then each buffer's length and bytes."""
    header = json.dumps({"tree": payload.tree, "buffers": len(payload.buffers)}, allow_nan=False).encode()
    parts = [_LENGTH.pack(len(header)), header]
    for buffer in payload.buffers:
        parts += [_LENGTH.pack(len(buffer)), buffer]
    message = b"".join(parts)
    if len(message) > MAX_BYTES:
        raise Refused(f"the value takes {len(message) / 2**20:.0f} MiB; the grader reads at most "
                      f"{MAX_BYTES / 2**20:.0f} MiB")
    return message


def from_bytes(message: bytes, *, max_bytes: int = MAX_BYTES) -> Payload:
    """The payload of one message; Refused when it is larger than ``max_bytes`` or malformed."""
    if len(message) > max_bytes:
        raise Refused(f"the value takes {len(message) / 2**20:.0f} MiB; the grader reads at most "
                      f"{max_bytes / 2**20:.0f} MiB")
    view, offset = memoryview(message), 0

    def take() -> bytes:
        nonlocal offset
        if offset + 8 > len(view):
            raise Refused("the value sent was cut short")
        (length,) = _LENGTH.unpack(view[offset:offset + 8])
        if offset + 8 + length > len(view):
            raise Refused("the value sent was cut short")
        offset += 8 + length
        return bytes(view[offset - length:offset])

    try:
        header = json.loads(take())
    except (ValueError, RecursionError) as error:
        raise Refused(f"the value sent is not in the grader's format ({type(error).__name__})") from error
    if type(header) is not dict or type(header.get("buffers")) is not int:
        raise Refused("the value sent is not in the grader's format")
    buffers = [take() for _ in range(header["buffers"])]
    if offset != len(view):
        raise Refused("the value sent has bytes after its end")
    return Payload(header.get("tree"), buffers)


def to_text(payload: Payload) -> str:
    """The message as ASCII (base64), to travel inside a Jupyter message."""
    return base64.b64encode(to_bytes(payload)).decode("ascii")


def from_text(text: str, *, max_bytes: int = MAX_BYTES) -> Payload:
    if not isinstance(text, str) or len(text) > max_bytes * 4 // 3 + 4:
        raise Refused(f"the value sent is larger than the grader reads ({max_bytes / 2**20:.0f} MiB)")
    try:
        return from_bytes(base64.b64decode(text, validate=True), max_bytes=max_bytes)
    except (ValueError, TypeError) as error:
        raise Refused("the value sent is not in the grader's format") from error
