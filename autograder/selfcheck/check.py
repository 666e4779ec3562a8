"""``selfcheck``: the solution must earn full marks and the blank release zero.

Generates each assignment in a temporary course directory, submits two pretend
students - ``solution`` (the release with the source's solutions filled in) and
``blank`` (the release as students get it) - grades them with ``grade`` (the sandboxed
pipeline instructors run) and
prints one row per notebook. ``repeat=N`` submits the solution N times (as N
students, graded in fresh kernels): hidden training tests must give it full marks
every time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import REPO_ROOT
from autograder.nbgrader import notebooks
from autograder.nbgrader.commands import source_assignments
from autograder.nbgrader.gradebook import totals
from autograder.selfcheck.courses import autograde_classes, new_course


@dataclass(frozen=True)
class Row:
    assignment: str
    notebook: str
    solution: tuple[float, float]
    blank: tuple[float, float]
    repeats: tuple[tuple[float, float], ...] = ()  # the solution's further gradings (``repeat`` > 1)

    @property
    def ok(self) -> bool:
        runs = (self.solution, *self.repeats)
        return all(maximum > 0 and score == maximum for score, maximum in runs) and self.blank[0] == 0

    def __str__(self) -> str:
        (s, s_max), (b, b_max) = self.solution, self.blank
        verdict = "ok" if self.ok else "FAIL"
        name = f"{self.assignment}/{self.notebook}"
        again = f" (again: {', '.join(f'{score:g}' for score, _ in self.repeats)})" if self.repeats else ""
        return f"{name:<45} solution {s:g}/{s_max:g}{again}   blank {b:g}/{b_max:g}   {verdict}"


def pretend_students(course: Path, assignment: str, repeat: int = 1) -> dict[str, dict]:
    """The ``solution`` and ``blank`` submissions of every notebook of an assignment.

    With ``repeat`` > 1 the solution is also submitted as ``solution-2`` ... ``solution-<repeat>``.
    """
    solution, blank = {}, {}
    for release_path in sorted((course / "release" / assignment).glob("*.ipynb")):
        release_nb = notebooks.read(release_path)
        source_nb = notebooks.read(course / "source" / assignment / release_path.name)
        blank[release_path.name] = release_nb
        solution[release_path.name] = notebooks.solved(release_nb, source_nb)
    students = {"solution": solution, "blank": blank}
    students.update({f"solution-{run}": solution for run in range(2, repeat + 1)})
    return students


def selfcheck(assignments: list[str] | None = None, *, workers: int = 2, repeat: int = 1,
              root: Path = REPO_ROOT, sandbox: str = "auto") -> list[Row]:
    """Grade the pretend students of each assignment (the solution ``repeat`` times); one Row per notebook.

    Every assignment goes in one temporary course and one ``grade`` run, so one queue feeds the workers.
    """
    names = assignments or source_assignments(root)
    rows = []
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as tmp:
        course = new_course(Path(tmp) / "course", names, root=root)
        classes = {assignment: pretend_students(course, assignment, repeat) for assignment in names}
        scores = autograde_classes(course, classes, workers=workers, sandbox=sandbox)
        for assignment, students in classes.items():
            marks = totals([score for score in scores if score.assignment == assignment])
            for name in sorted({notebook for (_, notebook) in marks}):
                # a student nbgrader could not grade at all scores 0/0, and fails
                solution, blank, *repeats = (marks.get((student, name), (0.0, 0.0)) for student in students)
                rows.append(Row(assignment, name, solution, blank, tuple(repeats)))
    return rows


def main(args: argparse.Namespace) -> int:
    """The command, with the arguments :mod:`autograder.cli` parsed."""
    from autograder import REPO_ROOT

    started = time.perf_counter()
    rows = selfcheck(args.assignments or None, workers=args.workers, repeat=args.repeat,
                     root=(args.course or REPO_ROOT).resolve(), sandbox=args.sandbox)
    print("notebook, solution score/max, blank score/max (autograded points only)")
    for row in rows:
        print(row)
    print(f"selfcheck took {time.perf_counter() - started:.0f} s")
    return 0 if rows and all(row.ok for row in rows) else 1
