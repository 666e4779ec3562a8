"""Shadowing: a top-level name the tests use (``check_close``, ``np``, ``AssertionError``) bound to something else."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.names import DEFINITIONS, DICT_WRITES, GLOBALS, check_names, string_parts
from autograder.integrity.rules.base import ASSIGNMENTS, IMPORTS, Rule, assigned, words_of

# Names the test cells use as modules, and what they must stay bound to.
PROTECTED_NAMES = {"np": {"numpy"}, "numpy": {"numpy"}, "tf": {"tensorflow"}, "tensorflow": {"tensorflow"},
                   "keras": {"keras", "tensorflow.keras"}, "course": {"course"}, "checks": {"course.checks"}}
PROTECTED_BUILTINS = {"AssertionError", "Exception", "BaseException"}

R_SHADOW = "redefines {}, which the tests use"


class Shadowing(Rule):
    """A top-level assignment, definition or import that rebinds a name the tests use."""

    id = "shadowing"
    reads = (*ASSIGNMENTS, *DEFINITIONS, *IMPORTS, ast.Call)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        names = self.names
        bindings: list[tuple[ast.AST, str, str | None]] = []
        if isinstance(node, DEFINITIONS) and names.depth == 0:
            bindings.append((node, node.name, None))
        elif isinstance(node, ast.Import) and names.depth == 0:
            for alias in node.names:
                root = alias.name.split(".")[0]
                bindings.append((node, alias.asname or root, alias.name if alias.asname else root))
        elif isinstance(node, ast.ImportFrom) and names.depth == 0:
            bindings += [(node, alias.asname or alias.name, f"{node.module or ''}.{alias.name}")
                         for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call):  # globals().update(check_close=print)
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr in DICT_WRITES
                    and names.resolve(func.value) == GLOBALS):
                bindings += [(node, keyword.arg, None) for keyword in node.keywords if keyword.arg]
        else:
            for target, deleting in assigned(node):
                if isinstance(target, ast.Subscript) and names.resolve(target.value) == GLOBALS:
                    key = string_parts(target.slice)  # globals()["check_close"] = print
                    if key:
                        bindings.append((target, key[0], None))
                elif isinstance(target, ast.Name) and not deleting and names.depth == 0:
                    bindings.append((target, target.id, None))
        for where, name, bound_to in bindings:
            message = self.binding(name, bound_to)
            if message:
                yield self.found(where, message)

    def binding(self, name: str, bound_to: str | None) -> str | None:
        """A top-level name bound in a student cell (``bound_to``: the module an import binds it to)."""
        if name in PROTECTED_BUILTINS:
            return R_SHADOW.format(name)
        if name in PROTECTED_NAMES and bound_to not in PROTECTED_NAMES[name]:
            return R_SHADOW.format(name)
        if name in check_names() and (name.startswith("check") or name in self.names.from_checks):
            if bound_to != f"course.checks.{name}":
                return R_SHADOW.format(f"course.checks.{name}")
        return None

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        names = words_of(check_names() | PROTECTED_BUILTINS | set(PROTECTED_NAMES))
        return [(rf"^\s*(def|class)\s+({names})\b|^\s*({names})\s*=(?!=)", R_SHADOW.format("a name"))]
