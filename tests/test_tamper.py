"""Tamper detection (autograder.tamper, autograder.execute) and the sandbox's choice and command line.

The unit tests need no kernel. The last tests grade, through ``grade``, a tiny course whose test cells
use ``course.checks`` as the real notebooks do: patching it through a function's ``__globals__`` or
through ``vars()`` zeroes the exercise and says what changed, and the honest student is not flagged.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from autograder import REPO_ROOT, sandbox, tamper
from autograder.grading import Course, Limits, grade, local_runner
from tests import tiny_course as tiny

TOKEN = "grader-0123456789abcdef"


def test_a_test_cell_gets_a_last_line_that_prints_its_token():
    sent = tamper.with_token("assert add(1, 2) == 3\nassert add(0, 0) == 0", TOKEN)
    assert sent.splitlines()[:2] == ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]
    assert TOKEN in sent.splitlines()[-1]
    assert not isinstance(ast.parse(sent).body[-1], ast.Expr)  # nothing for nbgrader to read as partial credit


def test_a_cell_ending_in_an_expression_still_shows_it_last():
    """nbgrader reads a number a test cell displays as partial credit: the value must stay the cell's result."""
    sent = tamper.with_token("x = 1\ncheck(x,\n      2)", TOKEN)
    tree = ast.parse(sent)
    assert isinstance(tree.body[-1], ast.Expr) and ast.unparse(tree.body[-1]) == "_grader_value"
    assert "_grader_value = (check(x,\n      2))" in sent and sent.index(TOKEN) < sent.rindex("_grader_value")


def test_cells_with_ipython_syntax_are_sent_unchanged():
    assert tamper.with_token("%time x = 1", TOKEN) is None
    assert tamper.with_token("def broken(:", TOKEN) is None


def test_the_token_line_is_removed_from_the_outputs():
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"loss 0.1\n{TOKEN}\n")]
    assert tamper.strip_token(outputs, TOKEN) and outputs[0]["text"] == "loss 0.1\n"
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{TOKEN}\n")]
    assert tamper.strip_token(outputs, TOKEN) and outputs == []
    assert not tamper.strip_token([], TOKEN)


def test_a_probe_answers_only_with_its_own_token():
    assert tamper.read_probe(f"noise\n{TOKEN}{{\"a\": 1}}\n", TOKEN) == {"a": 1}
    assert tamper.read_probe('grader-other{"a": 1}\n', TOKEN) is None


BASELINE = {"input transformer": ["function@1"], "AST transformer": [], "sys.settrace": "NoneType@0",
            "event callback": {"post_execute": [], "pre_run_cell": []},
            "module course.checks": {"check_close": "function@5/6/7", "np": "module@8"}}


@pytest.mark.parametrize(("change", "words"), [
    (lambda s: s["input transformer"].append("function@2"), "input transformer added"),
    (lambda s: s["AST transformer"].append("Gut@3"), "AST transformer added"),
    (lambda s: s.update({"sys.settrace": "function@4"}), "sys.settrace changed"),
    (lambda s: s["event callback"]["pre_run_cell"].append("__main__:function@9"),
     "event callback added (pre_run_cell)"),
    (lambda s: s["module course.checks"].update(np="module@10"), "module course.checks changed (np)"),
    (lambda s: s["module course.checks"].update(check_close="function@5/11/7"),
     "module course.checks changed (check_close)"),
])
def test_each_change_of_the_test_machinery_is_named(change, words):
    import copy

    now = copy.deepcopy(BASELINE)
    change(now)
    assert tamper.compare(BASELINE, now) == [words]


def test_what_libraries_do_by_themselves_is_not_tampering():
    import copy

    now = copy.deepcopy(BASELINE)
    now["event callback"]["post_execute"].append("matplotlib_inline.backend_inline:function@12")
    now["module course.checks"]["new_helper"] = "function@13"  # a name that appeared (a lazy import)
    assert tamper.compare(BASELINE, now) == []


