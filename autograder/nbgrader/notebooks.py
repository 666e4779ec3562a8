"""Reading nbgrader notebooks: which cells are exercises, tests and answers."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def read(path: Path) -> NotebookNode:
    """Read a notebook as nbformat 4."""
    return nbformat.read(str(path), as_version=4)


def normalized(source: str) -> str:
    """A cell's text with every run of whitespace made one space (to match cells an editor reflowed)."""
    return " ".join(source.split())


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata (empty when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_autograded_test(cell: NotebookNode) -> bool:
    """A code cell whose points the autograder gives (tests, not a manually graded answer)."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_manual(cell: NotebookNode) -> bool:
    """A cell graded by a person (a written answer or a task)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("task")) or (bool(meta.get("grade")) and bool(meta.get("solution")))


def solution_sources(source_nb: NotebookNode) -> dict[str, str]:
    """grade_id -> the solution cell's text with the BEGIN/END SOLUTION marker lines removed."""
    return {
        grade_id(cell): SOLUTION_MARKERS.sub("", cell.source)
        for cell in source_nb.cells
        if nbgrader_meta(cell).get("solution")
    }


def points(nb: NotebookNode) -> dict[str, float]:
    """grade_id -> points of every graded cell."""
    return {grade_id(cell): float(nbgrader_meta(cell).get("points", 0)) for cell in nb.cells
            if nbgrader_meta(cell).get("grade") or nbgrader_meta(cell).get("task")}


def with_cells_replaced(nb: NotebookNode, replacements: dict[str, str]) -> NotebookNode:
    """A copy of ``nb`` whose cells named by grade_id get new source; unknown ids are an error."""
    new = copy.deepcopy(nb)
    by_id = {grade_id(cell): cell for cell in new.cells if grade_id(cell)}
    missing = sorted(set(replacements) - set(by_id))
    if missing:
        raise KeyError(f"no cells with grade_id {missing}")
    for key, text in replacements.items():
        by_id[key].source = text
    return new


def solved(release_nb: NotebookNode, source_nb: NotebookNode) -> NotebookNode:
    """The release notebook with every solution cell filled in from the source notebook."""
    return with_cells_replaced(release_nb, solution_sources(source_nb))


def hidden_regions(nb: NotebookNode) -> list[str]:
    """The grade_ids of cells that still contain hidden-test markers."""
    return [grade_id(cell) or f"cell {i}" for i, cell in enumerate(nb.cells)
            if any(marker in cell.source for marker in HIDDEN_MARKERS)]
