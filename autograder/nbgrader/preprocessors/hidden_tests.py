"""Feedback preprocessor: a failed hidden test shows its one-line message, never its code.
"""

from __future__ import annotations

import re

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

HIDDEN_NOTE = "(the details of this test are hidden)"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FAILED_LINE = re.compile(r"^(?:Cell In\[\d+\], line (\d+)|-+> ?(\d+))", re.MULTILINE)


def hidden_lines(source: str) -> set[int]:
    """The 1-based line numbers of ``source`` between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        if inside:
            lines.add(number)
        if "END HIDDEN TESTS" in line:
            inside = False
    return lines


def failed_line(traceback: list[str]) -> int | None:
    """The line of the cell that raised, from IPython's traceback ("Cell In[3], line 2" or "----> 2"), if shown."""
    match = _FAILED_LINE.search(_ANSI.sub("", "\n".join(traceback)))
    return int(match[1] or match[2]) if match else None


class HideHiddenTests(ClearHiddenTests):
    """Feedback preprocessor: drop hidden-test regions and the tracebacks that would quote them.

    nbgrader's feedback shows each test cell as it ran, hidden tests included, and a
    failing hidden assert appears in the traceback.  In grade cells that held hidden
    tests we keep the error's one-line message (our checks word it for students) and
    drop the traceback; a note says the details are hidden when the line that failed
    was a hidden one (or cannot be told), not when a visible check failed.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not utils.is_grade(cell) or cell.cell_type != "code":
            return cell, resources
        hidden = hidden_lines(cell.source)
        if self._remove_hidden_test_region(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    line = failed_line(output.get("traceback", []))
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
                    if line is None or line in hidden:
                        output["traceback"].append(HIDDEN_NOTE)
        return cell, resources
