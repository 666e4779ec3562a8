"""Runs in the grader kernel: the student's names, as proxies that reach the student's kernel through the judge.

After each answer cell, the judge runs ``define(CELL)`` here: every name the instructor's solution of that cell
defines is read from the student's kernel and bound in this kernel's namespace. A value arrives as data
(:mod:`autograder.grade.codec`); a function arrives as a :class:`StudentFunction`, which sends each call's
arguments as data and returns the result as data, built here. A value that may not cross becomes an
:class:`Unreadable`, whose every use fails the test with the reason.

The judge (``autograder.grade.judge``) holds the other end of the channel: it runs the call in the student's
kernel with a time limit, and answers ``ok``, ``raised`` (the student's exception, by name and message),
``refused`` or ``failed`` (the call did not finish).
"""

from __future__ import annotations

import builtins
import json
import socket
import sys
from collections.abc import Callable

import numpy as np

from autograder.grade import channel, codec

_connection: socket.socket | None = None
_path: str | None = None


def connect(path: str) -> None:
    """Open the channel to the judge (a Unix socket it listens on)."""
    global _connection, _path
    _path = path
    _connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _connection.connect(path)


def _ask(envelope: dict, body: bytes, callback: Callable[[int], Callable]) -> dict:
    """Send a request (a small JSON envelope the judge reads, a body it passes on); the decoded answer.

    A request interrupted while it waits (the cell's time limit) leaves an answer on its way: the connection is
    dropped, and the next request opens a fresh one, so no answer is ever read for the wrong request.
    """
    global _connection
    if _connection is None:
        if _path is None:
            raise RuntimeError("the judge's channel is not open")
        connect(_path)
    try:
        channel.send(_connection, json.dumps(envelope).encode())
        channel.send(_connection, body)
        message = channel.receive(_connection)
    except BaseException:
        _connection.close()
        _connection = None
        raise
    answer = codec.decode(codec.from_bytes(message), callback=callback)
    if type(answer) is not dict:
        raise AssertionError("the answer from the student's kernel is not in the grader's format")
    return answer


class StudentError(Exception):
    """An exception the student's function raised in its own kernel, by name and message."""

    where_in_student_code = ""


def _student_exception(raised: dict) -> BaseException:
    """The student's exception as the grader's test sees it: a built-in exception of that name, or a StudentError."""
    name, message = str(raised.get("type", "Exception")), str(raised.get("message", ""))
    kind = getattr(builtins, name, None)
    error = None
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            error = kind(message)
        except TypeError:  # UnicodeDecodeError and the like take other arguments
            error = None
    if error is None:
        error = type(name if name.isidentifier() else "Exception", (StudentError,), {})(message)
    error.where_in_student_code = str(raised.get("where", ""))[:300]
    return error


class StudentFunction:
    """A function of the student's, called in the student's kernel; arguments and result travel as data."""

    def __init__(self, handle: int, name: str) -> None:
        self._handle, self.__name__, self.__qualname__ = handle, name, name

    def __repr__(self) -> str:
        return f"<the student's {self.__name__}>"

    def __call__(self, *args, **kwargs):
        lockout = sys.modules.get("course.lockout")  # a test that locks helpers has imported it
        locked = dict(lockout._locked) if lockout is not None else {}
        request = {"handle": self._handle, "args": list(args), "kwargs": kwargs, "locked": locked}
        try:
            body = codec.to_bytes(codec.encode(request))
        except codec.Refused as error:
            raise TypeError(f"the grader cannot send these arguments to {self.__name__}: {error}") from None
        try:
            answer = _ask({"op": "call", "name": self.__name__}, body,
                          lambda handle: StudentFunction(handle, f"the function {self.__name__} returned"))
        except codec.Refused as error:
            raise AssertionError(f"{self.__name__} returned a value the grader cannot read: {error}") from None
        _copy_back(args, kwargs, answer.get("after"))
        if "ok" in answer:
            return answer["ok"]
        if "raised" in answer:
            raise _student_exception(answer["raised"])
        if "refused" in answer:
            raise AssertionError(f"{self.__name__} returned a value the grader cannot read: {answer['refused']}")
        raise AssertionError(str(answer.get("failed", f"{self.__name__} did not answer")))


def _copy_back(args: tuple, kwargs: dict, after) -> None:
    """What the student's function did to its arguments in place, done to the grader's own (arrays, lists, dicts)."""
    if type(after) is not dict:
        return
    pairs = list(zip(args, after.get("args") or [], strict=False))
    changed = after.get("kwargs") or {}
    pairs += [(kwargs[key], value) for key, value in changed.items() if key in kwargs] if type(changed) is dict else []
    for original, now in pairs:
        if isinstance(original, np.ndarray) and isinstance(now, np.ndarray):
            if original.shape == now.shape and original.flags.writeable:
                np.copyto(original, now, casting="unsafe")
        elif type(original) is list and type(now) is list:
            original[:] = now
        elif type(original) is dict and type(now) is dict:
            original.clear()
            original.update(now)


class Unreadable:
    """A student's value that may not cross: any use fails the test with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self._message = f"{name} holds a value the grader cannot read: {reason}"

    def _fail(self, *args, **kwargs):
        raise AssertionError(self._message)

    __call__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = _fail
    __float__ = __int__ = __index__ = __getitem__ = __contains__ = __array__ = _fail
    __hash__ = None

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()

    def __repr__(self) -> str:
        return f"<{self._message}>"


def define(cell: str, namespace: dict | None = None) -> list[str]:
    """Bind the names the answer cell ``cell`` defines, read from the student's kernel; the names bound."""
    if namespace is None:
        namespace = get_ipython().user_ns  # noqa: F821 (the kernel's own)
    answer = _ask({"op": "exports", "cell": cell}, b"", lambda handle: StudentFunction(handle, "a function"))
    bound = []
    for name, value in (answer.get("values") or {}).items():
        if isinstance(name, str) and name.isidentifier():
            if isinstance(value, StudentFunction):
                value.__name__ = value.__qualname__ = name
            namespace[name] = value
            bound.append(name)
    for name, reason in (answer.get("refused") or {}).items():
        if isinstance(name, str) and name.isidentifier():
            namespace[name] = Unreadable(name, str(reason))
            bound.append(name)
    return bound
