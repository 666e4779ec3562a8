"""Every hidden test is itself tested, through `grade` (the pipeline instructors run: the judge, in the sandbox).

For each notebook: the solution gets full marks, the blank release zero, each plausible
wrong solution loses exactly the points of its exercise, other correct solutions get full
marks, and broken notebooks (a cell that raises, deleted or duplicated cells) are graded
as far as they go.
"""

from __future__ import annotations

import html
import re

import pytest

from autograder.nbgrader import notebooks
from autograder.nbgrader.commands import nbgrader
from autograder.nbgrader.preprocessors.hidden_tests import failed_line, hidden_lines
from tests.conftest import SUBMISSION_MODULES, packed_wrong_solutions

pytestmark = pytest.mark.notebooks

HIDDEN_REGION = r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS"
ASSIGNMENTS = [name.rsplit(".", 1)[-1] for name in SUBMISSION_MODULES]


@pytest.fixture(params=SUBMISSION_MODULES, ids=ASSIGNMENTS)
def graded(request, graded_classes):
    spec = __import__(request.param, fromlist=["ASSIGNMENT"])
    return graded_classes[spec.ASSIGNMENT]


def _lost(scores: dict[str, tuple[float, float]]) -> dict[str, float]:
    return {cell: maximum - score for cell, (score, maximum) in scores.items() if score < maximum}


def _tests_of(spec, exercise: str) -> set[str]:
    return set(spec.EXERCISES[exercise])


def test_solution_gets_full_marks(graded):
    scores = graded.cell_scores("solution")
    assert scores, "the solution was not graded"
    assert _lost(scores) == {}


def test_blank_release_gets_zero(graded):
    scores = graded.cell_scores("blank")
    assert scores and all(score == 0 for score, _ in scores.values()), scores


def test_every_exercise_has_three_wrong_solutions(graded):
    spec = graded.spec
    for exercise in spec.EXERCISES:
        count = sum(cell == exercise for cell, _ in spec.WRONG.values())
        assert count >= 3, f"{exercise} has {count} wrong solutions; at least 3 are needed"


def test_wrong_solutions_lose_exactly_their_exercise(graded):
    """Each wrong solution costs its exercise's test cells all their points, and no other cell any."""
    spec = graded.spec
    problems = []
    for index, row in enumerate(packed_wrong_solutions(spec)):
        scores = graded.cell_scores(f"wrong-{index}")
        assert scores, f"wrong-{index} was not graded"
        lost = _lost(scores)
        wronged_tests = {test for exercise in row for test in _tests_of(spec, exercise)}
        for exercise, name in row.items():
            for test in _tests_of(spec, exercise):
                if lost.get(test) != scores[test][1]:
                    problems.append(f"{name}: {test} lost {lost.get(test, 0)} of {scores[test][1]} points")
        for test in set(lost) - wronged_tests:
            problems.append(f"wrong-{index} ({', '.join(row.values())}) lost {lost[test]} points in {test}")
    assert not problems, "\n".join(problems)


def test_other_correct_solutions_get_full_marks(graded):
    for name in graded.spec.RIGHT:
        assert _lost(graded.cell_scores(f"right-{name}")) == {}, name


def test_partial_answers_earn_exactly_their_tiers(graded):
    """Each partial repair of a tiered exercise earns the points listed in TIERS, every other cell full marks."""
    spec = graded.spec
    if not getattr(spec, "PARTIAL", None):
        pytest.skip("no exercise of this notebook is graded in tiers")
    assert set(spec.PARTIAL) == set(spec.TIERS), "every partial answer needs its expected tiers, and only those"
    problems = []
    for name, expected in spec.TIERS.items():
        scores = graded.cell_scores(f"partial-{name}")
        assert scores, f"partial-{name} was not graded"
        assert set(expected) <= set(scores), f"{name}: TIERS names cells the notebook lacks"
        for cell, (score, maximum) in scores.items():
            if score != expected.get(cell, maximum):
                problems.append(f"{name}: {cell} got {score} of {maximum}, expected {expected.get(cell, maximum)}")
    assert not problems, "\n".join(problems)


def test_tiers_are_reachable_one_by_one(graded):
    """The partial answers climb the tiers: for each test cell of the tiered exercise, one earns it, one misses it."""
    spec = graded.spec
    if not getattr(spec, "TIERS", None):
        pytest.skip("no exercise of this notebook is graded in tiers")
    cells = {cell for expected in spec.TIERS.values() for cell in expected}
    for cell in sorted(cells):
        earned = {expected[cell] > 0 for expected in spec.TIERS.values()}
        assert earned == {True, False}, f"no partial answer {'misses' if True in earned else 'earns'} {cell}"


def _needs_bad_input(spec):
    if not getattr(spec, "BAD_INPUT", False):
        pytest.skip("broken-structure submissions are graded for one notebook only")


def test_an_exercise_that_raises_or_is_deleted_costs_only_that_exercise(graded):
    spec = graded.spec
    _needs_bad_input(spec)
    first, second = list(spec.EXERCISES)[:2]
    scores = graded.cell_scores("raises-and-deleted-exercise")
    assert set(_lost(scores)) == _tests_of(spec, first) | _tests_of(spec, second)


