"""What the class got wrong: failure messages grouped by mistake, counted per student, in the report."""

from __future__ import annotations

import csv

import nbformat
import pytest

from autograder.grade.coordinator import Limits, grade, local_runner
from autograder.nbgrader.course import Course
from autograder.report import failures
from autograder.report.grades import write_report
from tests import tiny_course as tiny


def test_numbers_do_not_split_a_mistake_but_words_do():
    assert failures.pattern_of("add(1, 2) gave -1") == failures.pattern_of("add(10, 0.5) gave  2.5e-3")
    assert failures.pattern_of("expected 'healthy', got 'exploding'") != \
        failures.pattern_of("expected 'healthy', got 'vanishing'")
    assert failures.pattern_of("ex1-tests: Dense layer 2 has nan units") == "ex1-tests: Dense layer # has # units"


def _graded_notebook(messages: dict[str, tuple[str, str] | None]) -> nbformat.NotebookNode:
    """A notebook whose test cells (grade id -> (ename, evalue), or None when it passed) show those errors."""
    nb = nbformat.v4.new_notebook()
    for cell_id, error in messages.items():
        cell = nbformat.v4.new_code_cell("...", metadata={"nbgrader": {"grade": True, "grade_id": cell_id}})
        cell.outputs = [nbformat.v4.new_output("error", ename=error[0], evalue=error[1], traceback=[])] if error \
            else []
        nb.cells.append(cell)
    nb.cells.append(nbformat.v4.new_code_cell("1 / 0", metadata={}))  # not a test cell: not counted
    nb.cells[-1].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    return nb


def test_groups_count_students_per_test_cell_and_mistake():
    found = []
    for student, gave in [("s1", "-1"), ("s2", "-1"), ("s3", "0"), ("s4", None)]:
        cells = {"ex1-tests": ("AssertionError", f"add(1, 2) gave {gave}") if gave else None,
                 "ex2-tests": ("NameError", "name 'mean' is not defined") if student == "s3" else None}
        found += failures.notebook_failures(_graded_notebook(cells), student, "nb")
    groups = failures.group(found)
    assert [(g.grade_id, g.count, g.pattern, g.students) for g in groups] == [
        ("ex1-tests", 3, "add(#, #) gave #", ("s1", "s2", "s3")),
        ("ex2-tests", 1, "NameError: name 'mean' is not defined", ("s3",)),
    ]


# A pretend class with repeated mistakes, graded through `grade`.
CLASS = {
    "honest": tiny.HONEST,
    "subtracts-1": tiny.HONEST | {"ex1-add": "def add(a, b):\n    return a - b"},
    "subtracts-2": tiny.HONEST | {"ex1-add": "def add(a, b):\n    return a - b"},
    "subtracts-3": tiny.HONEST | {"ex1-add": "def add(a, b):\n    return a - b"},
    "multiplies": tiny.HONEST | {"ex1-add": "def add(a, b):\n    return a * b"},  # same message, other number
    "sums-1": tiny.HONEST | {"ex2-mean": "def mean(xs):\n    return sum(xs)"},
    "sums-2": {"ex1-add": "def add(a, b):\n    return a - b", "ex2-mean": "def mean(xs):\n    return sum(xs)"},
}


@pytest.mark.notebooks
def test_the_failures_csv_groups_the_class_mistakes_with_their_counts(tmp_path):
    root = tiny.build(tmp_path / "course")
    release = tiny.release(root)
    for student, answers in CLASS.items():
        folder = root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(tiny.with_answers(release, answers), folder / tiny.NOTEBOOK)
    course = Course(root)
    rows = grade(course, tiny.ASSIGNMENT, limits=Limits(timeout=120, cell_timeout=8, memory_mb=400),
                 runner=local_runner(2), sandbox=tiny.GRADING_SANDBOX, log=lambda line: None)
    report = write_report(course, tiny.ASSIGNMENT, rows, tmp_path / "reports", 1.0)

    with report.failures_csv.open() as handle:
        lines = list(csv.DictReader(handle))
    found = {(line["test_cell"], line["mistake"]): (int(line["students"]), line["student_ids"]) for line in lines}
    assert found == {
        ("ex1-tests", "add(#, #) gave #"): (5, "multiplies subtracts-1 subtracts-2 subtracts-3 sums-2"),
        ("ex2-tests", "AssertionError (the check gave no message)"): (2, "sums-1 sums-2"),
    }
    page = report.html.read_text()
    assert "add(#, #) gave #" in page  # the mistake ...
    assert "add(1, 2) gave 2" in page or "add(1, 2) gave -1" in page  # ... with one student's message
