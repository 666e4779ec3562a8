"""The sandbox's choice and command line, and attacks on course.checks graded through ``grade``.

The unit tests need no kernel. The last tests grade, through ``grade``, a tiny course whose test cells
use ``course.checks`` as the real notebooks do: patching it through a function's ``__globals__`` or
through ``vars()`` in the student's kernel reaches no test, which runs in the grader's kernel.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder import REPO_ROOT
from autograder.grade import sandbox
from autograder.grade.coordinator import Limits, grade, local_runner
from autograder.nbgrader.course import Course
from tests import tiny_course as tiny


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
# Patching course.checks in the student's kernel reaches no test (they run in the grader's kernel): the wrong add
# fails ex1, the honest mean earns ex2's 3 points, and nothing needs saying on the row.
STUDENTS = {
    "honest": (tiny.HONEST, 5),
    "globals-patch": (tiny.HONEST | {"ex1-add": "from course import checks\n"
                                                "checks.check_close.__globals__['_fail'] = lambda message: None\n"
                                                + WRONG_ADD}, 3),
    "vars-patch": (tiny.HONEST | {"ex1-add": "import course.checks\n"
                                             "vars(course.checks)['check_close'] = lambda *a, **k: None\n"
                                             + WRONG_ADD}, 3),
}


@pytest.fixture(scope="module")
def checks_class(tmp_path_factory):
    root = tiny.build(tmp_path_factory.mktemp("checks") / "course", tests=CHECKS_TESTS)
    release = tiny.release(root)
    for student, (answers, _) in STUDENTS.items():
        folder = root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(tiny.with_answers(release, answers), folder / tiny.NOTEBOOK)
    rows = grade(Course(root), tiny.ASSIGNMENT, limits=Limits(timeout=300, cell_timeout=120, memory_mb=2000),
                 runner=local_runner(2), sandbox=tiny.GRADING_SANDBOX, log=lambda line: None)
    return {row.student: row for row in rows}


@pytest.mark.notebooks
@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_patching_course_checks_reaches_no_test(checks_class, student):
    _, score = STUDENTS[student]
    row = checks_class[student]
    assert (row.score, row.max_score) == (score, 5), row
    assert not row.reasons, row


def test_without_bubblewrap_auto_says_so_and_bwrap_refuses(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap is not installed")
    auto = sandbox.choose("auto")
    assert not auto.sandboxed and "NOT sandboxed" in auto.note and "not installed" in auto.note
    with pytest.raises(RuntimeError, match="not installed"):
        sandbox.choose("bwrap")
