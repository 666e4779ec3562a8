"""History: reading the cells run before (``In``, ``_ih``, ``Out``, ``%history``, the history manager)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.names import DEFINITIONS, GLOBALS, IPYTHON, literal
from autograder.integrity.rules.base import Rule, magic

HISTORY_NAMES = re.compile(r"In|Out|_ih|_oh|_i|_ii|_iii|_i\d+|_\d+")
HISTORY_ATTRS = {"history_manager"}  # of anything
HISTORY_HOLDERS = {"__main__", "builtins", IPYTHON}  # where the history names live as attributes
HISTORY_MODULE = "IPython.core.history."

R_HISTORY = "reads the cells run before ({})"


class History(Rule):
    """The history names read (not bound by the cell), ``globals()["_ih"]``, ``%history``, the history manager."""

    id = "history"
    reads = (ast.Name, ast.Attribute, ast.Subscript, ast.Call, *DEFINITIONS)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        names = self.names
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and HISTORY_NAMES.fullmatch(node.id) and node.id not in names.bound:
                yield self.found(node, R_HISTORY.format(node.id))
        elif isinstance(node, ast.Attribute):
            if node.attr in HISTORY_ATTRS or (names.resolve(node.value) in HISTORY_HOLDERS
                                              and HISTORY_NAMES.fullmatch(node.attr)):
                yield self.found(node, R_HISTORY.format(node.attr))
        elif isinstance(node, ast.Subscript):  # globals()["_ih"]
            if (isinstance(node.ctx, ast.Load) and names.resolve(node.value) == GLOBALS and literal(node.slice)
                    and HISTORY_NAMES.fullmatch(str(node.slice.value))):
                yield self.found(node, R_HISTORY.format(node.slice.value))
        elif isinstance(node, DEFINITIONS):
            for decorator in node.decorator_list:
                if not isinstance(decorator, ast.Call) and (names.resolve(decorator) or "").startswith(HISTORY_MODULE):
                    yield self.found(decorator, R_HISTORY.format(names.resolve(decorator)))
        else:
            yield from self.call(node)

    def call(self, node: ast.Call) -> Iterator[Finding]:
        names, name, func = self.names, self.names.called(node), node.func
        if name.startswith(HISTORY_MODULE):
            yield self.found(node, R_HISTORY.format(name))
        if (isinstance(func, ast.Attribute) and func.attr == "get" and names.resolve(func.value) == GLOBALS
                and node.args and literal(node.args[0]) and HISTORY_NAMES.fullmatch(str(node.args[0].value))):
            yield self.found(node, R_HISTORY.format(node.args[0].value))  # globals().get("_ih")
        run = magic(names, node)
        if run is not None and run.reads_history:
            yield self.found(node, R_HISTORY.format(f"%{run.name}"))

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        attrs = "|".join(sorted(HISTORY_ATTRS))
        return [(rf"(?<![\w.])({HISTORY_NAMES.pattern})\b(?!\s+\w)|\b({attrs})\b",  # not a word of a sentence
                 R_HISTORY.format("_ih/_oh/history_manager"))]
