"""Throw-away nbgrader course directories for ``selfcheck`` and the tests: generate, submit, grade.

Grading goes through :func:`autograder.grade.coordinator.grade_assignments`, the pipeline instructors run
(sanitize, judge in the sandbox, record), so what ``selfcheck`` and the tests prove is what a class gets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder import REPO_ROOT
from autograder.nbgrader.commands import nbgrader, source_assignments
from autograder.nbgrader.gradebook import CellScore, read_scores


def new_course(dest: Path, assignments: list[str], root: Path = REPO_ROOT) -> Path:
    """A course directory at ``dest`` with the config, the header and ``assignments`` generated."""
    (dest / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copy(root / "source" / "header.ipynb", dest / "source" / "header.ipynb")
    for name in assignments:
        shutil.copytree(root / "source" / name, dest / "source" / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if len(assignments) > 1 and set(source_assignments(dest)) == set(assignments):
        # nbgrader reads the assignment id as a glob: one process generates them all (one start-up, not N)
        nbgrader(["generate_assignment", "*", "--force"], cwd=dest)
    else:
        for name in assignments:
            nbgrader(["generate_assignment", name, "--force"], cwd=dest)
    return dest


def submit(course: Path, assignment: str, student: str, notebooks: dict[str, NotebookNode | bytes]) -> None:
    """Place a student's files in ``submitted/<student>/<assignment>/`` (bytes are written as is)."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in notebooks.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nbformat.write(content, str(path))


def autograde_classes(
    course: Path,
    classes: dict[str, dict[str, dict[str, NotebookNode | bytes]]],
    *,
    workers: int = 2,
    sandbox: str = "auto",
) -> list[CellScore]:
    """Submit pretend students of several assignments (``{assignment: {student: files}}``) and grade them.

    One ``grade`` run for all of them (:func:`autograder.grade.coordinator.grade_assignments`): every notebook in
    one queue, longest first, ``workers`` at a time. Returns every score, read back from the gradebook.
    """
    from autograder.grade.coordinator import grade_assignments, local_runner
    from autograder.nbgrader.course import Course

    for assignment, submissions in classes.items():
        for student, files in submissions.items():
            submit(course, assignment, student, files)
    grade_assignments(Course(course), {assignment: list(submissions) for assignment, submissions in classes.items()},
                      runner=local_runner(workers), force=True, sandbox=sandbox, log=lambda line: None)
    return [row for assignment in classes for row in read_scores(course, assignment)]
