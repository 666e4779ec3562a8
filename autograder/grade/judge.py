"""The judge: runs one notebook across two kernels, so that no verdict is computed where student code ran.

- The **student kernel** (sandboxed, a user id of its own) runs every cell of the student's notebook but the test
  cells: the student's answers and the instructor's cells as the student's copy has them. It never receives a
  test cell.
- The **grader kernel** (sandboxed, another user id) never runs a line of the student's notebook: it follows the
  instructor's notebook (:mod:`autograder.grade.plan`): the instructor's cells the tests need, in ``source/``'s
  version, and the test cells, hidden parts included. After each answer cell, the names the instructor's
  solution of that cell defines are bound there as data or as proxies of the student's functions
  (:mod:`autograder.grade.proxy`). It keeps pace with the student's notebook: it runs the plan up to the cell
  the student's kernel runs (an instructor's cell both share runs on both at once).
- **This process** (the grading process, a third user id; outside both sandboxes) drives both kernels and is
  the channel between them: a proxy's call reaches it on a Unix socket only the grader kernel's sandbox sees;
  it runs the call in the student kernel (time-limited), reads the answer as an opaque message and hands it back.
  The executed notebook is built here, in this process's memory: the test cells' outputs are what the grader
  kernel printed, the other cells' what the student kernel printed. No file either kernel can write is read.

The outputs a student's function prints while the grader calls it are dropped. A kernel that dies is restarted
and its earlier cells replayed (their outputs kept from the first run), so one crash costs one cell.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.grade import caps, channel, codec, student_side
from autograder.grade import sandbox as sandboxes
from autograder.grade.kernels import KERNEL_DIED, TIMED_OUT, Kernel, error_output
from autograder.grade.plan import ANSWER, INSTRUCTOR, TEST, GraderPlan
from autograder.nbgrader import notebooks

STUDENT, GRADER = "student", "grader"


def role(cell: NotebookNode) -> str | None:
    """Where a cell of the student's notebook runs: the test cells in the grader's kernel, the others (answers,
    the instructor's cells, cells the student added) in the student's."""
    if cell.cell_type != "code":
        return None
    return GRADER if notebooks.is_autograded_test(cell) else STUDENT


@dataclass
class Judged:
    notebook: NotebookNode
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Side:
    """A kernel and the code it has run (replayed, silently, in a fresh kernel after a crash).

    ``between`` serves the grader kernel's requests while it runs (its setup connects, its replayed cells call
    the student's functions again); None for the student's kernel.
    """

    def __init__(self, kernel: Kernel, setup: list[str], between: Callable[[], float] | None = None):
        self.kernel, self.setup, self.between, self.history = kernel, setup, between, []

    def start(self, timeout: float) -> None:
        self.kernel.start()
        for code in self.setup:
            self.kernel.run(code, timeout=timeout, store_history=False, between=self.between)

    def revive(self, timeout: float) -> None:
        """A fresh kernel that has run what this one had (outputs dropped)."""
        self.kernel.stop()
        self.start(timeout)
        for code in self.history:
            self.kernel.run(code, timeout=timeout, between=self.between)


def _student_setup() -> str:
    sources = {"_judge_codec": Path(codec.__file__).read_text(), "_judge": Path(student_side.__file__).read_text()}
    return ("import sys as _sys, types as _types\n"
            f"for _name, _source in {sources!r}.items():\n"
            "    _module = _types.ModuleType(_name)\n"
            "    _sys.modules[_name] = _module\n"
            "    exec(compile(_source, _name, 'exec'), _module.__dict__)\n"
            "import _judge\n"
            "del _sys, _types, _name, _source, _module\n")


class Judge:
    """Runs one notebook; see the module's docstring."""

    def __init__(self, nb: NotebookNode, files: dict[str, bytes], plan: GraderPlan, *,
                 box: sandboxes.Sandbox, limits, name: str = "notebook"):
        self.nb, self.files, self.plan, self.box, self.limits, self.name = nb, files, plan, box, limits, name
        self.next_step = 0  # the grader kernel's place in the plan
        self.cell_timeout, self.timeout = limits.cell_timeout, limits.timeout
        self.problems: list[str] = []
        self.notes: list[str] = []  # where a cap is weaker than it should be (no control group, no tmpfs)
        self.server: socket.socket | None = None
        self.connection: socket.socket | None = None

    # --- the run ---------------------------------------------------------------------------------------

    def run(self) -> Judged:
        limits = self.limits
        with ExitStack() as stack:
            kernels = {}
            for side in ("student", "grader"):
                space = stack.enter_context(sandboxes.space(limits.disk_mb, prefix=f"judge-{side}-"))
                for name, data in self.files.items():
                    (space.work / name).parent.mkdir(parents=True, exist_ok=True)
                    (space.work / name).write_bytes(data)
                group, why = caps.group_for(limits)
                if group is not None:
                    stack.callback(group.remove)
                self.notes += [note for note in caps.fallback_notes(limits, space, why) if note not in self.notes]
                processes = limits.processes + (caps.PROCESS_MARGIN if group else 0)
                kernel = Kernel(self.box, space, uid=stack.enter_context(sandboxes.user_id()), group=group,
                                limits_preexec=sandboxes.preexec(processes, limits.file_mb),
                                packages=("course",) if side == "student" else ("autograder", "course"))
                stack.callback(kernel.stop)
                kernels[side] = kernel
            student, grader = kernels["student"], kernels["grader"]
            socket_path = grader.space.out / "judge.sock"
            inside = f"{sandboxes.RESULT_DIR}/judge.sock" if self.box.sandboxed else str(socket_path)
            self.student = _Side(student, [_student_setup()])
            self.grader = _Side(grader, [f"import autograder.grade.proxy as _judge_proxy\n"
                                         f"_judge_proxy.connect({inside!r})\n"], between=self._serve)
            watch = stack.enter_context(_Watch(list(kernels.values()), limits, self.problems, self.name))
            self._listen(socket_path, grader.uid)
            stack.callback(self._close)
            self.student.start(self.cell_timeout)
            self.grader.start(self.cell_timeout)
            self._run_cells()
            watch.close()
            for kernel in kernels.values():
                if kernel.group is not None:
                    self.problems += caps.caps_reached(kernel.group, limits, self.name)
                disk = watch.disks[id(kernel)]
                if disk.full or caps.out_of_space(self.nb):
                    self.problems.append(disk.problem(self.name, kernel.space))
        return Judged(self.nb, list(dict.fromkeys(self.problems)), self.notes)

    def _run_cells(self) -> None:
        """The student's notebook in its order; the grader kernel follows the plan, up to where the student is."""
        started = time.monotonic()
        for index, cell in enumerate(self.nb.cells):
            kind = role(cell)
            if kind is None:
                continue
            label = notebooks.grade_id(cell) or cell.get("id") or f"cell {index}"
            if time.monotonic() - started > self.timeout:
                if kind == GRADER:
                    cell.outputs = [error_output("TimeoutError", "not run: grading took longer than "
                                                                 f"{self.timeout:g} s and was stopped")]
                continue
            if kind == GRADER:
                at = self.plan.position(TEST, label)
                self._grader_to(at - 1 if at is not None else self.next_step - 1)
                cell.outputs = self._on(self.grader, cell.source, label)
                if at is not None:
                    self.next_step = max(self.next_step, at + 1)
                continue
            answer = self.plan.position(ANSWER, notebooks.grade_id(cell))
            if answer is not None:
                cell.outputs = self._on(self.student, cell.source, label)
                self._grader_to(answer)
                continue
            on_student = self.student.kernel.submit(cell.source, timeout=self.cell_timeout)
            self._grader_to(self.plan.position(INSTRUCTOR, cell.get("id")), alongside=on_student)
            while not on_student.step(0.05):
                pass
            cell.outputs = self._after(self.student, cell.source, label, on_student.outputs)
        if time.monotonic() - started > self.timeout:
            self.problems.append(f"timed out: grading took longer than {self.timeout:g} s and was stopped")

    def _grader_to(self, last: int | None, alongside=None) -> None:
        """The grader kernel runs the plan's steps up to ``last`` it has not run: the instructor's cells the tests
        need, and the names of each answer cell (test cells run where the student's notebook has them). With
        ``alongside`` (a student's cell in flight) the grader's requests wait until that cell has finished."""
        while last is not None and self.next_step <= last:
            step = self.plan.steps[self.next_step]
            self.next_step += 1
            if step.kind == INSTRUCTOR and step.code:
                code = step.code
            elif step.kind == ANSWER and step.exports:
                code = f"_judge_proxy.define({step.key!r})"
            else:
                continue
            on_grader = self.grader.kernel.submit(code, timeout=self.cell_timeout)
            student_done = alongside is None or alongside.done
            while not on_grader.step(0.01):
                if not student_done:
                    student_done = alongside.step(0.01)
                if student_done:
                    on_grader.deadline += self._serve()
            self._after(self.grader, code, step.key, on_grader.outputs)

    def _on(self, side: _Side, code: str, label: str, *, record: bool = True) -> list[NotebookNode]:
        """Run ``code`` on one side; a crash or a stuck kernel costs this cell and the kernel is revived."""
        outputs = side.kernel.run(code, timeout=self.cell_timeout, between=side.between)
        return self._after(side, code, label, outputs, record=record)

    def _after(self, side: _Side, code: str, label: str, outputs: list[NotebookNode], *,
               record: bool = True) -> list[NotebookNode]:
        # the row's words for a cell that killed its kernel or ran out of time come from its error output
        failed = {output.get("ename") for output in outputs if output.get("output_type") == "error"}
        if KERNEL_DIED in failed or not side.kernel.alive():
            side.revive(self.cell_timeout)  # the cells before this one, not this one
            return outputs
        if record:
            side.history.append(code)
        return outputs

    # --- the channel -----------------------------------------------------------------------------------

    def _listen(self, path: Path, uid: int | None) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        os.chmod(path, 0o666)
        if uid is not None:
            os.chown(path, uid, uid)
        self.server.listen(4)
        self.server.setblocking(False)

    def _close(self) -> None:
        for sock in (self.connection, self.server):
            if sock is not None:
                sock.close()

    def _serve(self) -> float:
        """Answer a request the grader kernel has sent (called while the judge waits on it); the seconds spent."""
        readable, _, _ = select.select([self.server] + ([self.connection] if self.connection else []), [], [], 0)
        if self.server in readable:
            connection, _ = self.server.accept()
            connection.setblocking(True)
            if self.connection is not None:
                self.connection.close()  # a new connection (a restarted or interrupted grader) replaces the old
            self.connection = connection
            return 0.0
        if self.connection is None or self.connection not in readable:
            return 0.0
        started = time.monotonic()
        try:
            envelope = json.loads(channel.receive(self.connection, max_bytes=1 << 16))
            body = channel.receive(self.connection)
            answer = self._answer(envelope, body)
            channel.send(self.connection, answer)
        except (OSError, ValueError, codec.Refused):  # the grader kernel hung up (interrupted while it waited)
            self.connection.close()
            self.connection = None
        return time.monotonic() - started

    def _answer(self, envelope: dict, body: bytes) -> bytes:
        """The student kernel's answer to one request, as an opaque codec message (never decoded here)."""
        op = envelope.get("op") if isinstance(envelope, dict) else None
        if op == "exports" and isinstance(envelope.get("cell"), str):
            names = self.plan.exports(envelope["cell"])
            code, what = f"_judge.export({names!r})", f"reading {', '.join(names) or 'nothing'}"
        elif op == "call":
            text = base64.b64encode(body).decode("ascii")
            code, what = f"_judge.call({text!r})", f"calling {envelope.get('name', 'a function')!s:.80}"
        else:
            return _failed("the grader kernel sent a request the judge does not know")
        outputs = self.student.kernel.run(code, timeout=self.cell_timeout, store_history=False)
        errors = {output.get("ename") for output in outputs if output.get("output_type") == "error"}
        if KERNEL_DIED in errors or not self.student.kernel.alive():
            self.student.revive(self.cell_timeout)
            reason = "stopped the kernel (it crashed or passed the memory cap)" if KERNEL_DIED in errors \
                else f"did not finish within {self.cell_timeout:g} s"
            self.problems.append(f"{self.name}: {what}: the student's code {reason}")
            return _failed(f"{what}: the student's code {reason}")
        if TIMED_OUT in errors:
            self.problems.append(f"{self.name}: {what}: the student's code did not finish within "
                                 f"{self.cell_timeout:g} s")
            return _failed(f"{what}: the student's code did not finish within {self.cell_timeout:g} s")
        answers = [output for output in outputs if output.get("output_type") == "display_data"
                   and student_side.MIME in output.get("data", {})]
        if not answers:
            return _failed(f"{what}: the student's kernel gave no answer (was the judge's helper replaced?)")
        try:
            return base64.b64decode(answers[-1]["data"][student_side.MIME], validate=True)
        except (ValueError, TypeError):
            return _failed(f"{what}: the student's kernel answered in a format the grader does not read")


def _failed(sentence: str) -> bytes:
    return codec.to_bytes(codec.encode({"failed": sentence}))


class _Watch:
    """Every 0.2 s, for each kernel: stop a process past the memory cap; see how full its space is (and where no
    tmpfs caps it, stop the kernel when its folders pass the disk cap)."""

    def __init__(self, kernels: list[Kernel], limits, problems: list[str], name: str):
        self.kernels, self.limits, self.problems, self.name = kernels, limits, problems, name
        self.disks = {id(kernel): caps.Disk() for kernel in kernels}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(0.2):
            for kernel in self.kernels:
                process, disk = kernel.process, self.disks[id(kernel)]
                if process is None:
                    continue
                if self.limits.memory_mb:
                    caps.kill_large(process.pid, self.limits.memory_mb, self.problems)
                disk.see(kernel.space)
                if not kernel.space.mounted and disk.peak_mb > self.limits.disk_mb and not disk.stopped:
                    disk.stopped = True
                    self.problems.append(f"{self.name}: disk cap: the working folder held {disk.peak_mb:.0f} MB "
                                         f"(cap {self.limits.disk_mb} MB) and the kernel was stopped")
                    caps.kill_tree(process)

    def __enter__(self):
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        for kernel in self.kernels:
            self.disks[id(kernel)].see(kernel.space)

    def __exit__(self, *exc) -> None:
        self.close()


def judge_notebook(content: bytes, files: dict[str, bytes], plan: GraderPlan, *,
                   box: sandboxes.Sandbox, limits, name: str = "notebook") -> Judged:
    """Run a sanitized notebook (bytes) with the judge; the executed notebook, the problems seen, the notes."""
    nb = nbformat.reads(content.decode("utf-8"), as_version=4)
    return Judge(nb, files, plan, box=box, limits=limits, name=name).run()
