"""autograder.integrity as rules: every rule reads every node of its types, carries an id, and stands in by text."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograder.integrity import BY_TEXT, Finding, Flag, scan, scan_file
from autograder.integrity.cells import parse
from autograder.integrity.fallback import scan_text
from autograder.integrity.names import DEFAULT_ALIASES
from autograder.integrity.rules import RULES, Files, HiddenCode, Hooks, Patching, Processes
from autograder.integrity.rules.files import CHDIR_CALLS, DELETE_CALLS
from autograder.integrity.rules.hidden_code import DECODE_CALLS, EXEC_CALLS, UNPICKLE_CALLS
from autograder.integrity.rules.hooks import FRAME_CALLS, TRACE_CALLS
from autograder.integrity.rules.network import NETWORK_MODULES, NETWORK_PACKAGES
from autograder.integrity.rules.patching import RELOAD_CALLS
from autograder.integrity.rules.processes import EXIT_CALLS, PROCESS_CALLS, PROCESS_MODULES, SIGNAL_CALLS
from autograder.integrity.scan import findings
from tests.autograder.integrity.test_integrity import notebook

PACKAGE = Path(__file__).resolve().parents[3] / "autograder" / "integrity"


def _cell_findings(code: str) -> list[Finding]:
    """What the rules find in one cell of code, read on its own."""
    return findings(parse(code), dict(DEFAULT_ALIASES))


def _found(answer: str) -> list[tuple[str, str]]:
    return [(flag.rule_id, flag.rule) for flag in scan(notebook(answer), "nb.ipynb")]


def test_a_call_that_matches_two_rules_reports_both():
    """setattr by a computed name on the tests' module is a patch and a name the scan cannot read: both are said."""
    assert sorted(_found("setattr(checks, name, print)")) == [
        ("hidden-code", "changes a module's attribute by a name built at run time (setattr(course.checks, ...))"),
        ("patching", "changes test machinery: setattr(course.checks, ...)")]


def test_one_line_raises_a_finding_per_rule_it_breaks():
    found = _found("import socket, subprocess; os.chdir('/tmp')")
    assert sorted(rule for rule, _ in found) == ["files", "files", "network", "processes"], found
    assert ("files", "changes the working folder (os.chdir)") in found


def test_every_flag_carries_the_id_of_its_rule():
    flags = scan(notebook("import socket\nos.system('ls')\n!ls\nx = In[1]"), "nb.ipynb")
    assert [(flag.line, flag.rule_id) for flag in flags] == [(1, "network"), (2, "processes"), (3, "processes"),
                                                             (4, "history")]
    assert [flag.rule_id for flag in scan_file("data.csv", b"a,b\n")] == ["extra-file"]
    assert [flag.rule_id for flag in scan_file("numpy.py", b"x = 1\n")] == ["module-file"]
    by_text = scan_file("broken.py", b"def f(:\n    import socket\n")
    assert [(flag.rule_id, flag.rule) for flag in by_text] == [
        ("network", "uses the network (network module or download)" + BY_TEXT)]


def test_the_rule_id_does_not_change_what_a_flag_equals_or_says():
    """Each message belongs to one rule, so two flags with the same message are the same finding."""
    flag = Flag("nb.ipynb", "ex1", 2, "import socket", "uses the network (imports socket)", "network")
    assert flag == Flag("nb.ipynb", "ex1", 2, "import socket", "uses the network (imports socket)")
    assert str(flag) == "nb.ipynb [ex1] line 2: uses the network (imports socket): import socket"


def test_each_message_comes_from_one_rule_only():
    answers = ["import socket", "setattr(checks, name, print)", "os.system('ls')", "%cd ..", "!ls", "x = In[1]",
               "exec(source)", "sys.settrace(f)", "get_ipython().user_ns", "from course import lockout"]
    owner: dict[str, str] = {}
    for answer in answers:
        for rule, message in _found(answer):
            assert owner.setdefault(message, rule) == rule, (message, owner[message], rule)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_each_rule_declares_its_id_node_types_and_text_patterns(rule):
    assert rule.id and [other.id for other in RULES].count(rule.id) == 1
    assert rule.reads and all(issubclass(kind, ast.AST) for kind in rule.reads)
    assert rule.text_patterns(), f"{rule.id} has no stand-in for a cell that does not parse"


# ---------------------------------------------------------------------------------------------------------
# The fallback by text is made from the rules' own tables


def _by_text(line: str) -> set[str]:
    return {found.rule for found in scan_text(line)}


@pytest.mark.parametrize("module", sorted(NETWORK_MODULES | NETWORK_PACKAGES))
def test_every_network_module_of_the_ast_rule_is_caught_by_the_fallback_too(module):
    assert "network" in {flag.rule_id for flag in scan(notebook(f"import {module}"), "nb.ipynb")}
    for line in (f"import {module}", f"from {module} import thing", f"import {module} as m"):
        assert _by_text(line) == {"network"}, line
    cell = notebook(f"import {module}\ndef broken(:")
    assert [flag.rule for flag in scan(cell, "nb.ipynb")] == ["uses the network (network module or download)"
                                                             + BY_TEXT]


TABLES = [(Processes, PROCESS_CALLS), (Processes, EXIT_CALLS), (Processes, SIGNAL_CALLS),
          (Files, DELETE_CALLS), (Files, CHDIR_CALLS), (Hooks, TRACE_CALLS), (Hooks, FRAME_CALLS),
          (HiddenCode, UNPICKLE_CALLS), (HiddenCode, DECODE_CALLS), (HiddenCode, EXEC_CALLS),
          (Patching, RELOAD_CALLS)]


@pytest.mark.parametrize("rule, name", [(rule, name) for rule, table in TABLES for name in sorted(table)],
                         ids=lambda value: value if isinstance(value, str) else value.id)
def test_every_call_a_rule_knows_is_caught_by_the_fallback_too(rule, name):
    assert rule.id in {found.rule for found in _cell_findings(f"x = {name}(data)")}, "the AST rule itself"
    assert rule.id in _by_text(f"x = {name}(data)")


@pytest.mark.parametrize("module", sorted(PROCESS_MODULES))
def test_every_process_module_is_caught_by_the_fallback_too(module):
    assert _by_text(f"import {module}") == {"processes"}


@pytest.mark.parametrize("line", ["x = 1 + 1", "print('In the beginning')", "total = sum(values) / len(values)",
                                  "model.fit(x, y, epochs=3)", "name = 'exit'", "label = f'{a}/{b}'"])
def test_the_fallback_leaves_ordinary_lines_alone(line):
    assert scan_text(line) == []


# ---------------------------------------------------------------------------------------------------------
# The package's shape


def test_no_module_of_the_scanner_is_over_500_lines():
    sizes = {path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 500, sizes


def _imports(path: Path) -> set[str]:
    """The autograder.integrity modules ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder.integrity"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("autograder.integrity")}
    return found


def test_the_scanner_has_no_import_cycle():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = _imports(path)
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(modules.get(module, ())):
            if target == module or target not in modules:
                continue
            assert state.get(target) != "open", "import cycle: " + " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [])
    assert "autograder.integrity.rules.base" in modules and len(modules) > 10