def test_deleted_or_duplicated_test_cells_are_restored_and_counted_once(graded):
    _needs_bad_input(graded.spec)
    assert graded.cell_scores("deleted-and-duplicated-tests") == graded.cell_scores("solution")


def _code_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) > 25}


def test_feedback_hides_hidden_tests(graded):
    """A student whose hidden test failed gets its message, not its code or traceback."""
    spec = graded.spec
    last = list(spec.EXERCISES)[-1]
    student = next(f"wrong-{index}" for index, row in enumerate(packed_wrong_solutions(spec)) if last in row)
    shard = graded.autograded_dir(student)
    nbgrader(["generate_feedback", spec.ASSIGNMENT, "--student", student, "--force"], cwd=shard)
    page = next((shard / "feedback" / student / spec.ASSIGNMENT).glob("*.html")).read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the page as a reader sees it

    source = notebooks.read(graded.course / "source" / spec.ASSIGNMENT / spec.NOTEBOOK)
    hidden, visible, elsewhere = set(), set(), set()
    for cell in source.cells:
        regions = re.findall(HIDDEN_REGION, cell.source, re.S)
        hidden |= {line for region in regions for line in _code_lines(region)}
        rest = _code_lines(re.sub(HIDDEN_REGION, "", cell.source, flags=re.S))
        elsewhere |= rest
        if regions:
            visible |= rest
    hidden -= elsewhere  # a line students can see anyway (in a solution, say) proves nothing
    assert hidden and visible
    # The search works: the visible test code is on the page ...
    assert any(line in text for line in visible), "visible test code not found: the search is broken"
    # ... and no hidden line, marker or traceback is.
    assert "HIDDEN TESTS" not in text
    leaked = sorted(line for line in hidden if line in text)
    assert not leaked, f"hidden-test code reached the feedback: {leaked[:3]}"
    # The note that details are hidden stands under a test cell when the line that failed was a hidden one.
    autograded = notebooks.read(shard / "autograded" / student / spec.ASSIGNMENT / spec.NOTEBOOK)
    hidden_failed = any(
        (line := failed_line(output.get("traceback", []))) is None or line in hidden_lines(cell.source)
        for cell in autograded.cells if notebooks.is_autograded_test(cell)
        for output in cell.get("outputs", []) if output.get("output_type") == "error")
    assert ("the details of this test are hidden" in text) == hidden_failed
    # Every notebook has an explorer: static HTML cannot draw it, so a note stands in its place.
    assert "interactive explorer: open the notebook in JupyterLab to use it" in text


def test_solution_runs_without_a_single_error(graded):
    """Not only the test cells: every cell of the solution runs clean, top to bottom."""
    notebook_path = (graded.autograded_dir("solution") / "autograded" / "solution" / graded.spec.ASSIGNMENT
                     / graded.spec.NOTEBOOK)
    errors = [(index, output.get("ename"), output.get("evalue"))
              for index, cell in enumerate(notebooks.read(notebook_path).cells)
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert errors == []


def test_every_exercise_is_covered(graded):
    """Every solution cell of the notebook is either an exercise with wrong solutions or a manual answer."""
    source = notebooks.read(graded.course / "source" / graded.spec.ASSIGNMENT / graded.spec.NOTEBOOK)
    solution_cells = {notebooks.grade_id(cell) for cell in source.cells
                      if notebooks.nbgrader_meta(cell).get("solution") and not notebooks.is_manual(cell)}
    assert solution_cells == set(graded.spec.EXERCISES)


# The two students who deleted cells meet nbgrader's own handling (a NameError where a definition is gone).
_STRUCTURALLY_BROKEN = {"raises-and-deleted-exercise", "deleted-and-duplicated-tests"}


def _test_cell_failures(graded, student: str) -> list[tuple[str, str, str]]:
    """(grade_id, ename, evalue) of each error a test cell of ``student``'s autograded notebook shows."""
    path = graded.autograded_dir(student) / "autograded" / student / graded.spec.ASSIGNMENT / graded.spec.NOTEBOOK
    failures = []
    for cell in notebooks.read(path).cells:
        meta = notebooks.nbgrader_meta(cell)
        if not (meta.get("grade") and cell.cell_type == "code"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                failures.append((meta.get("grade_id"), output.get("ename", ""), output.get("evalue", "")))
    return failures


def test_every_test_failure_is_a_sentence(graded):
    """Every failure a test cell shows a student is a check's message: no bare exception, no numpy repr."""
    students = sorted({row.student for row in graded.rows} - _STRUCTURALLY_BROKEN)
    seen, bad = 0, []
    for student in students:
        for grade_id, ename, evalue in _test_cell_failures(graded, student):
            seen += 1
            words = re.findall(r"[A-Za-z]+", evalue)
            if ename != "AssertionError" or len(words) < 4 or "np.float64(" in evalue or "np.float32(" in evalue:
                bad.append(f"{student} {grade_id}: {ename}: {evalue[:200]}")
    assert seen, "no test cell failed in this class: the blank and wrong students should fail some"
    assert not bad, "test failures that are not sentences:\n" + "\n".join(bad)
