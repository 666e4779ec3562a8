"""Shared fixtures: the repository root and graded pretend classes (slow, computed once per session)."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

# The grading side (autograder, nbgrader) is imported inside the functions that grade: the tests of the
# student-side package (tests/course/) run where only the student side is installed (CI's Colab job).

ROOT = Path(__file__).resolve().parent.parent
ALL_SUBMISSION_MODULES = ["tests.submissions.nb01", "tests.submissions.nb02", "tests.submissions.nb03",
                          "tests.submissions.nb04", "tests.submissions.nb05", "tests.submissions.nb06",
                          "tests.submissions.nb07"]
# COURSE_EXTRA_SUBMISSIONS=tests.submissions.nb02 adds a notebook still being written.
ALL_SUBMISSION_MODULES += [name for name in os.environ.get("COURSE_EXTRA_SUBMISSIONS", "").split(",") if name]
# COURSE_ASSIGNMENTS=02_initialization,03_activations grades only those notebooks' pretend classes.
_only = {name for name in os.environ.get("COURSE_ASSIGNMENTS", "").split(",") if name}
SUBMISSION_MODULES = [name for name in ALL_SUBMISSION_MODULES
                      if not _only or importlib.import_module(name).ASSIGNMENT in _only]


def _without_cell(nb, grade_id: str):
    """A copy of ``nb`` in which the student deleted the cell ``grade_id``."""
    from autograder.nbgrader import notebooks

    new = copy.deepcopy(nb)
    new.cells = [cell for cell in new.cells if notebooks.grade_id(cell) != grade_id]
    return new


def _with_duplicate(nb, grade_id: str):
    """A copy of ``nb`` in which the student duplicated the cell ``grade_id`` (same metadata, same id)."""
    from autograder.nbgrader import notebooks

    new = copy.deepcopy(nb)
    index = next(i for i, cell in enumerate(new.cells) if notebooks.grade_id(cell) == grade_id)
    twin = copy.deepcopy(new.cells[index])
    twin["id"] = twin["id"] + "-copy"
    new.cells.insert(index + 1, twin)
    return new


class GradedClass:
    """A generated course with every pretend student of one notebook autograded."""

    def __init__(self, spec, course: Path, rows: list):
        self.spec, self.course, self.rows = spec, course, rows

    def cell_scores(self, student: str) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max) of the autograded cells of one student's notebook."""
        return {row.grade_id: (row.score, row.max_score) for row in self.rows
                if row.student == student and row.notebook == Path(self.spec.NOTEBOOK).stem and row.auto}

    def autograded_dir(self, student: str) -> Path:
        """The course directory in which ``student`` was graded (its ``autograded/`` holds the notebook)."""
        return self.course


def packed_wrong_solutions(spec) -> list[dict[str, str]]:
    """Wrong solutions packed into as few students as possible: row k holds the k-th wrong of each exercise.

    Exercises are independent by design (a test cell uses only its own exercise's object), so one student can
    carry a wrong answer to every exercise at once; the test then checks each test cell separately. One
    student per mutation would grade three times as many notebooks for the same evidence.
    Each row maps an exercise's solution cell to the name of the wrong solution it carries.
    """
    rows: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for name, (exercise, _) in spec.WRONG.items():
        index = seen[exercise] = seen.get(exercise, -1) + 1
        if index == len(rows):
            rows.append({})
        rows[index][exercise] = name
    return rows


def pretend_class(spec, course: Path) -> dict[str, dict]:
    """Every pretend student of a notebook: solution, blank, wrong, other correct and partial ones, broken ones."""
    from autograder.nbgrader import notebooks

    release_nb = notebooks.read(course / "release" / spec.ASSIGNMENT / spec.NOTEBOOK)
    source_nb = notebooks.read(course / "source" / spec.ASSIGNMENT / spec.NOTEBOOK)
    solution = notebooks.solved(release_nb, source_nb)
    first_exercise, second_exercise = list(spec.EXERCISES)[:2]
    first_tests, second_tests = spec.EXERCISES[first_exercise][0], spec.EXERCISES[second_exercise][0]
    students = {"solution": solution, "blank": release_nb}
    if getattr(spec, "BAD_INPUT", False):
        # nbgrader's handling of broken structure is the same for every notebook: one notebook proves it.
        # One student whose second exercise raises and whose first exercise cell is deleted; one who
        # deleted the first test cell and duplicated the second.
        broken = notebooks.with_cells_replaced(solution, {second_exercise: 'raise RuntimeError("oops")'})
        students["raises-and-deleted-exercise"] = _without_cell(broken, first_exercise)
        students["deleted-and-duplicated-tests"] = _with_duplicate(_without_cell(solution, first_tests),
                                                                   second_tests)
    for index, row in enumerate(packed_wrong_solutions(spec)):
        replacements = {exercise: spec.WRONG[name][1] for exercise, name in row.items()}
        students[f"wrong-{index}"] = notebooks.with_cells_replaced(solution, replacements)
    for name, cells in spec.RIGHT.items():
        students[f"right-{name}"] = notebooks.with_cells_replaced(solution, cells)
    # Partial answers to an exercise graded in tiers: each must earn the tiers it reaches and no more.
    for name, (exercise, source) in getattr(spec, "PARTIAL", {}).items():
        students[f"partial-{name}"] = notebooks.with_cells_replaced(solution, {exercise: source})
    return {student: {spec.NOTEBOOK: nb} for student, nb in students.items()}


