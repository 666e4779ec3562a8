"""Runs in the student's kernel: calls the student's functions for the judge, and answers with data only.

The judge sends this file's source, with :mod:`autograder.grade.codec`'s, to the student kernel when it starts
(the student kernel imports nothing of the grader). Every answer is one ``display_data`` output of the
type :data:`MIME`, holding a codec message; the judge reads it and drops everything else the call printed.
Nothing here is trusted: the student's code can replace all of it, and can then only send other data.
"""

from __future__ import annotations

import sys
import traceback

MIME = "application/x-judge-answer"
_codec = sys.modules.get("_judge_codec")  # set by the judge before this source runs in the student kernel
_handles: dict[int, object] = {}


def _register(function) -> int:
    _handles[len(_handles)] = function
    return len(_handles) - 1


def _send(answer: dict) -> None:
    from IPython.display import display

    try:
        text = _codec.to_text(_codec.encode(answer, callables=_register))
    except _codec.Refused as error:
        text = _codec.to_text(_codec.encode({"refused": str(error)}))
    except Exception as error:  # an object whose encoding raised (a tensor that cannot be read, ...)
        text = _codec.to_text(_codec.encode({"refused": f"{type(error).__name__}: {error}"}))
    display({MIME: text}, raw=True)


def _where(error: BaseException) -> str:
    """`` (in build_model, line 4 of its cell)`` for the deepest frame of a notebook cell inside a function."""
    where = ""
    for frame, line in traceback.walk_tb(error.__traceback__):
        code = frame.f_code
        in_cell = "ipykernel_" in code.co_filename or code.co_filename.startswith("<ipython-input")
        if in_cell and code.co_name != "<module>":
            where = f" (in {code.co_name}, line {line} of its cell)"
    return where


def export(names: list[str]) -> None:
    """The values of ``names`` in the student's namespace (functions as handles); refusals said per name."""
    namespace = get_ipython().user_ns  # noqa: F821 (the kernel's own)
    values, refused = {}, {}
    for name in names:
        if name not in namespace:
            continue
        try:
            _codec.encode(namespace[name], callables=lambda _: 0)  # can it cross?
            values[name] = namespace[name]
        except _codec.Refused as error:
            refused[name] = str(error)
        except Exception as error:
            refused[name] = f"{type(error).__name__}: {error}"
    _send({"values": values, "refused": refused})


def call(request_text: str) -> None:
    """Call a handle with the request's arguments, with the request's ``course`` helpers locked."""
    try:
        request = _codec.decode(_codec.from_text(request_text))
        function = _handles[request["handle"]]
    except Exception as error:
        _send({"refused": f"the grader's request could not be read here: {error}"})
        return
    locked = request.get("locked") or {}
    lockout = sys.modules.get("course.lockout")
    if locked and lockout is None:
        try:
            import course.lockout as lockout  # the helpers an exercise refuses, locked as in the grader
        except ImportError:
            lockout = None
    saved = dict(lockout._locked) if lockout is not None else None
    if lockout is not None:
        lockout._locked.update(locked)
    args, kwargs = request["args"], request["kwargs"]
    try:
        value = function(*args, **kwargs)
    except BaseException as error:  # noqa: BLE001 (KeyboardInterrupt too: the judge's time limit)
        _send({"raised": {"type": type(error).__name__, "message": str(error), "where": _where(error)},
               "after": _mutable(args, kwargs)})
        return
    finally:
        if lockout is not None:
            lockout._locked.clear()
            lockout._locked.update(saved)
    _send({"ok": value, "after": _mutable(args, kwargs)})


def _mutable(args: list, kwargs: dict) -> dict:
    """The arguments a function can change in place (arrays, lists, dicts), as they are after the call: the
    grader copies them back into its own, so a test that checks an argument was left alone still can."""
    import numpy

    def kept(value):
        return value if isinstance(value, numpy.ndarray | list | dict) else None

    return {"args": [kept(value) for value in args], "kwargs": {key: kept(value) for key, value in kwargs.items()}}
