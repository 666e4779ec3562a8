"""IPython's syntax: magics turned into the Python IPython runs, with the line each Python line came from.

A cell with ``%`` magics or ``!`` shell lines is not Python; IPython's own ``TransformerManager``
turns it into ``get_ipython().run_line_magic(...)`` and ``run_cell_magic(...)`` calls, which the
rules then read like any other call (:class:`Magic`).
"""

from __future__ import annotations

import ast
import difflib
import functools
import re
from dataclasses import dataclass

PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)  # what ast.parse raises

SHELL_CELL_MAGICS = {"bash", "sh", "script", "system", "sx", "perl", "ruby", "zsh",
                     "python", "python2", "python3", "pypy"}  # %%python3 runs its body in another process
SHELL_LINE_MAGICS = {"system", "sx", "pip", "conda", "mamba", "alias"}  # %pip runs pip in a process, off the network
PATH_LINE_MAGICS = {"run", "load", "cd"}
NON_PYTHON_CELL_MAGICS = {"html", "javascript", "js", "latex", "markdown", "md", "svg", "writefile", "file"}
WRITE_CELL_MAGICS = {"writefile", "file"}  # their argument is a path
PYTHON_LINE_MAGICS = {"time", "timeit", "prun", "debug", "capture"}  # their argument is Python code
HISTORY_MAGICS = {"history", "hist", "rerun", "recall", "save", "macro"}
MAGIC_METHODS = {"run_line_magic", "run_cell_magic", "magic"}  # the shell's methods that run a magic
HISTORY_RANGE = re.compile(r"[\d\s,:/-]+")  # %load 1-3: cells of the history, not a file


def cell_magic(source: str) -> tuple[int, str, list[str]] | None:
    """(0-based line, name, words after the name) of the ``%%magic`` line that starts a cell, if any."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return None
    words = lines[first].strip()[2:].split()
    return first, (words[0] if words else ""), words[1:]


@functools.cache
def _transformer() -> object:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def to_python(source: str) -> str | None:
    """The Python IPython runs for ``source`` (magics become ``get_ipython()`` calls); None if it fails."""
    try:
        python = _transformer().transform_cell(source)
    except Exception:  # no IPython, or it chokes on the cell: the hand-written cleanup takes over
        return None
    if python.endswith("\n") and not source.endswith("\n"):
        python = python[:-1]
    return python


def line_map(source: str, python: str) -> list[int] | None:
    """The line of ``source`` (1-based) each line of ``python`` comes from; None when they are the same.

    IPython drops leading blank lines and joins a magic's continuation lines: the rest is matched by text.
    """
    original, transformed = source.split("\n"), python.split("\n")
    if len(original) == len(transformed):
        return None

    def blank_head(lines: list[str]) -> int:
        return next((i for i, line in enumerate(lines) if line.strip()), len(lines))

    shift = max(blank_head(original) - blank_head(transformed), 0)
    rest = original[shift:]
    if len(rest) == len(transformed):
        return [shift + j + 1 for j in range(len(transformed))]
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in rest], [line.strip() for line in transformed],
                                      autojunk=False)
    lines = [1] * len(transformed)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            lines[j] = shift + min(i1 + (j - j1), max(i2 - 1, i1), len(rest) - 1) + 1
    return lines


def python_tree(source: str) -> ast.AST | None:
    """``source`` parsed as Python, or as IPython; None if it is neither."""
    for text in (source, to_python(source)):
        if text is None:
            continue
        try:
            return ast.parse(text)
        except PARSE_ERRORS:
            continue
    return None


def magic_code(line: str) -> ast.AST | None:
    """The Python statement of ``%time``/``%timeit -n 1 ...``: options are skipped until it parses."""
    words = line.split(" ")
    for start in range(len(words)):
        if not all(w.startswith("-") or re.fullmatch(r"[\w.]*", w) for w in words[:start]):
            break
        try:
            return ast.parse(" ".join(words[start:]).strip())
        except PARSE_ERRORS:
            continue
    return None


@dataclass(frozen=True)
class Magic:
    """A magic as the shell's ``run_line_magic``/``run_cell_magic``/``magic`` call runs it (None: computed)."""

    method: str
    name: str | None  # None: the code chooses the magic at run time
    line: str | None  # the words after the name
    body: str | None  # a cell magic's body ("" for a line magic)

    @classmethod
    def of(cls, node: ast.Call, method: str) -> Magic | None:
        """The magic ``get_ipython().<method>(...)`` runs, if ``method`` runs one and has arguments."""
        if method not in MAGIC_METHODS or not node.args:
            return None
        texts = [arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
                 for arg in node.args]
        if texts[0] is None:
            return cls(method, None, None, None)
        if method == "magic":  # get_ipython().magic("sx ls"): the old spelling
            name, _, line = texts[0].lstrip("%").partition(" ")
            return cls(method, name, line, "")
        body = (texts[2] if len(texts) > 2 else "") if method == "run_cell_magic" else ""
        return cls(method, texts[0], texts[1] if len(texts) > 1 else "", body)

    @property
    def cell(self) -> bool:
        return self.method == "run_cell_magic"

    @property
    def words(self) -> list[str]:
        return self.line.split() if self.line is not None else []

    @property
    def shell(self) -> bool:
        """Whether it runs a process (``%%bash``, ``%pip``, ``%sx``)."""
        return self.name in SHELL_LINE_MAGICS | SHELL_CELL_MAGICS

    @property
    def reads_history(self) -> bool:
        """A line magic that reads the cells run before (``%history``, ``%load 1-3``)."""
        if self.cell or self.shell or self.name is None:
            return False
        words = self.words
        return self.name in HISTORY_MAGICS or (self.name == "load" and bool(words)
                                               and bool(HISTORY_RANGE.fullmatch(words[-1])))
