"""Shared fixtures: the repository root and graded pretend classes (slow, computed once per session)."""

from __future__ import annotations

import copy
import importlib
import os
from pathlib import Path

import pytest

from autograder import notebooks
from autograder.coursedir import CellScore, autograde_students, new_course

ROOT = Path(__file__).resolve().parent.parent
ALL_SUBMISSION_MODULES = ["tests.submissions.nb01", "tests.submissions.nb02", "tests.submissions.nb03"]
# COURSE_EXTRA_SUBMISSIONS=tests.submissions.nb02 adds a notebook still being written.
ALL_SUBMISSION_MODULES += [name for name in os.environ.get("COURSE_EXTRA_SUBMISSIONS", "").split(",") if name]
# COURSE_ASSIGNMENTS=02_initialization,03_activations grades only those notebooks' pretend classes.
_only = {name for name in os.environ.get("COURSE_ASSIGNMENTS", "").split(",") if name}
SUBMISSION_MODULES = [name for name in ALL_SUBMISSION_MODULES
                      if not _only or importlib.import_module(name).ASSIGNMENT in _only]


def _without_cell(nb, grade_id: str):
    """A copy of ``nb`` in which the student deleted the cell ``grade_id``."""
    new = copy.deepcopy(nb)
    new.cells = [cell for cell in new.cells if notebooks.grade_id(cell) != grade_id]
    return new


def _with_duplicate(nb, grade_id: str):
    """A copy of ``nb`` in which the student duplicated the cell ``grade_id`` (same metadata, same id)."""
    new = copy.deepcopy(nb)
    index = next(i for i, cell in enumerate(new.cells) if notebooks.grade_id(cell) == grade_id)
    twin = copy.deepcopy(new.cells[index])
    twin["id"] = twin["id"] + "-copy"
    new.cells.insert(index + 1, twin)
    return new


class GradedClass:
    """A generated course with every pretend student of one notebook autograded."""

    def __init__(self, spec, course: Path, rows: list[CellScore], shards: Path):
        self.spec, self.course, self.rows, self.shards = spec, course, rows, shards

    def cell_scores(self, student: str) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max) of the autograded cells of one student's notebook."""
        return {row.grade_id: (row.score, row.max_score) for row in self.rows
                if row.student == student and row.notebook == Path(self.spec.NOTEBOOK).stem and row.auto}

    def autograded_dir(self, student: str) -> Path:
        """The shard course directory in which ``student`` was graded."""
        return next(shard for shard in sorted(self.shards.iterdir())
                    if (shard / "autograded" / student).is_dir())


def pretend_class(spec, course: Path) -> dict[str, dict]:
    """Every pretend student of a notebook: solution, blank, wrong and other correct ones, broken ones."""
    release_nb = notebooks.read(course / "release" / spec.ASSIGNMENT / spec.NOTEBOOK)
    source_nb = notebooks.read(course / "source" / spec.ASSIGNMENT / spec.NOTEBOOK)
    solution = notebooks.solved(release_nb, source_nb)
    first_exercise, second_exercise = list(spec.EXERCISES)[:2]
    first_tests = spec.EXERCISES[first_exercise][0]
    students = {"solution": solution, "blank": release_nb}
    if getattr(spec, "BAD_INPUT", False):
        # nbgrader's handling of broken structure is the same for every notebook: one notebook proves it.
        # An exercise cell that raises, a deleted exercise cell, deleted and duplicated test cells.
        raising = {second_exercise: 'raise RuntimeError("oops")'}
        students["raises"] = notebooks.with_cells_replaced(solution, raising)
        students["deleted-exercise"] = _without_cell(solution, first_exercise)
        students["deleted-tests"] = _without_cell(solution, first_tests)
        students["duplicated-tests"] = _with_duplicate(solution, first_tests)
    for name, (cell, source) in spec.WRONG.items():
        students[f"wrong-{name}"] = notebooks.with_cells_replaced(solution, {cell: source})
    for name, cells in spec.RIGHT.items():
        students[f"right-{name}"] = notebooks.with_cells_replaced(solution, cells)
    return {student: {spec.NOTEBOOK: nb} for student, nb in students.items()}


@pytest.fixture(scope="session")
def graded_classes(tmp_path_factory) -> dict[str, GradedClass]:
    """Autograde every pretend student of every notebook once (the slow part of the suite)."""
    classes = {}
    for module_name in SUBMISSION_MODULES:
        spec = importlib.import_module(module_name)
        tmp = tmp_path_factory.mktemp(spec.ASSIGNMENT)
        course = new_course(tmp / "course", [spec.ASSIGNMENT], root=ROOT)
        rows = autograde_students(course, spec.ASSIGNMENT, pretend_class(spec, course),
                                  workers=2, scratch=tmp / "shards")
        classes[spec.ASSIGNMENT] = GradedClass(spec, course, rows, tmp / "shards")
    return classes
