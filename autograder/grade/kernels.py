"""One Jupyter kernel in a sandbox of its own, driven by the judge: start, run code, collect outputs, interrupt.

The kernel is ``python -m ipykernel_launcher`` inside bubblewrap (:mod:`autograder.grade.sandbox`), as a user id of
its own when grading runs as root, with no network: it talks to the judge over ZMQ's ``ipc`` transport, Unix
sockets in a folder that only its own sandbox and the judge see. Outputs are collected as nbformat outputs, as
nbclient would write them; a cell that runs past its time limit is interrupted (``CellTimeoutError``), one whose
kernel dies gets a ``KernelDied`` error.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from nbformat import NotebookNode
from nbformat.v4 import output_from_msg

from autograder.grade import sandbox as sandboxes
from autograder.nbgrader.preprocessors.execute import KERNEL_DIED  # the name nbgrader's own path writes too

TIMED_OUT = "CellTimeoutError"  # nbclient's name for it, which the row's wording reads


def kernel_command(box: sandboxes.Sandbox, space: sandboxes.Space, argv_tail: list[str], *,
                   uid: int | None, packages: tuple[str, ...]) -> tuple[list[str], dict]:
    """argv and Popen keywords that run a kernel in ``box``: ``space.work`` as its working folder, ``space.out``
    for its sockets (``/grader`` inside bubblewrap), ``space``'s tmp and shm as ``/tmp`` and ``/dev/shm``."""
    if box.sandboxed:
        sandboxes._share(uid, space.work, space.out)
        argv = sandboxes.bwrap_arguments(space.work, space.out, as_uid=uid, space=space, packages=packages)
        argv += argv_tail
        return argv, {"env": {}, "cwd": str(space.work)}
    env = sandboxes.environment(python_path=os.pathsep.join(
        str(path.parent) for name, path in sandboxes._packages().items() if name in packages))
    for name, folder in (("HOME", "home"), ("MPLCONFIGDIR", "matplotlib"), ("KERAS_HOME", "keras"),
                         ("XDG_CACHE_HOME", "cache")):
        env[name] = str(space.out / folder)
    return argv_tail, {"env": env, "cwd": str(space.work)}


def kill_tree(process: subprocess.Popen) -> None:
    """Kill a kernel's sandbox and everything in it (its PID namespace dies with it), then reap it."""
    from autograder.grade.caps import kill_tree

    kill_tree(process)


def error_output(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


class Kernel:
    """A sandboxed kernel in ``space`` (its working folder, its sockets' folder, its /tmp and /dev/shm), in the
    control ``group`` when there is one (the group outlives a restart: the caps hold for the whole notebook)."""

    def __init__(self, box: sandboxes.Sandbox, space: sandboxes.Space, *, uid: int | None,
                 group=None, limits_preexec: Callable[[], None] | None = None,
                 packages: tuple[str, ...] = ("autograder", "course")):
        self.box, self.space, self.uid, self.group, self.packages = box, space, uid, group, packages
        self.workdir, self.conndir = space.work, space.out
        self.limits_preexec = limits_preexec
        self.process: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self.log = tempfile.TemporaryFile(mode="w+")

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> None:
        inside = sandboxes.RESULT_DIR if self.box.sandboxed else str(self.conndir)
        for stale in self.conndir.glob("kernel*"):
            stale.unlink()
        connection = self.conndir / "kernel.json"
        write_connection_file(str(connection), transport="ipc", ip=f"{inside}/kernel", shell_port=1, iopub_port=2,
                              stdin_port=3, control_port=4, hb_port=5, key=os.urandom(16).hex().encode())
        info = json.loads(connection.read_text())
        argv_tail = [sys.executable, "-m", "ipykernel_launcher", "-f", f"{inside}/kernel.json",
                     "--HistoryManager.hist_file=:memory:", "--IPKernelApp.parent_handle=0"]
        argv, options = kernel_command(self.box, self.space, argv_tail, uid=self.uid, packages=self.packages)
        if self.group is not None:
            argv = self.group.wrap(argv)
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=self.limits_preexec, **options)
        info["ip"] = str(self.conndir / "kernel")  # the same sockets, as the judge sees them
        self.client = BlockingKernelClient()
        self.client.load_connection_info(info)
        started = time.monotonic()
        while not all((self.conndir / f"kernel-{info[port]}").exists()
                      for port in ("shell_port", "iopub_port", "control_port")):
            if self.process.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"the kernel did not start: {self.last_log_line()}")
            time.sleep(0.05)
        self.client.start_channels()
        self.client.wait_for_ready(timeout=max(1.0, timeout - (time.monotonic() - started)))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if self.process is not None:
            kill_tree(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def last_log_line(self) -> str:
        self.log.seek(0)
        lines = [line for line in self.log.read().splitlines() if line.strip()]
        return lines[-1][-300:] if lines else "no output"

    def interrupt(self) -> None:
        if self.client is not None and self.alive():
            self.client.control_channel.send(self.client.session.msg("interrupt_request", {}))

    # --- running code ----------------------------------------------------------------------------------

    def submit(self, code: str, *, timeout: float, store_history: bool = True) -> Execution:
        """Start running ``code``; step the returned :class:`Execution` until it is done."""
        assert self.client is not None
        msg_id = self.client.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False)
        return Execution(self, msg_id, timeout)

    def run(self, code: str, *, timeout: float, between: Callable[[], None] | None = None,
            store_history: bool = True) -> list[NotebookNode]:
        """Run ``code``; its outputs (an error output when it timed out or killed the kernel).

        ``between`` is called while waiting (the judge serves the grader kernel's requests there); the seconds it
        returns (spent running the student's code) extend this cell's time limit: each call has its own.
        """
        execution = self.submit(code, timeout=timeout, store_history=store_history)
        while not execution.step():
            if between is not None:
                execution.deadline += between() or 0.0  # time spent in the other kernel is not this cell's
        return execution.outputs


