"""Step 2 of grading, anywhere (a local thread, a Dask worker): run sanitized notebooks with the judge.

A :class:`Job` is plain data: the student's sanitized notebooks, the assignment's non-notebook files, what the
grader kernel runs (:mod:`autograder.grade.plan`, from the instructor's notebook), the limits and the sandbox
mode; no gradebook, no ``source/``, no other student. :func:`execute_job` runs each notebook with the judge
(:mod:`autograder.grade.judge`): the student's cells in one sandboxed kernel, the tests in another, each sandbox
with its control group (:mod:`autograder.grade.cgroups`: memory and processes) and its disk cap
(:func:`autograder.grade.sandbox.space`) under the memory watchdog, and sends back the executed notebooks as data
(:class:`Executed`). A cap that stopped something is a problem on the row: "memory cap", "disk cap", "process
cap", with the figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grade import cgroups
from autograder.grade import sandbox as sandboxes
from autograder.grade.kernels import KERNEL_DIED, TIMED_OUT
from autograder.grade.plan import GraderPlan

DEFAULT_TIMEOUT = 1200.0  # seconds for a whole notebook (backstop; cells have their own limit)
DEFAULT_CELL_TIMEOUT = 300  # seconds per cell (nbgrader's Execute.timeout)
DEFAULT_MEMORY_MB = 3072  # per kernel
DEFAULT_DISK_MB = 2048  # the working folder, /tmp and /dev/shm together
DEFAULT_PROCESSES = 1024  # processes and threads (TensorFlow starts many threads)
DEFAULT_FILE_MB = 1024  # largest file the student's code may write


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    memory_mb: int | None = DEFAULT_MEMORY_MB  # each process, and the sandbox's processes with disk_mb
    processes: int = DEFAULT_PROCESSES
    file_mb: int = DEFAULT_FILE_MB
    disk_mb: int = DEFAULT_DISK_MB


@dataclass
class Job:
    """Everything needed to execute one student's notebooks, as plain data (it travels to Dask workers)."""

    student: str
    notebooks: dict[str, bytes]  # file name -> the sanitized notebook
    files: dict[str, bytes]  # the assignment's non-notebook files (data, the student's extra files)
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "auto"  # "auto", "bwrap" or "none", resolved where the job runs
    assignment: str = ""  # which assignment the notebooks belong to (one run may grade several)
    # notebook -> what its grader kernel runs, read from the instructor's notebook (autograder.grade.plan)
    plans: dict[str, GraderPlan] = field(default_factory=dict)


@dataclass
class Executed:
    """What comes back: the executed notebooks and how the execution went."""

    student: str
    notebooks: dict[str, bytes]  # file name -> the executed notebook
    problems: list[str]  # "timed out after 1200 s", "the kernel died in cell ex1-tests", ...
    sandbox: str  # the sandbox used: "bwrap", or a sentence saying it was not sandboxed
    log: str
    seconds: float
    assignment: str = ""


def execute_job(job: Job) -> Executed:
    """Run every notebook of ``job`` with the judge (:mod:`autograder.grade.judge`): each in two fresh sandboxes,
    the student's kernel and the grader's, each with its own caps."""
    from autograder.grade.judge import judge_notebook

    started = time.perf_counter()
    box = sandboxes.choose(job.sandbox)
    executed, problems, notes = {}, [], []
    for name, content in job.notebooks.items():
        try:
            judged = judge_notebook(content, job.files, job.plans.get(name, GraderPlan()), box=box, limits=job.limits,
                                    name=name)
        except OSError as error:
            if error.errno != 28:  # ENOSPC: the assignment's files do not fit in the disk cap
                problems.append(f"{name}: not graded: the judge could not run it ({error})")
                continue
            problems.append(f"{name}: not run: the notebook and the assignment's files do not fit in the "
                            f"disk cap of {job.limits.disk_mb} MB ({error.strerror})")
            continue
        except Exception as error:  # a kernel that would not start, a sandbox that failed: a reason, never a grade
            problems.append(f"{name}: not graded: the judge could not run it ({type(error).__name__}: {error})")
            continue
        executed[name] = nbformat.writes(judged.notebook).encode("utf-8")
        problems += _problems_in(name, judged.notebook) + judged.problems
        notes += [note for note in judged.notes if note not in notes]
    return Executed(job.student, executed, list(dict.fromkeys(problems)), "; ".join([box.note or box.kind, *notes]),
                    "", time.perf_counter() - started, job.assignment)


