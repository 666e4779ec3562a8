"""One queue, longest first: several assignments graded in one run, ordered by what the last run measured."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grade.coordinator import grade_assignments, local_runner
from autograder.grade.runners import Job
from autograder.grade.schedule import STATE_FILE, expected_seconds, longest_first, past_seconds
from autograder.nbgrader.commands import nbgrader
from autograder.nbgrader.course import Course
from tests import tiny_course as tiny

SECOND = "98_tiny"  # a copy of the tiny assignment under another name: the run's second assignment


def _job(assignment: str, student: str, size: int = 10) -> Job:
    return Job(student, {"nb.ipynb": b"x" * size}, {}, assignment=assignment)


def _order(jobs: list[Job]) -> list[str]:
    return [f"{job.assignment}/{job.student}" for job in jobs]


def test_jobs_never_timed_start_first_largest_code_first():
    jobs = [_job("a", "small", 10), _job("a", "large", 99), _job("a", "mid", 50)]
    assert _order(longest_first(jobs, {})) == ["a/large", "a/mid", "a/small"]


def test_timed_jobs_start_longest_first_after_the_unknown_ones():
    history = {("a", "quick"): 3.0, ("b", "slow"): 40.0, ("a", "medium"): 12.0}
    jobs = [_job("a", "quick"), _job("a", "medium"), _job("c", "new"), _job("b", "slow")]
    assert _order(longest_first(jobs, history)) == ["c/new", "b/slow", "a/medium", "a/quick"]


def test_a_new_student_is_expected_to_take_their_assignments_median():
    history = {("a", "x"): 10.0, ("a", "y"): 20.0, ("a", "z"): 90.0, ("b", "w"): 5.0}
    assert expected_seconds(_job("a", "newcomer"), history) == 20.0
    assert expected_seconds(_job("b", "w"), history) == 5.0
    assert expected_seconds(_job("c", "anyone"), history) is None
    # the newcomer of a (median 20 s) goes before b's 5 s student, after a's own 90 s one
    jobs = [_job("b", "w"), _job("a", "newcomer"), _job("a", "z")]
    assert _order(longest_first(jobs, history)) == ["a/z", "a/newcomer", "b/w"]


def test_ties_keep_the_order_they_came_in():
    history = {("a", name): 7.0 for name in "pqrs"}
    jobs = [_job("a", name) for name in "rpsq"]
    assert _order(longest_first(jobs, history)) == ["a/r", "a/p", "a/s", "a/q"]


def test_past_seconds_reads_the_state_files_and_skips_broken_ones(tmp_path):
    def state(student: str, assignment: str, text: str) -> None:
        folder = tmp_path / "autograded" / student / assignment
        folder.mkdir(parents=True)
        (folder / STATE_FILE).write_text(text)

    state("ann", "a", json.dumps({"score": 1, "seconds": 12.5}))
    state("bob", "a", json.dumps({"score": 1}))  # graded before seconds were recorded
    state("cy", "a", "{not json")
    state("dee", "b", json.dumps({"seconds": 4}))
    state("eve", "c", json.dumps({"seconds": 9}))  # not asked for
    assert past_seconds(tmp_path, ["a", "b"]) == {("a", "ann"): 12.5, ("b", "dee"): 4.0}


@pytest.fixture(scope="module")
def two_assignments(tmp_path_factory) -> Path:
    """The tiny course with a second assignment, two students each (one sleeps: a long notebook)."""
    root = tiny.build(tmp_path_factory.mktemp("schedule") / "course")
    shutil.copytree(root / "source" / tiny.ASSIGNMENT, root / "source" / SECOND)
    (root / "source" / SECOND / tiny.NOTEBOOK).rename(root / "source" / SECOND / f"{SECOND}.ipynb")
    nbgrader(["generate_assignment", SECOND, "--force"], cwd=root)
    slow = dict(tiny.HONEST, **{"ex1-add": "import time\ntime.sleep(2)\n" + tiny.HONEST["ex1-add"]})
    for assignment, notebook in ((tiny.ASSIGNMENT, tiny.NOTEBOOK), (SECOND, f"{SECOND}.ipynb")):
        release = nbformat.read(root / "release" / assignment / notebook, as_version=4)
        for student, answers in (("quick", tiny.HONEST), ("slow", slow)):
            folder = root / "submitted" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(tiny.with_answers(release, answers), folder / notebook)
    return root


class _Recording:
    """A local runner that remembers the order it was handed the jobs in, and how many calls it got."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, jobs: list[Job]):
        self.calls.append(_order(jobs))
        yield from local_runner(2)(jobs)


