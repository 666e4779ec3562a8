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

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import nbformat

from autograder.grade import sandbox as sandboxes
from autograder.grade.kernels import KERNEL_DIED, TIMED_OUT
from autograder.grade.plan import GraderPlan
from autograder.settings import Limits


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
