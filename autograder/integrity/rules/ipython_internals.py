"""IPython internals: changing how the shell runs cells, or reaching the notebook's variables through it."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.names import DEFINITIONS, SETATTR_CALLS, is_ipython
from autograder.integrity.rules.base import ASSIGNMENTS, Rule, assigned, words_of

HOOK_ATTRS = {"input_transformers_cleanup", "input_transformers_post", "ast_transformers",
              "input_transformer_manager"}  # only IPython has these: any use is reported
HOOK_METHODS = {"register", "unregister", "set_custom_exc", "register_magic_function", "register_magics",
                "set_hook", "define_magic", "register_post_execute", "define_macro"}
NAMESPACE_ATTRS = {"user_ns", "user_global_ns", "user_ns_hidden", "user_module"}
NAMESPACE_METHODS = {"push", "del_var", "reset", "reset_selective", "drop_by_id"}
MAGIC_MODULE = "IPython.core.magic."  # its register_* functions and @magics_class

R_IPYTHON = "changes how IPython runs cells ({})"
R_NAMESPACE = "reaches into the notebook's variables through IPython ({})"


class IPythonInternals(Rule):
    """Input and AST transformers, events, custom exceptions, magics registered, the shell's namespace."""

    id = "ipython"
    reads = (*ASSIGNMENTS, ast.Attribute, ast.Call, *DEFINITIONS)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        names = self.names
        if isinstance(node, ast.Attribute):
            if node.attr in HOOK_ATTRS:
                yield self.found(node, R_IPYTHON.format(node.attr))
            elif node.attr in NAMESPACE_ATTRS:
                base = names.resolve(node.value)
                yield self.found(node, R_NAMESPACE.format(f"{base}.{node.attr}" if base else node.attr))
        elif isinstance(node, ast.Call):
            yield from self.call(node)
        elif isinstance(node, DEFINITIONS):  # @register_cell_magic (a call is read as a call)
            for decorator in node.decorator_list:
                if not isinstance(decorator, ast.Call) and self.registers(names.resolve(decorator) or ""):
                    yield self.found(decorator, R_IPYTHON.format(names.resolve(decorator)))
        else:
            for target, _ in assigned(node):
                if isinstance(target, ast.Attribute | ast.Subscript) and not names.guarded(target.value):
                    base = names.resolve(target.value)
                    if not is_ipython(base) or getattr(target, "attr", None) in HOOK_ATTRS:
                        continue  # a hook attribute is reported as an attribute
                    what = f"{base}.{target.attr}" if isinstance(target, ast.Attribute) else f"{base}[...]"
                    yield self.found(target, R_IPYTHON.format(f"sets {what}"))

    def call(self, node: ast.Call) -> Iterator[Finding]:
        names, name = self.names, self.names.called(node)
        if name in SETATTR_CALLS and node.args and is_ipython(names.resolve(node.args[0])):
            yield self.found(node, R_IPYTHON.format(f"{name}({names.resolve(node.args[0])}, ...)"))
        if self.registers(name):
            yield self.found(node, R_IPYTHON.format(name))
        method = names.shell_method(node)
        if method in HOOK_METHODS:
            yield self.found(node, R_IPYTHON.format(f"{names.resolve(node.func.value)}.{method}"))
        elif method in NAMESPACE_METHODS:
            yield self.found(node, R_NAMESPACE.format(f"{names.resolve(node.func.value)}.{method}"))

    @staticmethod
    def registers(name: str) -> bool:
        """Whether ``name`` is IPython's magic registration (``register_cell_magic``, ``magics_class``)."""
        last = name.rsplit(".", 1)[-1]
        return name.startswith(MAGIC_MODULE) and (last.startswith("register") or last == "magics_class")

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        return [(rf"\b({words_of(HOOK_ATTRS)})\b|\.({words_of(HOOK_METHODS - {'register'})})\b|\.events\.register\b",
                 R_IPYTHON.format("transformers/events/hooks")),
                (rf"\b({words_of(NAMESPACE_ATTRS)})\b", R_NAMESPACE.format("user_ns/..."))]
