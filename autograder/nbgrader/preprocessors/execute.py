"""Execute preprocessor for ``nbgrader autograde`` run by hand: a cell that kills the kernel costs that cell only.

``python -m autograder grade`` does not execute with it (the judge runs each notebook: :mod:`autograder.grade.judge`);
the name of the error a dead kernel leaves, ``KernelDied``, is shared by both.
"""

from __future__ import annotations

import copy

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

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
