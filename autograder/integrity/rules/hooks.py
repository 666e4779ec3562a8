"""Interpreter hooks and the grader's frames: tracing, import hooks, ``sys.excepthook``, ``gc``, ``inspect``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.rules.base import ASSIGNMENTS, Rule, assigned, text_of, words_of

TRACE_CALLS = {"sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile", "sys.addaudithook"}
TRACE_PREFIXES = ("sys.monitoring.",)
FRAME_CALLS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "inspect.stack",
               "inspect.currentframe", "inspect.getouterframes", "inspect.trace", "sys._getframe",
               "sys._current_frames", "traceback.walk_stack"}
SYS_HOOKS = {"excepthook", "displayhook", "breakpointhook", "unraisablehook"}  # assigning one is a hook
SYS_IMPORT_HOOKS = {"meta_path", "path_hooks", "path_importer_cache"}  # any use is a hook

R_TRACE = "installs an interpreter hook ({})"
R_FRAMES = "looks into the grader's frames or objects ({})"


class Hooks(Rule):
    """Tracing and audit hooks, ``sys``'s hooks, import hooks, and reading the grader's frames or objects."""

    id = "hooks"
    reads = (*ASSIGNMENTS, ast.Name, ast.Attribute, ast.Call)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        names = self.names
        if isinstance(node, ast.Name):
            hook = names.aliases.get(node.id, "")
            if hook.removeprefix("sys.") in SYS_IMPORT_HOOKS and node.id not in names.bound:
                yield self.found(node, R_TRACE.format(hook))  # from sys import meta_path
        elif isinstance(node, ast.Attribute):
            if names.resolve(node.value) == "sys" and node.attr in SYS_IMPORT_HOOKS:
                yield self.found(node, R_TRACE.format(f"sys.{node.attr}"))
        elif isinstance(node, ast.Call):
            name = names.called(node)
            if name in TRACE_CALLS or name.startswith(TRACE_PREFIXES):
                yield self.found(node, R_TRACE.format(name))
            if name in FRAME_CALLS:
                yield self.found(node, R_FRAMES.format(name))
        else:
            for target, _ in assigned(node):
                if (isinstance(target, ast.Attribute) and target.attr in SYS_HOOKS
                        and names.resolve(target.value) == "sys"):
                    yield self.found(target, R_TRACE.format(f"sys.{target.attr}"))

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        return [
            (text_of(TRACE_CALLS, TRACE_PREFIXES) + rf"|\bsys\.({words_of(SYS_HOOKS)})\s*=(?!=)"
             rf"|\bsys\.({words_of(SYS_IMPORT_HOOKS)})\b", R_TRACE.format("settrace/excepthook/meta_path/...")),
            (text_of(FRAME_CALLS), R_FRAMES.format("gc/inspect/sys._getframe")),
        ]
