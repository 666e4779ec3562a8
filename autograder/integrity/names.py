"""The name-resolution model: what a name, an attribute chain or a call stands for in a student's cell.

``np.testing`` is ``numpy.testing`` after ``import numpy as np``; ``t = np.testing`` makes ``t`` one
too; ``__import__("os")``, ``sys.modules["os"]`` and ``getattr(os, "system")`` are resolved through;
``get_ipython()`` is the shell (:data:`IPYTHON`) and ``globals()`` the notebook's namespace (:data:`GLOBALS`).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from autograder import REPO_ROOT

# Modules whose attributes the tests rely on: a student must not rebind them.
GUARDED = {"numpy", "unittest", "pytest", "course", "keras", "tensorflow", "builtins", "nbgrader"}
# Where names usually come from when the import is in a cell we do not scan.
DEFAULT_ALIASES = {"np": "numpy", "numpy": "numpy", "tf": "tensorflow", "keras": "keras", "course": "course",
                   "checks": "course.checks", "__builtins__": "builtins", "sys": "sys", "os": "os"}
IPYTHON = "get_ipython()"  # what resolve() calls the shell
GLOBALS = "globals()"  # what resolve() calls the notebook's namespace
COMPUTED = "<computed>"  # the name of an attribute looked up by a computed name
IPYTHON_GETTERS = {"get_ipython", "builtins.get_ipython", "__main__.get_ipython", "IPython.get_ipython",
                   "IPython.core.getipython.get_ipython", "IPython.core.interactiveshell.InteractiveShell.instance",
                   "IPython.InteractiveShell.instance", "ipykernel.zmqshell.ZMQInteractiveShell.instance"}
IMPORT_CALLS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
GETATTR_CALLS = {"getattr", "builtins.getattr"}
SETATTR_CALLS = {"setattr", "delattr", "builtins.setattr", "builtins.delattr"}
NAMESPACE_CALLS = {"globals", "locals", "vars"}  # without arguments: the notebook's namespace
DICT_WRITES = {"pop", "update", "setdefault", "clear", "popitem", "__setitem__", "__delitem__"}  # dict methods
# Builtins worth following through a new name (``run = exec``).
SENSITIVE_BUILTINS = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "open", "globals",
                      "vars", "locals", "get_ipython", "breakpoint"}
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@functools.cache
def check_names(checks_file: Path = REPO_ROOT / "course" / "checks.py") -> frozenset[str]:
    """The public functions of ``course/checks.py`` (read with ast, not imported: no Keras start-up)."""
    try:
        tree = ast.parse(checks_file.read_text())
    except (OSError, SyntaxError):
        return frozenset()
    return frozenset(node.name for node in tree.body
                     if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"))


def literal(node: ast.AST | None) -> bool:
    """A string (or bytes) literal: the scan can read it."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)


def text(node: ast.AST | None) -> str | None:
    """The value of a string literal, else None."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def string_parts(node: ast.AST) -> list[str]:
    """The string literals of an expression, in source order (f-strings: their literal parts)."""
    parts = []
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            parts.append((child.lineno, child.col_offset, child.value))
    return [value for *_, value in sorted(parts)]


def is_ipython(dotted: str | None) -> bool:
    """Whether a resolved name is the IPython shell, something it holds, or IPython's own code."""
    return bool(dotted) and (dotted == IPYTHON or dotted.startswith(IPYTHON + ".")
                             or dotted.split(".")[0] in ("IPython", "ipykernel"))


def imports(tree: ast.AST) -> dict[str, str]:
    """name -> dotted module or object it is bound to by the imports in ``tree`` (and ``ip = get_ipython()``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Call) and not node.value.args):
            func = node.value.func
            if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) == "get_ipython":
                aliases[node.targets[0].id] = IPYTHON
    return aliases


def from_checks(aliases: dict[str, str]) -> set[str]:
    """The names imported from ``course.checks`` under their own name (``from course.checks import x``)."""
    return {name for name, target in aliases.items() if target == f"course.checks.{name}"}


def bound_names(tree: ast.AST) -> set[str]:
    """Every name ``tree`` binds (assignments, loops, arguments, definitions, imports)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, DEFINITIONS):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
    return bound


