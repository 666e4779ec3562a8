"""nbgrader preprocessors the course configures (see nbgrader_config.py)."""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, DeduplicateIds, NbGraderPreprocessor

from autograder import launch


class HideHiddenTests(ClearHiddenTests):
    """Feedback preprocessor: drop hidden-test regions and the tracebacks that would quote them.

    nbgrader's feedback shows each test cell as it ran, hidden tests included, and a
    failing hidden assert appears in the traceback.  In grade cells that held hidden
    tests we keep the error's one-line message (our checks word it for students) and
    drop the traceback.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not utils.is_grade(cell) or cell.cell_type != "code":
            return cell, resources
        if self._remove_hidden_test_region(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [
                        f"{output.get('ename', 'Error')}: {output.get('evalue', '')}",
                        "(the details of this test are hidden)",
                    ]
        return cell, resources


class DeduplicateGradeIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, minus its crash on the copies a student made.

    A student who duplicates a graded cell leaves two cells with one grade_id.  nbgrader
    keeps the last and empties the other's ``nbgrader`` metadata to ``{}``, which its own
    schema check then rejects ("old version of the nbgrader metadata format") and the
    whole notebook goes ungraded.  We remove the key instead: the copy becomes an
    ordinary cell.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.get("metadata", {}).get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class AddLaunchCells(NbGraderPreprocessor):
    """Release preprocessor: open each student notebook with its Colab/Binder badges and Colab's install cell.

    Generated from ``[tool.course]`` in pyproject.toml (see :mod:`autograder.launch`), so the
    repository address is written in one place and every badge names its own notebook.
    """

    def preprocess(self, nb, resources):
        pub = launch.publication()
        names = resources["nbgrader"]
        path = f"release/{names['assignment']}/{names['notebook']}.ipynb"
        nb.cells = launch.launch_cells(pub, path) + [
            cell for cell in nb.cells if cell.get("id") not in launch.LAUNCH_CELL_IDS]
        return nb, resources
