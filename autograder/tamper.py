"""Tamper detection inside the grading kernel: a baseline of the test machinery, probes, per-cell tokens.

Student code runs in the same Python process as the tests, so it can change what the tests use:
append an IPython input transformer that turns every later cell into ``pass``, register an
exception handler or a ``pre_run_cell`` callback, patch ``course.checks`` through a function's
``__globals__``, replace ``numpy.testing.assert_allclose`` or ``builtins.AssertionError``. The
executor (:mod:`autograder.execute`) therefore

1. runs :func:`probe_code` before the first student cell: it prints a fresh random token and a
   fingerprint of all of the above (which object each name is bound to);
2. runs it again before every test cell and compares with the baseline (:func:`compare`); a probe
   that does not print its token did not run as sent, which is itself tampering;
3. sends each test cell with a last line that prints another fresh token (:func:`with_token`): a
   test cell whose token is missing and that raised no error did not run to its end.

What this cannot see is said in the README's security model: a kernel runs the student's code,
and code clever enough to rebuild these objects exactly as they were can still hide.
"""

from __future__ import annotations

import ast
import json
import secrets

from IPython.core.inputtransformer2 import TransformerManager

# Modules whose names the tests use: each name bound at the baseline must stay bound to the same object.
WATCHED_MODULES = ("builtins", "math", "numpy", "numpy.testing", "numpy.testing._private.utils", "unittest")
# Imported at the baseline only when the notebook's own (non-student) cells use them: importing
# TensorFlow costs seconds that a notebook without it should not pay.
WATCHED_FRAMEWORK_MODULES = ("course.checks", "keras", "keras.layers", "keras.initializers", "keras.activations",
                             "keras.optimizers", "keras.models")
# Keras classes the tests inspect: their methods must stay the same functions.
WATCHED_CLASSES = ("keras.layers.Dense", "keras.layers.Activation", "keras.layers.BatchNormalization",
                   "keras.layers.ELU", "keras.layers.ReLU", "keras.layers.LeakyReLU", "keras.layers.Layer",
                   "keras.Model", "keras.Sequential", "keras.initializers.VarianceScaling",
                   "keras.initializers.Initializer", "keras.optimizers.SGD", "keras.optimizers.Optimizer")

# Runs in the kernel inside its own namespace (never the student's), prints TOKEN and a JSON fingerprint.
_PROBE = r'''
import builtins as _b, importlib as _il, json as _j, sys as _s
from IPython import get_ipython as _g

def _fp(obj):
    try:
        obj = getattr(obj, "__func__", obj)  # a bound method is made anew on each access: its function
        code = getattr(obj, "__code__", None)
        extra = "" if code is None else f"/{id(code):x}/{id(getattr(obj, '__defaults__', None)):x}"
    except Exception:
        extra = ""
    return f"{type(obj).__name__}@{id(obj):x}{extra}"

def _ids(items):
    return [_fp(item) for item in items]

_SKIP = {"_", "__", "___", "__warningregistry__", "__doc__"}  # rebound by IPython or by warnings
_ip = _g()
_m = _ip.input_transformer_manager
_state = {
    "input transformer": _ids(_ip.input_transformers_cleanup) + _ids(_m.cleanup_transforms)
        + _ids(_m.line_transforms) + _ids(_m.token_transformers) + _ids(_ip.input_transformers_post),
    "AST transformer": _ids(_ip.ast_transformers),
    "custom exception handler": _ids(_ip.custom_exceptions) + [_fp(_ip.CustomTB)],
    "event callback": {name: [f"{getattr(f, '__module__', None)}:{_fp(f)}" for f in found]
                       for name, found in sorted(_ip.events.callbacks.items())},
    "sys.settrace": _fp(_s.gettrace()), "sys.setprofile": _fp(_s.getprofile()),
    "sys.excepthook": _fp(_s.excepthook),
    "IPython's cell runner": {name: _fp(getattr(_ip, name, None)) for name in (
        "run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "transform_ast",
        "showtraceback", "_showtraceback", "should_run_async", "run_cell_magic", "run_line_magic")},
}
for _name in WATCH_MODULES:
    if IMPORT:
        try:
            _il.import_module(_name)
        except Exception:
            pass
    _mod = _s.modules.get(_name)
    if _mod is not None:
        _state["module " + _name] = {k: _fp(v) for k, v in vars(_mod).items() if k not in _SKIP}
    _state["sys.modules[" + _name + "]"] = _fp(_mod)
for _path in WATCH_CLASSES:
    _owner, _, _attr = _path.rpartition(".")
    _cls = getattr(_s.modules.get(_owner), _attr, None)
    if _cls is not None:
        _state["class " + _path] = {k: _fp(v) for k, v in vars(_cls).items() if k not in _SKIP}
_s.stdout.write(TOKEN + _j.dumps(_state) + "\n")
_s.stdout.flush()
'''