def grade_pretend_classes(folder: Path) -> dict[str, GradedClass]:
    """Every pretend student of every notebook, in one course, graded in one run (one longest-first queue)."""
    from autograder.selfcheck.courses import autograde_classes, new_course
    from tests.tiny_course import GRADING_SANDBOX

    specs = [importlib.import_module(name) for name in SUBMISSION_MODULES]
    course = new_course(folder / "course", [spec.ASSIGNMENT for spec in specs], root=ROOT)
    classes = {spec.ASSIGNMENT: pretend_class(spec, course) for spec in specs}
    rows = autograde_classes(course, classes, workers=2, sandbox=GRADING_SANDBOX)
    return {spec.ASSIGNMENT: GradedClass(spec, course, [row for row in rows if row.assignment == spec.ASSIGNMENT])
            for spec in specs}


class _Background:
    """The pretend classes, graded in a thread while the rest of the suite runs (started after collection).

    Grading is mostly waiting on sandboxed kernels, so the other tests run beside it; the tests that
    need its results are moved to the end of the run (``pytest_collection_modifyitems``).
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pretend-classes-"))
        self.thread: threading.Thread | None = None
        self.classes: dict[str, GradedClass] | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="pretend-classes", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self.classes = grade_pretend_classes(self.folder)
        except BaseException as error:  # re-raised in the tests that need the classes
            self.error = error
        self.seconds = time.perf_counter() - started

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def result(self) -> dict[str, GradedClass]:
        self.start()
        self.wait()
        if self.error is not None:
            raise RuntimeError(f"grading the pretend classes failed: {self.error!r}") from self.error
        assert self.classes is not None
        return self.classes


_background = _Background()
_WAIT_FOR_BACKGROUND = ("graded_classes", "quiet_process")


def pytest_configure(config) -> None:
    if importlib.util.find_spec("sqlalchemy") is not None:  # the grading side is installed (not in the Colab job)
        # nbgrader's Gradebook.update_or_create_submission (its own code) trips SQLAlchemy's autoflush warning
        config.addinivalue_line("filterwarnings", "ignore:Object of type:sqlalchemy.exc.SAWarning")


def pytest_collection_modifyitems(session, config, items) -> None:
    """Tests that need the pretend classes (or a quiet process) run last: the classes grade meanwhile."""
    items.sort(key=lambda item: any(name in item.fixturenames for name in _WAIT_FOR_BACKGROUND))


def pytest_collection_finish(session) -> None:
    if session.config.option.collectonly:
        return
    if any("graded_classes" in item.fixturenames for item in session.items):
        _background.start()


def pytest_terminal_summary(terminalreporter) -> None:
    if _background.thread is not None and _background.classes is not None:
        students = sum(len({row.student for row in graded.rows}) for graded in _background.classes.values())
        terminalreporter.write_line(f"pretend classes: {students} students graded in the background "
                                    f"in {_background.seconds:.0f} s")


def pytest_sessionfinish(session, exitstatus) -> None:
    """Remove the pretend classes' course after a clean run; keep it (and say where) after a failure."""
    if _background.thread is None:
        return
    _background.wait()
    if exitstatus == 0:
        shutil.rmtree(_background.folder, ignore_errors=True)
    else:
        print(f"\npretend classes kept for inspection in {_background.folder}")


@pytest.fixture(scope="session")
def graded_classes() -> dict[str, GradedClass]:
    """Every pretend student of every notebook, autograded once (graded in the background, see above)."""
    return _background.result()


@pytest.fixture
def quiet_process() -> None:
    """For a test that turns warnings into errors process-wide: wait until no background grading runs."""
    _background.wait()
