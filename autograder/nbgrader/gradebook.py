"""Reading the gradebook: every cell's score, and each notebook's total.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbgrader.api import Gradebook


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
    rows = []
    with open_gradebook(db_url or f"sqlite:///{course / 'gradebook.db'}") as gradebook:
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


def totals(rows: list[CellScore], *, auto_only: bool = True) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, notebook) -> (score, max score), counting autograded cells only by default."""
    result: dict[tuple[str, str], tuple[float, float]] = {}
    for row in rows:
        if auto_only and not row.auto:
            continue
        score, maximum = result.get((row.student, row.notebook), (0.0, 0.0))
        result[(row.student, row.notebook)] = (score + row.score, maximum + row.max_score)
    return result


def _alembic_on_path() -> None:
    """A new gradebook asks for ``alembic`` by name (``nbgrader.api.get_alembic_version``): where the one on PATH is
    not this environment's (``python -m autograder`` run without activating the venv), this Python's bin goes first."""
    bin_dir = Path(sys.executable).parent
    found = shutil.which("alembic")
    if (bin_dir / "alembic").exists() and (found is None or Path(found).parent != bin_dir):
        os.environ["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])


@contextmanager
def open_gradebook(db_url: str) -> Iterator[Gradebook]:
    """nbgrader's Gradebook at ``db_url`` (created if new), closed on leaving."""
    from nbgrader.api import Gradebook

    _alembic_on_path()
    with Gradebook(db_url) as gradebook:
        yield gradebook
