"""What grading says about each student: one row of the report, and its status."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """How a student's submission went (a ``StrEnum``: the report writes its value)."""

    GRADED = "graded"
    GRADED_WITH_PROBLEMS = "graded with problems"  # some reason on the row: a time-out, a crash, a cap
    NOT_GRADED = "not graded"  # nothing came back to record: it scores zero, the reasons say why
    UNCHANGED = "unchanged"  # graded before, submission and limits unchanged: skipped


@dataclass
class StudentRow:
    """One line of the grading report."""

    student: str
    status: Status
    score: float = 0.0
    max_score: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why it is not (fully) graded
    repairs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # integrity: for manual review
    seconds: float = 0.0
    sandbox: str = ""  # "bwrap", or a sentence saying the student's code ran without a sandbox
