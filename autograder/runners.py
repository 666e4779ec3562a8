"""Step 2 of grading, anywhere (a local thread, a Dask worker): execute sanitized notebooks in the sandbox.

A :class:`Job` is plain data: the student's sanitized notebooks, the assignment's non-notebook files,
the limits and the sandbox mode; no gradebook, no ``source/``, no other student. :func:`execute_job`
runs each notebook in a sandbox of its own (:mod:`autograder.sandbox`) under the wall-clock limit and
the memory watchdog, and sends back the executed notebooks as data (:class:`Executed`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import sandbox as sandboxes
from autograder.preprocessors import KERNEL_DIED

DEFAULT_TIMEOUT = 1200.0  # seconds for a whole notebook (backstop; cells have their own limit)
DEFAULT_CELL_TIMEOUT = 300  # seconds per cell (nbgrader's Execute.timeout)
DEFAULT_MEMORY_MB = 3072  # per kernel
DEFAULT_PROCESSES = 1024  # processes and threads (TensorFlow starts many threads)
DEFAULT_FILE_MB = 1024  # largest file the student's code may write


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    memory_mb: int | None = DEFAULT_MEMORY_MB
    processes: int = DEFAULT_PROCESSES
    file_mb: int = DEFAULT_FILE_MB


@dataclass
class Job:
    """Everything needed to execute one student's notebooks, as plain data (it travels to Dask workers)."""

    student: str
    notebooks: dict[str, bytes]  # file name -> the sanitized notebook
    files: dict[str, bytes]  # the assignment's non-notebook files (data, the student's extra files)
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "auto"  # "auto", "bwrap" or "none", resolved where the job runs
    assignment: str = ""  # which assignment the notebooks belong to (one run may grade several)


@dataclass
class Executed:
    """What comes back: the executed notebooks and how the execution went."""

    student: str
    notebooks: dict[str, bytes]  # file name -> the executed notebook
    problems: list[str]  # "timed out after 1200 s", "the kernel died in cell ex1-tests", ...
    tampering: list[str]  # "input transformer added before ex1-tests"
    sandbox: str  # the sandbox used: "bwrap", or a sentence saying it was not sandboxed
    log: str
    seconds: float
    assignment: str = ""


def execute_job(job: Job) -> Executed:
    """Execute every notebook of ``job``, each in a fresh sandbox."""
    started = time.perf_counter()
    box = sandboxes.choose(job.sandbox)
    executed, problems, tampering, logs = {}, [], [], []
    for name, content in job.notebooks.items():
        with tempfile.TemporaryDirectory(prefix=f"grade-{job.student}-") as tmp:
            work, out = Path(tmp, "work"), Path(tmp, "out")
            work.mkdir()
            out.mkdir()
            for file_name, data in job.files.items():
                (work / file_name).parent.mkdir(parents=True, exist_ok=True)
                (work / file_name).write_bytes(data)
            (work / name).write_bytes(content)
            result_path = out / "result.json"
            with sandboxes.user_id() as uid:
                argv, options = sandboxes.command(box, work, out, [
                    sandboxes.inside(box, work / name, work, out), sandboxes.inside(box, result_path, work, out),
                    "--cell-timeout", str(job.limits.cell_timeout)], uid=uid)
                log, limit_problems = _run_limited(argv, options, job.limits)
            logs.append(log)
            problems += limit_problems
            try:
                result = json.loads(result_path.read_text())
            except (OSError, ValueError):
                if not limit_problems:
                    problems.append(f"{name}: the executor sent no notebook back: {_last_line(log)}")
                continue
            nb = nbformat.from_dict(result["notebook"])
            executed[name] = nbformat.writes(nb).encode("utf-8")
            tampering += [f"{name}: {what}" for what in result.get("tampering", [])]
            problems += _problems_in(name, nb)
    return Executed(job.student, executed, problems, tampering, box.note or box.kind, "\n".join(logs),
                    time.perf_counter() - started, job.assignment)


def _last_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1][-300:] if lines else "no output"


def _run_limited(argv: list[str], options: dict, limits: Limits) -> tuple[str, list[str]]:
    """Run ``argv`` in its own session under the wall-clock limit and the memory watchdog."""
    problems: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                   stdin=subprocess.DEVNULL,
                                   preexec_fn=sandboxes.preexec(limits.processes, limits.file_mb), **options)
        stop = threading.Event()
        watchdog = threading.Thread(target=_watch_memory, daemon=True,
                                    args=(process.pid, limits.memory_mb, stop, problems))
        if limits.memory_mb:
            watchdog.start()
        try:
            process.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"timed out: grading took longer than {limits.timeout:g} s and was stopped")
        finally:
            stop.set()
            if watchdog.is_alive():
                watchdog.join()
            _kill_tree(process)  # the sandbox's PID namespace takes every process with it
        output.seek(0)
        return output.read(), problems


def _kill_tree(process: subprocess.Popen) -> None:
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        children = tree.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _watch_memory(pid: int, cap_mb: int, stop: threading.Event, problems: list[str]) -> None:
    """Kill any process under ``pid`` (a kernel) whose resident memory passes ``cap_mb``."""
    while not stop.wait(0.2):
        for child in _descendants(pid):
            rss = _rss_mb(child)
            if rss > cap_mb:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                problems.append(f"memory cap: a kernel used {rss:.0f} MB (cap {cap_mb} MB) and was stopped")


def _problems_in(name: str, nb: nbformat.NotebookNode) -> list[str]:
    """Cells that killed the kernel or timed out, read from the executed notebook."""
    problems = []
    for cell in nb.cells:
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id", "?")
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            if output.get("ename") == KERNEL_DIED:
                problems.append(f"{name}: the kernel died in cell {label}")
            elif output.get("ename") == "CellTimeoutError":
                problems.append(f"{name}: cell {label} timed out")
    return problems


Runner = Callable[[list[Job]], Iterator[Executed]]


def local_runner(workers: int) -> Runner:
    """Jobs in ``workers`` threads of this process (each runs a sandboxed subprocess: threads only wait).

    Jobs start in the order given (the pool's queue is first in, first out): the caller orders them.
    """
    def run(jobs: list[Job]) -> Iterator[Executed]:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = [pool.submit(execute_job, job) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
    return run


def dask_runner(scheduler: str) -> Runner:
    """Jobs as tasks on a Dask distributed cluster (the workers need this package, and bubblewrap, installed).

    Earlier jobs get a higher priority, so the cluster starts them in the order given.
    """
    def run(jobs: list[Job]) -> Iterator[Executed]:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = [client.submit(execute_job, job, key=f"grade-{job.assignment}-{job.student}", pure=False,
                                     retries=0, priority=len(jobs) - position)
                       for position, job in enumerate(jobs)]
            for future in dask_completed(futures):
                yield future.result()
    return run
