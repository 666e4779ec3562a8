"""Helpers that are an exercise refuse to run while a test calls the student's answer to it.

The course's helpers implement, for the notebooks' own figures, what some exercises ask students to write
(notebook 01's per-layer gradient norms, notebook 03's dead fractions, the capstone's repaired model). A
helper marked ``@exercise_helper`` runs normally everywhere, except inside ``off_limits(...)``: there it
raises ``AssertionError`` with a sentence that names the exercise, so a student who answers an exercise by
calling the helper fails that test with a message saying why. The lock is a flag the helper checks on each
call (not a patched attribute), so a helper imported by name (``from course.diagnostics import ...``) is
refused too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# qualified name of a locked helper -> the sentence it raises
_locked: dict[str, str] = {}


def qualified_name(function: Callable) -> str:
    """``course.diagnostics.gradient_norms`` for the helper ``gradient_norms`` of ``course.diagnostics``."""
    function = getattr(function, "__wrapped__", function)
    return f"{function.__module__}.{function.__qualname__}"


def exercise_helper(function: Callable) -> Callable:
    """Mark ``function`` as a helper that ``off_limits`` can lock (it runs as usual otherwise)."""
    name = qualified_name(function)

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        if name in _locked:
            raise AssertionError(_locked[name])
        return function(*args, **kwargs)

    return guarded


@contextmanager
def off_limits(*helpers: Callable | str, exercise: str, instead: str) -> Iterator[None]:
    """While the block runs, each of ``helpers`` raises "<exercise> asks you to <instead>; <helper> is off limits".

    A helper is the function, or its qualified name (``"course.capstone_experiments.explorer_model"``), for a
    module that cannot import the helper's own. Use it around the test's call of the student's function only; the
    test's own oracle (which may use the same helpers) runs outside the block.
    """
    names = []
    for helper in helpers:
        if isinstance(helper, str):
            names.append(helper)
            continue
        if not hasattr(helper, "__wrapped__"):
            raise TypeError(f"{qualified_name(helper)} is not marked @exercise_helper")
        names.append(qualified_name(helper))
    saved = dict(_locked)
    for name in names:
        _locked[name] = f"{exercise} asks you to {instead}; {name} is off limits here (write it yourself)"
    try:
        yield
    finally:
        _locked.clear()
        _locked.update(saved)
