"""The executor: runs one sanitized notebook in a fresh kernel, inside the sandbox, and writes it back as data.

``python -m autograder.execute NOTEBOOK (RESULT | --result-fd FD) --cell-timeout SECONDS`` runs in the
sandbox's working directory, which holds that one notebook and the assignment's non-notebook files,
nothing else. It executes with :class:`GuardedExecute` (nbgrader's Execute, surviving kernel deaths, with
the tamper checks of :mod:`autograder.tamper`) and writes ``RESULT``, or the open file ``FD`` it inherited
(a file outside the sandbox's disk cap: a notebook that filled its disk still comes back): the executed
notebook and what was tampered with. Grading (points, the gradebook) happens outside, in the coordinator
(:mod:`autograder.record`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder import notebooks, tamper
from autograder.preprocessors import SurvivingExecute

TAMPERED = "TamperingDetected"


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


FRAMEWORK_IMPORT = re.compile(r"^\s*(import|from)\s+(keras|tensorflow|course)\b", re.MULTILINE)


def uses_framework(nb: NotebookNode) -> bool:
    """Whether the notebook's own cells (not the student's) import Keras, TensorFlow or the course helpers."""
    return any(FRAMEWORK_IMPORT.search(cell.source) for cell in nb.cells
               if cell.cell_type == "code" and not notebooks.nbgrader_meta(cell).get("solution"))


class GuardedExecute(SurvivingExecute):
    """Execute, with a tamper probe before every test cell and a token that only a complete test cell prints.

    After tampering is seen, every later test cell is not run and scores zero (an error output,
    as nbgrader scores a failed test); ``tampering`` says what changed and before which cell.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tampering: list[str] = []
        self.baseline: dict | None = None
        self.watch: tuple[str, ...] = tamper.WATCHED_MODULES

    def preprocess(self, nb, resources=None, km=None):
        self.watch = tamper.watched_modules(uses_framework(nb))
        return super().preprocess(nb, resources, km)

    def _probe(self, index: int, *, baseline: bool = False) -> dict | None:
        token = tamper.new_token()
        probe = nbformat.v4.new_code_cell(tamper.probe_code(token, self.watch, import_modules=baseline))
        index = min(index, len(self.nb.cells) - 1)
        original = self.nb.cells[index]
        try:
            self.execute_cell(probe, index, store_history=False)
        finally:
            self.nb.cells[index] = original  # nbclient stores the cell it ran at that index
        text = "".join(output.get("text", "") for output in probe.outputs
                       if output.get("output_type") == "stream" and output.get("name") == "stdout")
        return tamper.read_probe(text, token)

    def kernel_started(self, start: int) -> None:
        _first_to_go(getattr(getattr(self.km, "provisioner", None), "pid", None))
        self.baseline = self._probe(start, baseline=True)
        if self.baseline is None:
            self.tampering.append("the tamper probe did not run in a fresh kernel")

    def preprocess_cell(self, cell, resources, index):
        if not notebooks.is_autograded_test(cell):
            return super().preprocess_cell(cell, resources, index)
        label = notebooks.grade_id(cell) or f"cell {index}"
        if not self.tampering:
            now = self._probe(index)
            if now is None:
                self.tampering.append(f"the tamper probe did not answer before {label}")
            elif self.baseline is not None:
                self.tampering += [f"{change} before {label}" for change in tamper.compare(self.baseline, now)]
        if self.tampering:
            cell.outputs = [_error(TAMPERED, f"not run: the notebook changed the test machinery "
                                             f"({'; '.join(self.tampering)})")]
            return cell, resources
        token = tamper.new_token()
        original, sent = cell.source, tamper.with_token(cell.source, token)
        try:
            if sent is not None:
                cell.source = sent
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = original
        printed = tamper.strip_token(cell.outputs, token)
        failed = any(output.get("output_type") == "error" for output in cell.outputs)
        if sent is not None and not printed and not failed:
            self.tampering.append(f"{label} did not run to its end")
            cell.outputs.append(_error(TAMPERED, "this test cell did not run to its end"))
        return cell, resources


def _first_to_go(kernel_pid: int | None) -> None:
    """Make the kernel (and every process it starts) what the OOM killer stops first, not this executor.

    When the sandbox reaches its memory cap, the kernel of the cell that did it dies and that cell scores
    zero; the executor, which holds the notebook's results so far, lives on. Raising a process's score
    needs no privilege.
    """
    if kernel_pid:
        try:
            Path(f"/proc/{kernel_pid}/oom_score_adj").write_text("1000")
        except OSError:
            pass


def execute(nb: NotebookNode, workdir: Path, cell_timeout: int) -> tuple[NotebookNode, list[str]]:
    """Run ``nb`` with ``workdir`` as the kernel's working directory; the executed notebook and tampering."""
    executor = GuardedExecute(timeout=cell_timeout, interrupt_on_timeout=True)
    resources = {"metadata": {"path": str(workdir)}}
    executed, _ = executor.preprocess(nb, resources)
    return executed, executor.tampering


def _not_dumpable() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_DUMPABLE = 4
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.execute", description=__doc__)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("result", type=Path, nargs="?")
    parser.add_argument("--result-fd", type=int, help="write the result to this inherited open file instead")
    parser.add_argument("--cell-timeout", type=int, default=300)
    args = parser.parse_args(argv)
    if (args.result is None) == (args.result_fd is None):
        parser.error("give RESULT or --result-fd, one of them")
    if args.result_fd is not None:
        os.set_inheritable(args.result_fd, False)  # the kernel and the student's processes do not get it
    for variable in ("HOME", "MPLCONFIGDIR", "KERAS_HOME", "XDG_CACHE_HOME"):
        if variable in os.environ:
            Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    nb = nbformat.read(args.notebook, as_version=4)
    # The notebook holds every hidden test: gone from the disk before the student's code runs, and this
    # process's memory closed to it (not dumpable: no /proc/PID/mem or ptrace by the same user).
    args.notebook.unlink()
    _not_dumpable()
    executed, tampering = execute(nb, args.notebook.parent.resolve(), args.cell_timeout)
    result = {"notebook": executed, "tampering": tampering, "seconds": time.perf_counter() - started}
    if args.result_fd is not None:
        with os.fdopen(args.result_fd, "w") as out:
            out.write(json.dumps(result))
    else:
        args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