class Execution:
    """One execute request in flight: :meth:`step` reads what has arrived; ``outputs`` once it is done."""

    def __init__(self, kernel: Kernel, msg_id: str, timeout: float):
        self.kernel, self.msg_id, self.timeout = kernel, msg_id, timeout
        self.outputs: list[NotebookNode] = []
        self.deadline = time.monotonic() + timeout
        self.interrupted_at: float | None = None
        self.clear_pending = self.replied = self.idle = self.done = False

    def step(self, wait: float = 0.02) -> bool:
        """Read the messages that have arrived (waiting at most ``wait`` s); whether the execution is over."""
        if self.done:
            return True
        kernel, client = self.kernel, self.kernel.client
        if client is None or not kernel.alive():
            self.outputs.append(error_output(KERNEL_DIED, "the kernel died while running this cell (it crashed, "
                                                          "called os._exit, or passed the memory cap)"))
            self.done = True
            return True
        now = time.monotonic()
        if now > self.deadline and self.interrupted_at is None:
            kernel.interrupt()
            self.interrupted_at = now
        if self.interrupted_at is not None and now - self.interrupted_at > 10:  # the interrupt did not stop it
            kernel.stop()
            self.outputs.append(error_output(TIMED_OUT, f"the cell did not finish within {self.timeout:g} s"))
            self.done = True
            return True
        try:
            message = client.get_iopub_msg(timeout=wait)
        except queue.Empty:
            message = None
        while message is not None:
            if message["parent_header"].get("msg_id") == self.msg_id:
                self._read(message)
            try:
                message = client.get_iopub_msg(timeout=0)
            except queue.Empty:
                message = None
        try:
            while not self.replied:
                reply = client.get_shell_msg(timeout=0)
                self.replied = reply["parent_header"].get("msg_id") == self.msg_id
        except queue.Empty:
            pass
        if self.replied and self.idle:
            if self.interrupted_at is not None:
                self.outputs.append(error_output(TIMED_OUT, f"the cell did not finish within {self.timeout:g} s "
                                                            "and was interrupted"))
            self.done = True
        return self.done

    def _read(self, message: dict) -> None:
        kind, content = message["msg_type"], message["content"]
        if kind == "status" and content.get("execution_state") == "idle":
            self.idle = True
        elif kind == "clear_output":
            if content.get("wait"):
                self.clear_pending = True
            else:
                self.outputs.clear()
        elif kind in ("stream", "display_data", "execute_result", "error"):
            if self.clear_pending:
                self.outputs.clear()
                self.clear_pending = False
            output = output_from_msg(message)
            last = self.outputs[-1] if self.outputs else None
            if kind == "stream" and last is not None and last.get("output_type") == "stream" \
                    and last.get("name") == output.name:
                last["text"] += output.text
            else:
                self.outputs.append(output)
