"""Throw-away nbgrader course directories: generate, submit, grade, read the gradebook.

Used by ``selfcheck`` and by the tests that grade pretend students (solution, blank, wrong
solutions). Grading goes through :func:`autograder.grading.grade`, the pipeline instructors run
(sanitize, execute in the sandbox, record), so what the tests prove is what a class gets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder import REPO_ROOT


def source_assignments(root: Path = REPO_ROOT) -> list[str]:
    """Assignment names: the folders of ``source/``."""
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def nbgrader_environment() -> dict[str, str]:
    """The environment for nbgrader: it runs ``alembic`` from PATH, so put this Python's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "PYTHONWARNINGS": "ignore"}


# ``python -m nbgrader``, after ``import autograder`` (which spares nbformat's schema checker a 1.2 s import)
NBGRADER_MAIN = "import autograder, runpy; runpy.run_module('nbgrader', run_name='__main__', alter_sys=True)"


def nbgrader(
    args: list[str], cwd: Path, *, timeout: float | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run an nbgrader command in a course directory; with ``check``, raise with its log when it fails."""
    result = subprocess.run(
        [sys.executable, "-c", NBGRADER_MAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=nbgrader_environment(),
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result


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


@dataclass(frozen=True)
class CellScore:
    """One graded cell of one student's notebook."""

    student: str
    notebook: str
    grade_id: str
    score: float
    max_score: float
    auto: bool  # False for manually graded answers
    assignment: str = ""


def read_scores(course: Path, assignment: str, db_url: str | None = None) -> list[CellScore]:
    """Every grade the gradebook holds for ``assignment`` (the course's SQLite one unless ``db_url``)."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(db_url or f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    rows.append(CellScore(
                        student=submission.student_id, notebook=notebook.name, grade_id=grade.name,
                        score=float(grade.score), max_score=float(grade.max_score),
                        auto=grade.cell.cell_type == "code" and grade.auto_score is not None,
                        assignment=assignment,
                    ))
    return rows


def autograde_classes(
    course: Path,
    classes: dict[str, dict[str, dict[str, NotebookNode | bytes]]],
    *,
    workers: int = 2,
    sandbox: str = "auto",
) -> list[CellScore]:
    """Submit pretend students of several assignments (``{assignment: {student: files}}``) and grade them.

    One ``grade`` run for all of them (:func:`autograder.grading.grade_assignments`): every notebook in
    one queue, longest first, ``workers`` at a time. Returns every score, read back from the gradebook.
    """
    from autograder.grading import Course, grade_assignments, local_runner

    for assignment, submissions in classes.items():
        for student, files in submissions.items():
            submit(course, assignment, student, files)
    grade_assignments(Course(course), {assignment: list(submissions) for assignment, submissions in classes.items()},
                      runner=local_runner(workers), force=True, sandbox=sandbox, log=lambda line: None)
    return [row for assignment in classes for row in read_scores(course, assignment)]


def totals(rows: list[CellScore], *, auto_only: bool = True) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, notebook) -> (score, max score), counting autograded cells only by default."""
    result: dict[tuple[str, str], tuple[float, float]] = {}
    for row in rows:
        if auto_only and not row.auto:
            continue
        score, maximum = result.get((row.student, row.notebook), (0.0, 0.0))
        result[(row.student, row.notebook)] = (score + row.score, maximum + row.max_score)
    return result
