"""nbgrader preprocessors the course configures (see nbgrader_config.py)."""

from __future__ import annotations

import copy
import re

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, DeduplicateIds, Execute, NbGraderPreprocessor

from autograder import launch

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


KERNEL_DIED = "KernelDied"


class SurvivingExecute(Execute):
    """nbgrader's Execute, minus giving up on the whole notebook when a cell kills the kernel.

    ``os._exit``, a segfault or the memory cap kill the kernel; nbgrader then records the
    submission with every cell at zero. Here the cell that killed the kernel gets an error
    output (``KernelDied``), a fresh kernel replays the cells before it (their outputs kept
    from the first run) and execution goes on with the next cell: the notebook is graded
    as far as it goes, and the test cells of that one exercise fail.
    """

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        dead: set[int] = set()
        start: int | None = 0
        while start is not None:
            start = self._run_from(start, dead, resources)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def kernel_started(self, start: int) -> None:
        """Called in each new kernel before any cell runs in it (a hook for subclasses)."""

    def _run_from(self, start: int, dead: set[int], resources) -> int | None:
        """Run cells from ``start`` in a new kernel; the index after a cell that killed it, or None."""
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            self.kernel_started(start)
            for index in range(start):  # rebuild the state the dead kernel had
                if index not in dead and self.nb.cells[index].cell_type == "code":
                    self.execute_cell(copy.deepcopy(self.nb.cells[index]), index, store_history=True)
            for index in range(start, len(self.nb.cells)):
                try:
                    self.preprocess_cell(self.nb.cells[index], resources, index)
                except DeadKernelError:
                    dead.add(index)
                    self.nb.cells[index].outputs.append(NotebookNode(
                        output_type="error", ename=KERNEL_DIED,
                        evalue="the kernel died running this cell (os._exit, a crash, or out of memory)",
                        traceback=[f"{KERNEL_DIED}: the kernel died running this cell (os._exit, a crash, "
                                   "or out of memory); the cells after it ran in a new kernel"]))
                    self.log.warning("Kernel died in cell %d; going on in a new kernel", index)
                    return index + 1
        return None
