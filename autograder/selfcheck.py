"""``selfcheck``: the solution must earn full marks and the blank release zero.

Generates each assignment in a temporary course directory, submits two pretend
students - ``solution`` (the release with the source's solutions filled in) and
``blank`` (the release as students get it) - autogrades them with nbgrader and
prints one row per notebook.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder import notebooks
from autograder.coursedir import REPO_ROOT, autograde_students, new_course, source_assignments, totals


@dataclass(frozen=True)
class Row:
    assignment: str
    notebook: str
    solution: tuple[float, float]
    blank: tuple[float, float]

    @property
    def ok(self) -> bool:
        return self.solution[1] > 0 and self.solution[0] == self.solution[1] and self.blank[0] == 0

    def __str__(self) -> str:
        (s, s_max), (b, b_max) = self.solution, self.blank
        verdict = "ok" if self.ok else "FAIL"
        name = f"{self.assignment}/{self.notebook}"
        return f"{name:<45} solution {s:g}/{s_max:g}   blank {b:g}/{b_max:g}   {verdict}"


def pretend_students(course: Path, assignment: str) -> dict[str, dict]:
    """The ``solution`` and ``blank`` submissions of every notebook of an assignment."""
    solution, blank = {}, {}
    for release_path in sorted((course / "release" / assignment).glob("*.ipynb")):
        release_nb = notebooks.read(release_path)
        source_nb = notebooks.read(course / "source" / assignment / release_path.name)
        blank[release_path.name] = release_nb
        solution[release_path.name] = notebooks.solved(release_nb, source_nb)
    return {"solution": solution, "blank": blank}


def selfcheck(assignments: list[str] | None = None, *, workers: int = 2, root: Path = REPO_ROOT) -> list[Row]:
    """Grade the pretend students of each assignment; one Row per notebook."""
    rows = []
    for assignment in assignments or source_assignments(root):
        with tempfile.TemporaryDirectory(prefix=f"selfcheck-{assignment}-") as tmp:
            course = new_course(Path(tmp) / "course", [assignment], root=root)
            scores = totals(autograde_students(course, assignment, pretend_students(course, assignment),
                                               workers=workers))
            names = sorted({notebook for (_, notebook) in scores})
            for name in names:  # a student nbgrader could not grade at all scores 0/0, and fails
                rows.append(Row(assignment, name, scores.get(("solution", name), (0.0, 0.0)),
                                scores.get(("blank", name), (0.0, 0.0))))
    return rows