def test_the_sandbox_shows_neither_the_course_nor_the_hosts_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_TOKEN", "s3cret")
    args = sandbox.bwrap_arguments(tmp_path / "work", tmp_path / "out", as_uid=62000)
    sources = {args[i + 1] for i, arg in enumerate(args) if arg in ("--bind", "--ro-bind", "--ro-bind-try")}
    assert str(REPO_ROOT) not in sources and "/" not in sources and "/root" not in sources
    assert not any(source.startswith(str(REPO_ROOT / "source")) for source in sources)
    assert "s3cret" not in args and "INSTRUCTOR_TOKEN" not in args
    assert "--unshare-net" in args and "--unshare-pid" in args and "--clearenv" in args
    assert args[args.index("setpriv") + 1] == "--reuid=62000"
    unprivileged = sandbox.bwrap_arguments(tmp_path / "work", tmp_path / "out", as_uid=None)
    assert "--unshare-all" in unprivileged and "setpriv" not in unprivileged


def test_the_sandbox_modes():
    assert not sandbox.choose("none").sandboxed and "NOT sandboxed" in sandbox.choose("none").note
    with pytest.raises(ValueError):
        sandbox.choose("docker")


# ---- graded through grade: a course whose tests use course.checks, as the real notebooks do

CHECKS_TESTS = {
    "ex1-tests": '"""add adds."""\nfrom course import checks\nchecks.check_close(add(1, 2), 3, name="add(1, 2)")\n'
                 "### BEGIN HIDDEN TESTS\nchecks.check_close(add(-5, 5), 0, name='add(-5, 5)')\n"
                 "### END HIDDEN TESTS",
    "ex2-tests": '"""mean averages."""\nfrom course import checks\nchecks.check_close(mean([1, 2, 3]), 2)\n'
                 "### BEGIN HIDDEN TESTS\nchecks.check_close(mean([0.5]), 0.5)\n### END HIDDEN TESTS",
}
WRONG_ADD = "def add(a, b):\n    return 0"
STUDENTS = {
    "honest": (tiny.HONEST, 5, None),
    "globals-patch": (tiny.HONEST | {"ex1-add": "from course import checks\n"
                                                "checks.check_close.__globals__['_fail'] = lambda message: None\n"
                                                + WRONG_ADD}, 0, "module course.checks changed (_fail)"),
    "vars-patch": (tiny.HONEST | {"ex1-add": "import course.checks\n"
                                             "vars(course.checks)['check_close'] = lambda *a, **k: None\n"
                                             + WRONG_ADD}, 0, "module course.checks changed (check_close)"),
}


@pytest.fixture(scope="module")
def checks_class(tmp_path_factory):
    root = tiny.build(tmp_path_factory.mktemp("checks") / "course", tests=CHECKS_TESTS)
    release = tiny.release(root)
    for student, (answers, _, _) in STUDENTS.items():
        folder = root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(tiny.with_answers(release, answers), folder / tiny.NOTEBOOK)
    rows = grade(Course(root), tiny.ASSIGNMENT, limits=Limits(timeout=300, cell_timeout=120, memory_mb=2000),
                 runner=local_runner(2), sandbox=tiny.GRADING_SANDBOX, log=lambda line: None)
    return {row.student: row for row in rows}


@pytest.mark.notebooks
@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_patching_course_checks_zeroes_the_tests_and_says_what_changed(checks_class, student):
    _, score, words = STUDENTS[student]
    row = checks_class[student]
    assert (row.score, row.max_score) == (score, 5), row
    if words is None:
        assert not row.reasons and not row.flags, row
    else:
        assert any(words in reason and "before ex1-tests" in reason for reason in row.reasons), row


def test_without_bubblewrap_auto_says_so_and_bwrap_refuses(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap is not installed")
    auto = sandbox.choose("auto")
    assert not auto.sandboxed and "NOT sandboxed" in auto.note and "not installed" in auto.note
    with pytest.raises(RuntimeError, match="not installed"):
        sandbox.choose("bwrap")
