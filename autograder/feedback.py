"""What students get back must not reveal the hidden tests."""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests


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
