"""The lock that keeps the course's exercise helpers out of the tests of the exercises they implement."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.rules.base import IMPORTS, Rule, imported_modules, within

LOCKOUT = "course.lockout"

R_LOCKOUT = "touches the lock that keeps the course's exercise helpers out of the tests ({})"


class Lockout(Rule):
    """``course.lockout`` imported or reached as an attribute of ``course``."""

    id = "lockout"
    reads = (*IMPORTS, ast.Call, ast.Attribute)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        if isinstance(node, ast.Attribute):
            if f"{self.names.resolve(node.value)}.{node.attr}" == LOCKOUT:
                yield self.found(node, R_LOCKOUT.format(LOCKOUT))
            return
        for module in imported_modules(self.names, node):
            if within(module, [LOCKOUT]):
                yield self.found(node, R_LOCKOUT.format(f"imports {module}"))

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        package, module = (re.escape(part) for part in LOCKOUT.rsplit(".", 1))
        return [(rf"\b{package}\.{module}\b|^\s*from\s+{package}\s+import\b.*\b{module}\b",
                 R_LOCKOUT.format(LOCKOUT))]