def _group(limits: Limits) -> tuple[cgroups.Group | None, str]:
    """The sandbox's control group (memory: the processes' cap plus the disk's, whose tmpfs it holds)."""
    try:
        memory = limits.memory_mb + limits.disk_mb if limits.memory_mb else None
        return cgroups.create(memory_mb=memory, processes=limits.processes), ""
    except cgroups.Unavailable as why:
        return None, str(why)


def _fallback_notes(limits: Limits, space: sandboxes.Space, no_group: str) -> list[str]:
    """What the row says where a cap is weaker than it should be (no control group, no tmpfs of its own)."""
    notes = []
    if no_group:
        notes.append(f"limits WITHOUT control groups ({no_group}): memory watched process by process, "
                     f"processes limited per user")
    if not space.mounted:
        notes.append(f"disk cap WITHOUT a tmpfs of its own ({space.mount_problem}): /tmp and /dev/shm "
                     f"{limits.disk_mb} MB each, the working folder watched")
    return notes


@dataclass
class _Disk:
    """What the watchdog saw of the sandbox's space: the most in use, and whether it was ever full."""

    peak_mb: float = 0.0
    peak_files: int = 0
    full: bool = False
    stopped: bool = False  # the working folder outgrew the cap where no tmpfs enforces it

    def see(self, space: sandboxes.Space) -> None:
        used_mb, files = space.used()
        self.peak_mb, self.peak_files = max(self.peak_mb, used_mb), max(self.peak_files, files)
        self.full = self.full or space.full()

    def problem(self, name: str, space: sandboxes.Space) -> str:
        if not space.mounted:
            return (f"{name}: disk cap: writing more failed with 'No space left on device' (cap {space.disk_mb} MB "
                    f"for /tmp and for /dev/shm)")
        return (f"{name}: disk cap: writing more failed with 'No space left on device' (cap {space.disk_mb} MB and "
                f"{sandboxes.DISK_FILES} files for the working folder, /tmp and /dev/shm together; the most "
                f"seen in use: {self.peak_mb:.0f} MB in {self.peak_files} files)")


def _out_of_space(nb: nbformat.NotebookNode) -> bool:
    """Whether a cell failed for want of disk space (ENOSPC)."""
    return any(output.get("output_type") == "error"
               and ("No space left on device" in str(output.get("evalue", "")) or "[Errno 28]" in
                    str(output.get("evalue", "")))
               for cell in nb.cells for output in cell.get("outputs", []))


PROCESS_MARGIN = 64  # RLIMIT_NPROC above the pids cap, so the cap (which says so) is the one that stops


def _caps_reached(group: cgroups.Group, limits: Limits, name: str) -> list[str]:
    """The row's words for the control group's caps that stopped something."""
    reached, usage, problems = group.reached(), group.usage(), []
    prefix = f"{name}: " if name else ""
    if "memory" in reached:
        problems.append(f"{prefix}memory cap: the notebook's processes and files held {usage.memory_mb:.0f} MB "
                        f"(cap {limits.memory_mb + limits.disk_mb} MB: {limits.memory_mb} MB of memory plus "
                        f"{limits.disk_mb} MB of files) and a process was stopped")
    if "processes" in reached:
        problems.append(f"{prefix}process cap: starting a process or thread failed at the cap of "
                        f"{limits.processes} processes and threads")
    return problems


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


def _kill_large(pid: int, cap_mb: int, problems: list[str]) -> None:
    """Kill any process under ``pid`` (a kernel) whose resident memory passes ``cap_mb``."""
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
            elif output.get("ename") == TIMED_OUT:
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