class Names:
    """What the names of one piece of code stand for, followed through its assignments as it is read."""

    def __init__(self, aliases: dict[str, str], checked: set[str], depth: int = 0):
        self.aliases = dict(aliases)
        self.from_checks = checked  # names bound to the course.checks function of the same name
        self.depth = depth  # inside a function or class
        self.parents: dict[ast.AST, ast.AST] = {}
        self.bound: set[str] = set()

    def read(self, tree: ast.AST) -> None:
        """Start reading ``tree``: its parent links and the names it binds."""
        self.parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        self.bound = bound_names(tree)

    def inner(self) -> Names:
        """The names seen by code hidden in a literal here (``exec("...")``): these, at this depth."""
        return Names(self.aliases, self.from_checks, self.depth)

    def assigned(self, node: ast.Assign) -> None:
        """Follow ``t = np.testing``, ``run = exec``, ``c = importlib.import_module("course.checks")``."""
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            return
        if isinstance(node.value, ast.Call):  # c = importlib.import_module("course.checks"); globals()
            value = self.resolve(node.value)
            value = value if value in (GLOBALS, IPYTHON) or (value and value.split(".")[0] in GUARDED) else None
        else:  # t = np.testing; run = exec
            value = self.guarded(node.value) or self.sensitive(node.value)
        if value:
            self.aliases[node.targets[0].id] = value

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for (``np.testing`` -> ``numpy.testing``), if it is one."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript) and literal(node.slice):
            key, namespace = str(node.slice.value), self.namespace_of(node.value)
            if self.resolve(node.value) == "sys.modules":  # sys.modules["course.checks"]
                return key
            return f"{namespace}.{key}" if namespace else None  # vars(builtins)["exec"]
        if isinstance(node, ast.Call):
            called = self.resolve(node.func)
            if called in IMPORT_CALLS and node.args:
                return text(node.args[0])
            if called in NAMESPACE_CALLS and not node.args:
                return GLOBALS
            if called in IPYTHON_GETTERS and not node.args:
                return IPYTHON
            if called in GETATTR_CALLS and len(node.args) >= 2:  # getattr(checks, "check_close")
                base, attr = self.resolve(node.args[0]), text(node.args[1])
                return f"{base}.{attr}" if base and attr is not None else None
        return None

    def called(self, node: ast.Call) -> str:
        """The dotted name of the function a call calls ("" when it is not a name)."""
        return self.resolve(node.func) or ""

    def shell_method(self, node: ast.AST) -> str | None:
        """The method's name when ``node`` calls a method of ``get_ipython()`` or of something it holds."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if is_ipython(self.resolve(node.func.value)):
                return node.func.attr
        return None

    def guarded(self, node: ast.AST) -> str | None:
        """The dotted name of ``node`` when it is (part of) a module the tests rely on."""
        if isinstance(node, ast.Call) and self.resolve(node.func) == "vars" and node.args:
            return self.guarded(node.args[0])
        if isinstance(node, ast.Call) and self.resolve(node.func) in GETATTR_CALLS and node.args:
            base = self.guarded(node.args[0])
            if not base:
                return None
            if len(node.args) > 1 and not literal(node.args[1]):
                return f"{base}.{COMPUTED}"
        dotted = self.resolve(node)
        if dotted and dotted.split(".")[0] in GUARDED:
            if isinstance(node, ast.Name) and node.id not in self.aliases and node.id != "builtins":
                return None  # a plain name that was never imported: the student's own variable
            return dotted
        return None

    def namespace_of(self, node: ast.AST) -> str | None:
        """The module whose namespace ``node`` is (``vars(m)``, ``m.__dict__``, ``__builtins__``), if it is."""
        if isinstance(node, ast.Call) and self.resolve(node.func) == "vars" and node.args:
            return self.resolve(node.args[0]) if self.module_like(node.args[0]) else None
        dotted = self.resolve(node)
        if dotted == "builtins":  # __builtins__ is a dict outside the notebook's own namespace
            return dotted
        if isinstance(node, ast.Attribute) and node.attr == "__dict__" and self.module_like(node.value):
            return self.resolve(node.value)
        return None

    def module_like(self, node: ast.AST) -> bool:
        """Whether ``node`` is a module (imported, ``sys.modules[...]``, ``__import__(...)``) or the shell."""
        if isinstance(node, ast.Subscript) and self.resolve(node.value) == "sys.modules":
            return True
        if isinstance(node, ast.Call) and self.resolve(node.func) in IMPORT_CALLS:
            return True
        if is_ipython(self.resolve(node)):
            return True
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        return isinstance(root, ast.Name) and (root.id in self.aliases or root.id == "builtins")

    def sensitive(self, node: ast.AST) -> str | None:
        """The dotted name of a Name or Attribute worth following through an assignment (``run = exec``)."""
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            return None
        dotted = self.resolve(node)
        if dotted and (root.id in self.aliases or dotted in SENSITIVE_BUILTINS):
            return dotted
        return None