def new_token() -> str:
    return "grader-" + secrets.token_hex(16)


def watched_modules(framework: bool) -> tuple[str, ...]:
    return WATCHED_MODULES + (WATCHED_FRAMEWORK_MODULES if framework else ())


def probe_code(token: str, modules: tuple[str, ...], *, import_modules: bool) -> str:
    """Code for one probe: run in a namespace of its own, it prints ``token`` and the fingerprint as JSON."""
    names = {"TOKEN": token, "WATCH_MODULES": list(modules), "WATCH_CLASSES": list(WATCHED_CLASSES),
             "IMPORT": import_modules, "__name__": "grader_probe"}
    return f"exec(compile({_PROBE!r}, '<grader probe>', 'exec'), {names!r})"


def read_probe(text: str, token: str) -> dict | None:
    """The fingerprint a probe printed, or None when its token is not in ``text`` (it did not run as sent)."""
    for line in text.splitlines():
        if line.startswith(token):
            try:
                return json.loads(line[len(token):])
            except ValueError:
                return None
    return None


# Callbacks that the libraries the notebooks use register themselves (matplotlib's inline backend
# flushes figures after each cell; ipywidgets and ipykernel keep their state).
LIBRARY_CALLBACKS = ("matplotlib_inline.", "ipykernel.", "IPython.", "ipywidgets.", "matplotlib.")


def _callback_changes(before: dict, after: dict) -> list[str]:
    changes = []
    for event in sorted(set(before) | set(after)):
        old, new = before.get(event, []), after.get(event, [])
        moved = [entry for entry in new if entry not in old] + [entry for entry in old if entry not in new]
        if any(not entry.startswith(LIBRARY_CALLBACKS) for entry in moved):
            changes.append(f"event callback {'added' if len(new) > len(old) else 'changed'} ({event})")
    return changes


def compare(baseline: dict, now: dict) -> list[str]:
    """What changed since the baseline, in words ("input transformer added"); names that appeared are fine."""
    changes = []
    for key, before in baseline.items():
        after = now.get(key)
        if key == "event callback":
            changes += _callback_changes(before, after or {})
        elif isinstance(before, list):
            after = after or []
            if len(after) > len(before):
                changes.append(f"{key} added")
            elif after != before:
                changes.append(f"{key} changed")
        elif isinstance(before, dict):
            after = after or {}
            changed = sorted(name for name, value in before.items() if after.get(name) != value)
            if changed:
                shown = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
                changes.append(f"{key} changed ({shown})")
        elif after != before:
            changes.append(f"{key} changed")
    return changes


def with_token(source: str, token: str) -> str | None:
    """The test cell's code with a last line that prints ``token``; None when it cannot be added safely.

    A cell ending in an expression keeps it as its last expression (nbgrader reads a number it
    displays as partial credit): its value is kept in a variable, the token printed, and the
    variable shown. Cells with IPython syntax (magics) are sent unchanged.
    """
    if TransformerManager().transform_cell(source) != source.rstrip("\n") + "\n":
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if not tree.body:
        return None
    stamp = f"_grader_stamp = __import__('sys').stdout.write({token!r} + '\\n')"
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        lines = source.splitlines(keepends=True)
        before = "".join(lines[:last.lineno - 1]) + lines[last.lineno - 1][:last.col_offset]
        expression = ast.get_source_segment(source, last.value)
        if not expression or before.strip() and not before.endswith("\n"):
            return None  # an expression after ";" on one line: keep it simple
        return f"{before}_grader_value = ({expression})\n{stamp}\n_grader_value\n"
    return f"{source.rstrip()}\n{stamp}\n"


def strip_token(outputs: list, token: str) -> bool:
    """Remove the token's line from stream outputs; whether it was there."""
    found = False
    for output in outputs:
        if output.get("output_type") == "stream" and token in output.get("text", ""):
            output["text"] = output["text"].replace(token + "\n", "").replace(token, "")
            found = True
    outputs[:] = [output for output in outputs
                  if not (output.get("output_type") == "stream" and output.get("text") == "")]
    return found
