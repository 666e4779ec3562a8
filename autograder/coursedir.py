"""Throw-away nbgrader course directories: generate, submit, autograde, read the gradebook.

Used by ``selfcheck`` and by the tests that grade pretend students (solution, blank,
wrong solutions).  Every step is a stock nbgrader command; we only arrange the files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

REPO_ROOT = Path(__file__).resolve().parent.parent


def source_assignments(root: Path = REPO_ROOT) -> list[str]:
    """Assignment names: the folders of ``source/``."""
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def _environment() -> dict[str, str]:
    """The environment for nbgrader: it runs ``alembic`` from PATH, so put this Python's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "PYTHONWARNINGS": "ignore"}


def nbgrader(
    args: list[str], cwd: Path, *, timeout: float | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run an nbgrader command in a course directory; with ``check``, raise with its log when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=_environment(),
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


def read_scores(course: Path, assignment: str) -> list[CellScore]:
    """Every grade the gradebook holds for ``assignment``."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    rows.append(CellScore(
                        student=submission.student_id, notebook=notebook.name, grade_id=grade.name,
                        score=float(grade.score), max_score=float(grade.max_score),
                        auto=grade.cell.cell_type == "code" and grade.auto_score is not None,
                    ))
    return rows


def autograde_students(
    course: Path,
    assignment: str,
    submissions: dict[str, dict[str, NotebookNode | bytes]],
    *,
    workers: int = 2,
    scratch: Path | None = None,
) -> list[CellScore]:
    """Autograde pretend students with stock ``nbgrader autograde``, in ``workers`` parallel shards.

    Each shard is a copy of the generated course with its own SQLite gradebook, so
    parallel shards never write to one database.  Returns the scores of all students.
    """
    students = sorted(submissions)
    workers = max(1, min(workers, len(students)))
    scratch = scratch or course.parent / f"{course.name}-shards"
    shards = []
    for index in range(workers):
        shard = scratch / f"shard{index}"
        if shard.exists():
            shutil.rmtree(shard)
        shutil.copytree(course, shard, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
        for student in students[index::workers]:
            submit(shard, assignment, student, submissions[student])
        shards.append(shard)

    def grade(shard: Path) -> list[CellScore]:
        # nbgrader grades every student of the shard even when one fails (it then exits 1);
        # a student it could not grade simply has no scores.  The log stays in the shard.
        result = nbgrader(["autograde", assignment, "--force"], cwd=shard, check=False)
        (shard / "autograde.log").write_text(result.stdout + result.stderr)
        return read_scores(shard, assignment)

    with ThreadPoolExecutor(workers) as pool:
        return [row for rows in pool.map(grade, shards) for row in rows]


def totals(rows: list[CellScore], *, auto_only: bool = True) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, notebook) -> (score, max score), counting autograded cells only by default."""
    result: dict[tuple[str, str], tuple[float, float]] = {}
    for row in rows:
        if auto_only and not row.auto:
            continue
        score, maximum = result.get((row.student, row.notebook), (0.0, 0.0))
        result[(row.student, row.notebook)] = (score + row.score, maximum + row.max_score)
    return result
