"""``grade``: a battery of bad submissions graded with honest ones, on the tiny course.

For each bad submission the batch finishes, the honest students' grades are exact, and the row says
why the submission lost points (or what was repaired, or flagged). ``submitted/`` is never modified,
re-running is idempotent, an interrupted run resumes, and a Dask cluster gives the same grades.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grade.coordinator import Limits, dask_runner, grade, local_runner
from autograder.nbgrader.course import Course
from autograder.report.grades import write_report
from tests import tiny_course as tiny

pytestmark = pytest.mark.notebooks

HONEST = tiny.HONEST
LIMITS = Limits(timeout=120, cell_timeout=8, memory_mb=400)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
                       "rkJggg==")


def _answers(**cells: str) -> dict[str, str]:
    return HONEST | {key.replace("_", "-"): value for key, value in cells.items()}


def _stripped(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _renumbered(nb):
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"vscode-{index}"
    return nb


def _without(nb, grade_id):
    nb.cells = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def _edited_tests(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex1-tests":
            cell.source = "assert True  # trust me"
    return nb


def _huge_output(nb):
    code = next(cell for cell in nb.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 50_000_000)]
    return nb


# student -> (answers, transform of the notebook or raw bytes, expected score, words the row must contain)
BATTERY = {
    "honest-a": (HONEST, None, 5, []),
    "honest-b": (HONEST, None, 5, []),
    "honest-unusual": (_answers(ex1_add="add = lambda a, b: sum((a, b))",
                                ex2_mean="from statistics import fmean as mean"), None, 5, []),
    "infinite-loop": (_answers(ex1_add="while True:\n    pass"), None, 3, ["timed out"]),
    "memory-bomb": (_answers(ex2_mean="blob = b'x' * (3 * 1024**3)"), None, 2, ["memory cap", "kernel died"]),
    "os-exit": (_answers(ex1_add="import os\nos._exit(1)"), None, 3, ["kernel died"]),
    "segfault": (_answers(ex2_mean="import ctypes\nctypes.string_at(0)"), None, 2, ["kernel died"]),
    "sys-exit": (_answers(ex1_add="import sys\nsys.exit(3)"), None, 3, []),
    "deletes-files": (_answers(ex1_add="import glob, os\nfor name in glob.glob('*'):\n    os.remove(name)\n"
                                       "def add(a, b):\n    return a + b"), None, 5, ["flag"]),
    # the sandbox has no course directory above the notebook: the write fails, and so does that exercise
    "writes-course-dir": (_answers(ex1_add="open('../../../nbgrader_config.py', 'w').write('broken')\n"
                                           "def add(a, b):\n    return a + b"), None, 3, ["flag"]),
    "edited-test-cell": (_answers(ex1_add="def add(a, b):\n    return a - b"), _edited_tests, 3, []),
    "deleted-test-cell": (HONEST, lambda nb: _without(nb, "ex2-tests"), 5, []),
    "stripped-metadata": (HONEST, _stripped, 5, ["restored nbgrader metadata"]),
    "changed-cell-ids": (HONEST, _renumbered, 5, []),  # grade ids still there: nothing to repair
    "stripped-and-renumbered": (HONEST, lambda nb: _renumbered(_stripped(nb)), 5, ["restored nbgrader metadata"]),
    "huge-output": (HONEST, _huge_output, 5, ["outputs dropped"]),
    "corrupt-json": (None, b'{"cells": [{"cell_type": "code", "source": "def add(a, b):', 0, ["corrupt json"]),
    "png-as-ipynb": (None, PNG, 0, ["png"]),
    "empty-notebook": (None, nbformat.writes(nbformat.v4.new_notebook()).encode(), 0, ["empty"]),
    "no-notebook": (None, {}, 0, ["missing"]),
    "renamed-notebook": (HONEST, "99_tiny-Copy1.ipynb", 5, ["renamed"]),
    "cheat-monkeypatch": (_answers(ex1_add="import sys, builtins\nsys.modules['math'] = None\n"
                                           "builtins.AssertionError = Exception\ndef add(a, b):\n    return 0"),
                          None, None, ["flag"]),
    "cheat-shell-network": (_answers(ex2_mean="import subprocess, socket\nsubprocess.run(['true'])\n"
                                              "def mean(xs):\n    return sum(xs) / len(xs)"), None, 5, ["flag"]),
}
HONEST_STUDENTS = ["honest-a", "honest-b", "honest-unusual"]


def _submit(course_root: Path) -> None:
    release = tiny.release(course_root)
    for student, (answers, variant, _, _) in BATTERY.items():
        folder = course_root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        name = tiny.NOTEBOOK
        if isinstance(variant, bytes):
            (folder / name).write_bytes(variant)
            continue
        if isinstance(variant, dict):
            continue  # an empty folder: the student handed in nothing
        nb = tiny.with_answers(release, answers)
        if callable(variant):
            nb = variant(nb)
        if isinstance(variant, str):
            name = variant
        nbformat.write(nb, folder / name)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(path.relative_to(folder).as_posix().encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tiny.build(tmp_path_factory.mktemp("tiny") / "course")
    _submit(root)
    before = _tree_digest(root / "submitted")
    config_before = (root / "nbgrader_config.py").read_bytes()
    course = Course(root)
    rows = {row.student: row for row in grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(3),
                                              sandbox=tiny.GRADING_SANDBOX, log=lambda line: None)}
    return course, rows, before, config_before


def _text(row) -> str:
    return " ".join(row.reasons + row.repairs + row.flags).lower()


def test_the_batch_grades_every_student(graded):
    _, rows, _, _ = graded
    assert sorted(rows) == sorted(BATTERY)


def test_honest_students_get_exact_grades(graded):
    _, rows, _, _ = graded
    for student in HONEST_STUDENTS:
        row = rows[student]
        assert (row.score, row.max_score, row.status) == (5, 5, "graded"), (student, row)
        assert not (row.reasons or row.flags), (student, row)


@pytest.mark.parametrize("student", [name for name in BATTERY if name not in HONEST_STUDENTS])
def test_each_bad_submission_is_graded_as_far_as_it_goes_and_says_why(graded, student):
    _, rows, _, _ = graded
    row = rows[student]
    _, _, expected, words = BATTERY[student]
    if expected is not None:
        assert row.score == expected, (student, row)
    assert row.max_score == 5, row
    for word in words:
        if word == "flag":
            assert row.flags, f"{student}: not flagged for review: {row}"
        else:
            assert word in _text(row), f"{student}: {word!r} not in {row}"


def test_cheat_attempts_are_flagged_with_the_line_and_not_zeroed(graded):
    _, rows, _, _ = graded
    flagged = rows["cheat-monkeypatch"].flags
    assert any("sys.modules" in flag for flag in flagged) and any("builtins" in flag for flag in flagged)
    assert any("subprocess" in flag for flag in rows["cheat-shell-network"].flags)
    assert any("socket" in flag for flag in rows["cheat-shell-network"].flags)
    assert rows["cheat-shell-network"].score == 5  # flagged for review, not silently zeroed


def test_flagged_submissions_need_manual_review_in_the_gradebook(graded):
    from nbgrader.api import Gradebook

    course, _, _, _ = graded
    with Gradebook(course.db_url) as gradebook:
        flagged = gradebook.find_submission(tiny.ASSIGNMENT, "cheat-shell-network")
        honest = gradebook.find_submission(tiny.ASSIGNMENT, "honest-a")
        assert flagged.needs_manual_grade and not honest.needs_manual_grade


def test_submitted_and_the_course_are_untouched(graded):
    course, _, before, config_before = graded
    assert _tree_digest(course.root / "submitted") == before
    assert (course.root / "nbgrader_config.py").read_bytes() == config_before


def test_the_gradebook_holds_what_the_rows_say(graded):
    from nbgrader.api import Gradebook

    course, rows, _, _ = graded
    with Gradebook(course.db_url) as gradebook:
        stored = {submission.student_id: submission.code_score
                  for submission in gradebook.assignment_submissions(tiny.ASSIGNMENT)}
    assert stored == {student: row.score for student, row in rows.items()}


def test_rerunning_changes_nothing_and_regrades_nothing(graded):
    course, rows, _, _ = graded
    again = {row.student: row for row in grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(2),
                                               log=lambda line: None)}
    assert {row.status for row in again.values()} == {"unchanged"}
    assert {s: r.score for s, r in again.items()} == {s: r.score for s, r in rows.items()}


def test_an_interrupted_run_resumes_with_the_students_it_had_not_graded(graded):
    course, rows, _, _ = graded
    for student in ("honest-b", "os-exit"):  # as if the run had stopped before them
        shutil.rmtree(course.root / "autograded" / student)
    again = {row.student: row for row in grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(2),
                                               log=lambda line: None)}
    assert {s for s, r in again.items() if r.status != "unchanged"} == {"honest-b", "os-exit"}
    assert {s: r.score for s, r in again.items()} == {s: r.score for s, r in rows.items()}


def test_the_report_has_a_row_per_student_and_a_column_per_test_cell(graded, tmp_path):
    course, rows, _, _ = graded
    report = write_report(course, tiny.ASSIGNMENT, list(rows.values()), tmp_path, 12.0)
    lines = report.grades_csv.read_text().splitlines()
    assert len(lines) == 1 + len(BATTERY)
    assert "99_tiny/ex1-tests" in lines[0] and "99_tiny/ex2-tests" in lines[0]
    page = report.html.read_text()
    assert "data:image/png;base64," in page and "honest-unusual" in page and "Hardest exercises" in page
    assert "What the class got wrong" in page and "add(#, #) gave #" in page
    assert report.summary.startswith("graded ") and "flagged " in report.summary and "in 12 s" in report.summary
    assert "<script" not in page and "http" not in page


def test_a_dask_cluster_gives_the_same_grades(graded, tmp_path):
    distributed = pytest.importorskip("distributed")
    course, rows, _, _ = graded
    students = ["honest-a", "infinite-loop", "segfault", "stripped-metadata"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster:
        again = grade(course, tiny.ASSIGNMENT, students=students, limits=LIMITS, force=True,
                      runner=dask_runner(cluster.scheduler_address), log=lambda line: None)
    assert {row.student: row.score for row in again} == {student: rows[student].score for student in students}
    state = json.loads((course.root / "autograded" / "segfault" / tiny.ASSIGNMENT / ".autograder.json").read_text())
    assert state["score"] == rows["segfault"].score


def test_the_command_line_reports_and_writes_feedback_without_hidden_tests(graded, tmp_path):
    course, _, _, _ = graded
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", tiny.ASSIGNMENT, "--course", str(course.root),
         "--student", "honest-a", "--student", "os-exit", "--report", str(tmp_path),
         # the battery's limits: with other limits the fingerprint differs and the two would be regraded
         "--timeout", str(LIMITS.timeout), "--cell-timeout", str(LIMITS.cell_timeout),
         "--memory-mb", str(LIMITS.memory_mb)],
        capture_output=True, text=True, timeout=600, cwd=course.root)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "unchanged 2" in result.stdout and "report:" in result.stdout
    assert {path.name for path in tmp_path.iterdir()} == {f"{tiny.ASSIGNMENT}-grades.csv",
                                                          f"{tiny.ASSIGNMENT}-report.html",
                                                          f"{tiny.ASSIGNMENT}-failures.csv"}
    page = next((course.root / "feedback" / "os-exit" / tiny.ASSIGNMENT).glob("*.html")).read_text()
    page = html.unescape(re.sub(r"<[^>]+>", "", page))  # the page as a reader sees it
    assert "add(-5, 5)" not in page and "HIDDEN TESTS" not in page  # the hidden tests stay hidden
    assert "add(1, 2)" in page  # the visible ones are there
