"""The walk over a parsed cell: each node goes to every rule that reads its type."""

from __future__ import annotations

import ast

from autograder.integrity.findings import Finding
from autograder.integrity.ipython import python_tree
from autograder.integrity.names import DEFINITIONS, Names
from autograder.integrity.rules import RULES, Rule


class Visitor(ast.NodeVisitor):
    """Reads one tree with every rule; code hidden in a literal is read by a visitor of its own."""

    def __init__(self, names: Names):
        self.names = names
        self.found: list[Finding] = []
        self.readers: dict[type[ast.AST], list[Rule]] = {}
        for rule in (kind(self) for kind in RULES):
            for node_type in rule.reads:
                self.readers.setdefault(node_type, []).append(rule)

    def run(self, tree: ast.AST) -> list[Finding]:
        """Read ``tree``; its findings (kept as they come: a RecursionError leaves those found so far)."""
        self.names.read(tree)
        self.visit(tree)
        return self.found

    def visit(self, node: ast.AST) -> None:
        for rule in self.readers.get(type(node), ()):
            self.found.extend(rule.check(node))
        if isinstance(node, ast.Assign):
            self.names.assigned(node)
        if not isinstance(node, DEFINITIONS):
            self.generic_visit(node)
            return
        self.names.depth += 1  # inside a function or class: its names are not the notebook's
        self.generic_visit(node)
        self.names.depth -= 1

    def nested(self, node: ast.AST, tree: ast.AST | None) -> list[Finding]:
        """The findings of code hidden in a literal (``exec("...")``, a payload, a magic's body), on ``node``'s line."""
        if tree is None:
            return []
        line = getattr(node, "lineno", 1)
        return [Finding(found.rule, line, found.message) for found in Visitor(self.names.inner()).run(tree)]

    def nested_source(self, node: ast.AST, source: str | bytes | None) -> list[Finding]:
        if isinstance(source, bytes):
            source = source.decode("utf-8", errors="replace")
        return self.nested(node, python_tree(source)) if source else []
