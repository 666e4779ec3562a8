"""A tiny nbgrader course for testing the grading machinery: two exercises, no TensorFlow.

Grading one student takes seconds (a kernel start), so the battery of bad submissions can be
large. ``build(root)`` writes the course (config and header copied from the real course) and
generates its release with stock nbgrader.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import REPO_ROOT
from autograder.nbgrader.commands import nbgrader

ASSIGNMENT, NOTEBOOK = "99_tiny", "99_tiny.ipynb"
# CI (COURSE_REQUIRE_SANDBOX=1) grades every pretend student in bubblewrap, or fails; elsewhere, where it works.
GRADING_SANDBOX = "bwrap" if os.environ.get("COURSE_REQUIRE_SANDBOX") else "auto"
POINTS = {"ex1-tests": 2.0, "ex2-tests": 3.0}  # test cell -> points
SOLUTION = {
    "ex1-add": "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
    "ex2-mean": "def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION",
}
TESTS = {
    "ex1-tests": '"""add adds."""\nassert add(1, 2) == 3, f"add(1, 2) gave {add(1, 2)}"\n'
                 "### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0\n### END HIDDEN TESTS",
    "ex2-tests": '"""mean averages."""\nassert mean([1, 2, 3]) == 2\n'
                 "### BEGIN HIDDEN TESTS\nassert mean([0.5]) == 0.5\n### END HIDDEN TESTS",
}


def _meta(grade_id: str, **flags) -> dict:
    base = {"schema_version": 3, "grade": False, "solution": False, "locked": False, "task": False,
            "grade_id": grade_id}
    return {"nbgrader": base | flags}


def source_notebook(tests: dict[str, str] = TESTS) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# Tiny\nTwo exercises.", id="tiny-title"),
             new_code_cell("import math", id="tiny-setup")]
    for (solution_id, solution), (tests_id, test) in zip(SOLUTION.items(), tests.items(), strict=True):
        cells.append(new_code_cell(solution, id=solution_id, metadata=_meta(solution_id, solution=True)))
        cells.append(new_code_cell(test, id=tests_id, metadata=_meta(tests_id, grade=True, locked=True,
                                                                       points=POINTS[tests_id])))
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                  "name": "python3"}, "language_info": {"name": "python"}}
    return nb


def build(root: Path, tests: dict[str, str] = TESTS) -> Path:
    """A course directory at ``root`` holding the tiny assignment (with these test cells), released."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copy(REPO_ROOT / "source" / "header.ipynb", root / "source" / "header.ipynb")
    nbformat.write(source_notebook(tests), root / "source" / ASSIGNMENT / NOTEBOOK)
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=root)
    return root


def release(root: Path) -> nbformat.NotebookNode:
    return nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)


def with_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the release ``nb`` with the exercise cells ``answers`` (grade id -> code) filled in."""
    new = nbformat.from_dict(nb)
    for cell in new.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return new


HONEST = {"ex1-add": "def add(a, b):\n    return a + b",
          "ex2-mean": "def mean(xs):\n    return sum(xs) / len(xs)"}
