"""Patching: changing the modules the tests rely on (``numpy.testing``, ``course.checks``, ``builtins``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.names import DEFAULT_ALIASES, DICT_WRITES, GUARDED, SETATTR_CALLS
from autograder.integrity.rules.base import ASSIGNMENTS, Rule, assigned, text_of, words_of

MOCK_PREFIXES = ("unittest.mock.patch", "mock.patch", "pytest.MonkeyPatch")
RELOAD_CALLS = {"importlib.reload", "imp.reload"}

R_PATCH = "changes test machinery: {}"
R_MODULES = "edits sys.modules (swaps the modules the tests import)"
R_RELOAD = "reloads a module (importlib.reload)"


class Patching(Rule):
    """Assigning, deleting or ``setattr`` on a guarded module, ``mock.patch``, ``sys.modules``, reloads."""

    id = "patching"
    reads = (*ASSIGNMENTS, ast.Call)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        if isinstance(node, ast.Call):
            yield from self.call(node)
            return
        for target, _ in assigned(node):
            message = self.target(target)
            if message:
                yield self.found(target, message)

    def target(self, node: ast.AST) -> str | None:
        names = self.names
        if isinstance(node, ast.Attribute):
            if names.resolve(node.value) == "sys" and node.attr == "modules":
                return R_MODULES
            guarded = names.guarded(node.value)
            return R_PATCH.format(f"{guarded}.{node.attr}") if guarded else None
        if isinstance(node, ast.Subscript):
            base = names.resolve(node.value)
            if base == "sys.modules":
                return R_MODULES
            if base == "builtins" or ((base or "").endswith(".__dict__") and names.guarded(node.value)):
                return R_PATCH.format(f"{base}[...]")
            if isinstance(node.value, ast.Call) and names.guarded(node.value):
                return R_PATCH.format(f"vars({names.guarded(node.value)})[...]")
        return None

    def call(self, node: ast.Call) -> Iterator[Finding]:
        names, name = self.names, self.names.called(node)
        if name in SETATTR_CALLS and node.args:
            obj = node.args[0]
            target = names.guarded(obj) or ("sys" if names.resolve(obj) == "sys" else None)
            if target:
                yield self.found(node, R_PATCH.format(f"{name}({target}, ...)"))
        if name.startswith(MOCK_PREFIXES):
            yield self.found(node, R_PATCH.format(name))
        if name in RELOAD_CALLS:
            yield self.found(node, R_RELOAD)
        if isinstance(node.func, ast.Attribute) and node.func.attr in DICT_WRITES:
            receiver, method = node.func.value, node.func.attr
            dotted = names.resolve(receiver) or ""
            if dotted == "sys.modules":
                yield self.found(node, R_MODULES)
            elif dotted.endswith(".__dict__") and names.guarded(receiver):
                yield self.found(node, R_PATCH.format(f"{dotted}.{method}"))
            elif isinstance(receiver, ast.Call) and names.guarded(receiver):
                yield self.found(node, R_PATCH.format(f"vars({names.guarded(receiver)}).{method}"))

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        modules = GUARDED | {alias for alias, module in DEFAULT_ALIASES.items() if module.split(".")[0] in GUARDED}
        guarded = rf"\b({words_of(modules)})"
        return [
            (rf"^\s*{guarded}(\.\w+)+\s*=(?!=)|\bsetattr\s*\(\s*{guarded}\b|__builtins__\s*\[.*\]\s*=(?!=)",
             R_PATCH.format("an attribute of a module the tests use")),
            (rf"\bsys\.modules\s*(\[.*\]\s*=(?!=)|\.\s*({words_of(DICT_WRITES)})\b|=(?!=))"
             r"|\bdel\s+sys\.modules", R_MODULES),
            (text_of(RELOAD_CALLS), R_RELOAD),
        ]
