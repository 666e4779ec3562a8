"""The order jobs start in: longest first, across every assignment of a run.

With W workers the run ends when the last job does; a long job started last leaves the other
workers idle while it runs. Starting the longest jobs first (the classic LPT rule) keeps every worker
busy to the end. How long a job takes is read from the last run: each graded student's
``autograded/<student>/<assignment>/.autograder.json`` records its seconds. A job never timed
before (a new student, a first run) is expected to be long and starts first, the largest code first.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path

from autograder.grade.runners import Job

STATE_FILE = ".autograder.json"  # in autograded/<student>/<assignment>/: what was graded, and how it went


def past_seconds(root: Path, assignments: Iterable[str]) -> dict[tuple[str, str], float]:
    """(assignment, student) -> seconds its last grading took, read from ``autograded/``."""
    history = {}
    for assignment in assignments:
        for state_file in sorted((root / "autograded").glob(f"*/{assignment}/{STATE_FILE}")):
            try:
                seconds = json.loads(state_file.read_text()).get("seconds")
            except (OSError, ValueError):
                continue
            if isinstance(seconds, int | float) and seconds > 0:
                history[(assignment, state_file.parent.parent.name)] = float(seconds)
    return history


def expected_seconds(job: Job, history: dict[tuple[str, str], float]) -> float | None:
    """The job's own last time, else the median of its assignment's last times, else None (unknown)."""
    own = history.get((job.assignment, job.student))
    if own is not None:
        return own
    same_assignment = [seconds for (assignment, _), seconds in history.items() if assignment == job.assignment]
    return statistics.median(same_assignment) if same_assignment else None


def code_size(job: Job) -> int:
    """Bytes of notebook to execute: the tie-breaker among jobs never timed."""
    return sum(len(content) for content in job.notebooks.values())


def longest_first(jobs: list[Job], history: dict[tuple[str, str], float]) -> list[Job]:
    """Jobs never timed first (largest code first), then the others by expected seconds, longest first.

    The sort is stable: jobs that tie keep the order they came in.
    """
    timed = [(expected_seconds(job, history), job) for job in jobs]
    unknown = sorted((job for seconds, job in timed if seconds is None), key=code_size, reverse=True)
    known = sorted(((seconds, job) for seconds, job in timed if seconds is not None),
                   key=lambda pair: pair[0], reverse=True)
    return unknown + [job for _, job in known]