def _grade_both(course: Path) -> tuple[dict, _Recording]:
    runner = _Recording()
    graded = grade_assignments(Course(course), {tiny.ASSIGNMENT: None, SECOND: ["quick", "slow"]}, runner=runner,
                               force=True, sandbox=tiny.GRADING_SANDBOX, log=lambda line: None)
    return graded, runner


@pytest.fixture(scope="module")
def first_run(two_assignments) -> tuple[dict, _Recording, dict[tuple[str, str], float]]:
    """Both assignments graded once: the rows, the runner's record, and the seconds the run kept."""
    graded, runner = _grade_both(two_assignments)
    return graded, runner, past_seconds(two_assignments, [tiny.ASSIGNMENT, SECOND])


def test_two_assignments_are_graded_from_one_queue(first_run):
    graded, runner, history = first_run
    assert len(runner.calls) == 1 and len(runner.calls[0]) == 4, runner.calls
    for assignment in (tiny.ASSIGNMENT, SECOND):
        assert [(row.student, row.score, row.max_score) for row in graded[assignment]] == \
            [("quick", 5.0, 5.0), ("slow", 5.0, 5.0)]
        # each student's seconds are kept for the next run; the slow one slept 2 s more
        assert history[(assignment, "slow")] >= 2.0 and history[(assignment, "quick")] > 0, history


def test_the_next_run_starts_the_students_that_took_longest(two_assignments, first_run):
    # the seconds the last run kept, set to an order that is neither the submission order nor the code sizes'
    kept = {(SECOND, "quick"): 50.0, (tiny.ASSIGNMENT, "slow"): 40.0, (SECOND, "slow"): 30.0,
            (tiny.ASSIGNMENT, "quick"): 20.0}
    for (assignment, student), seconds in kept.items():
        state_file = two_assignments / "autograded" / student / assignment / STATE_FILE
        state_file.write_text(json.dumps(json.loads(state_file.read_text()) | {"seconds": seconds}))
    _, again = _grade_both(two_assignments)
    assert again.calls[0] == [f"{SECOND}/quick", f"{tiny.ASSIGNMENT}/slow", f"{SECOND}/slow",
                              f"{tiny.ASSIGNMENT}/quick"], again.calls


def test_the_command_line_grades_several_assignments_and_reports_each(two_assignments, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", tiny.ASSIGNMENT, SECOND, "--course", str(two_assignments),
         "--student", "quick", "--force", "--report", str(tmp_path), "--sandbox", tiny.GRADING_SANDBOX],
        capture_output=True, text=True, timeout=600, cwd=two_assignments)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"{tiny.ASSIGNMENT}/quick: 5/5 graded" in result.stdout and f"{SECOND}/quick: 5/5 graded" in result.stdout
    assert {path.name for path in tmp_path.iterdir()} >= {f"{tiny.ASSIGNMENT}-grades.csv", f"{SECOND}-grades.csv"}
    assert (two_assignments / "feedback" / "quick" / SECOND).is_dir()


def test_a_student_in_a_shared_run_sees_only_their_own_notebook(two_assignments):
    """The attack: in a run of two assignments, one student's code looks for the other jobs' notebooks."""
    snoop = ("import os, glob\n"
             "print('HERE', sorted(os.listdir('.')))\n"
             "print('FOUND', sorted(glob.glob('/tmp/**/*.ipynb', recursive=True)\n"
             "                      + glob.glob('../**/*.ipynb', recursive=True)))\n"
             "def add(a, b):\n    return a + b")
    release = nbformat.read(two_assignments / "release" / SECOND / f"{SECOND}.ipynb", as_version=4)
    folder = two_assignments / "submitted" / "snoop" / SECOND
    folder.mkdir(parents=True)
    nbformat.write(tiny.with_answers(release, dict(tiny.HONEST, **{"ex1-add": snoop})), folder / f"{SECOND}.ipynb")
    grade_assignments(Course(two_assignments), {tiny.ASSIGNMENT: ["quick", "slow"], SECOND: ["snoop"]},
                      runner=local_runner(2), force=True, sandbox=tiny.GRADING_SANDBOX, log=lambda line: None)
    graded = nbformat.read(two_assignments / "autograded" / "snoop" / SECOND / f"{SECOND}.ipynb", as_version=4)
    printed = "".join(output.get("text", "") for cell in graded.cells for output in cell.get("outputs", []))
    assert "HERE [" in printed and "FOUND [" in printed, printed  # the student's code ran
    assert tiny.ASSIGNMENT not in printed and "quick" not in printed and "slow" not in printed, printed[:800]
