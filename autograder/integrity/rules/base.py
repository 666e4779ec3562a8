"""What every rule shares: the base class, the scope it reads in, and helpers over nodes and tables."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from typing import ClassVar, Protocol

from autograder.integrity.findings import Finding
from autograder.integrity.ipython import Magic
from autograder.integrity.names import IMPORT_CALLS, Names

# ``from P import m`` imports the module ``P.m`` for these packages (the rules know some of their modules).
PACKAGES = ("http", "course")
ASSIGNMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)
IMPORTS = (ast.Import, ast.ImportFrom)


class Scope(Protocol):
    """Where a rule reads: the names of the code, and a way to read code hidden in a literal."""

    names: Names

    def nested(self, node: ast.AST, tree: ast.AST | None) -> list[Finding]: ...

    def nested_source(self, node: ast.AST, source: str | bytes | None) -> list[Finding]: ...


class Rule:
    """One kind of finding: the node types it reads, the names it knows (its tables), what it reports."""

    id: ClassVar[str]
    reads: ClassVar[tuple[type[ast.AST], ...]]

    def __init__(self, scope: Scope):
        self.scope = scope
        self.names = scope.names

    def check(self, node: ast.AST) -> Iterator[Finding]:
        """The findings on ``node``, one of the types in :attr:`reads`."""
        raise NotImplementedError

    def found(self, node: ast.AST, message: str) -> Finding:
        return Finding(self.id, getattr(node, "lineno", 1), message)

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        """(regular expression, message) for a line of a cell that does not parse, made from the tables."""
        return []


def assigned(node: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """(target, whether it is deleted) of an assignment or ``del``, tuples unpacked."""
    if isinstance(node, ast.Assign):
        targets, deleting = node.targets, False
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets, deleting = [node.target], False
    elif isinstance(node, ast.Delete):
        targets, deleting = node.targets, True
    else:
        return
    stack = list(reversed(targets))
    while stack:
        target = stack.pop()
        if isinstance(target, ast.Tuple | ast.List):
            stack.extend(reversed(target.elts))
        elif isinstance(target, ast.Starred):
            stack.append(target.value)
        else:
            yield target, deleting


def imported_modules(names: Names, node: ast.AST) -> list[str]:
    """The modules an ``import``, a ``from ... import`` or an ``__import__("literal")`` call imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        return [f"{module}.{alias.name}" if module in PACKAGES else module for alias in node.names]
    if isinstance(node, ast.Call) and node.args and names.called(node) in IMPORT_CALLS:
        module = names.resolve(node)
        return [module] if module else []
    return []


def magic(names: Names, node: ast.AST) -> Magic | None:
    """The magic a ``get_ipython().run_line_magic(...)`` (or ``run_cell_magic``, ``magic``) call runs."""
    method = names.shell_method(node)
    return Magic.of(node, method) if method and isinstance(node, ast.Call) else None


def within(name: str, modules: Iterable[str]) -> bool:
    """Whether the dotted ``name`` is one of ``modules`` or inside one."""
    return any(name == module or name.startswith(module + ".") for module in modules)


def text_of(names: Iterable[str], prefixes: Iterable[str] = ()) -> str:
    """A regular expression for the names as written in text: a dotted name anywhere, a bare one only called."""
    dotted = sorted((re.escape(name) for name in names if "." in name), key=lambda name: (-len(name), name))
    bare = sorted(re.escape(name) for name in names if "." not in name)
    starts = sorted(re.escape(prefix) + r"\w*" for prefix in prefixes)
    parts = []
    if dotted or starts:
        parts.append(r"(?<![\w.])(?:" + "|".join(dotted + starts) + r")\b")
    if bare:
        parts.append(r"(?<![\w.])(?:" + "|".join(bare) + r")\s*\(")
    return "|".join(parts) or r"(?!)"


def words_of(names: Iterable[str]) -> str:
    """A regular expression alternative of plain words (``a|b|c``), escaped."""
    return "|".join(sorted((re.escape(name) for name in names), key=lambda name: (-len(name), name)))
