"""What the class got wrong: the failure messages of every test cell, grouped by mistake.

After grading, each student's autograded notebook holds, under each test cell that failed, the check's
message ("expected 'healthy', got 'exploding'"). Messages that differ only in their numbers are the same
mistake made on other inputs or by other students, so numbers are replaced by ``#`` and equal patterns are
counted together. The report shows the groups per test cell and writes them to ``<assignment>-failures.csv``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.nbgrader.notebooks import grade_id, nbgrader_meta

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])|\bnan\b|\binf\b")
STUDENTS_SHOWN = 5  # student ids listed per group


@dataclass(frozen=True)
class Failure:
    """One failed test cell of one student's notebook."""

    student: str
    notebook: str
    grade_id: str
    message: str  # the check's message; for an error that is not a failed check, "ErrorName: message"


@dataclass(frozen=True)
class FailureGroup:
    """Students whose test cell failed with the same message, numbers aside."""

    notebook: str
    grade_id: str
    pattern: str  # the message with each number replaced by #
    students: tuple[str, ...]
    example: str  # one student's message as they saw it

    @property
    def count(self) -> int:
        return len(self.students)


def pattern_of(message: str) -> str:
    """The message with numbers as ``#`` and runs of whitespace as one space: the mistake, not its inputs."""
    return " ".join(NUMBER.sub("#", message).split())


def message_of(output: dict) -> str:
    """What a student reads of an error output: the check's message, or the error's name and message."""
    ename, evalue = output.get("ename", ""), output.get("evalue", "").strip()
    if ename == "AssertionError":
        return evalue or "AssertionError (the check gave no message)"
    return f"{ename}: {evalue}" if evalue else ename


def notebook_failures(nb: nbformat.NotebookNode, student: str, notebook: str) -> list[Failure]:
    """The failures of the graded (test) cells of one autograded notebook, one per cell (its first error)."""
    failures = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("grade"):
            continue
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            failures.append(Failure(student, notebook, grade_id(cell), message_of(errors[0])))
    return failures


def read_failures(course_root: Path, assignment: str, students: Iterable[str]) -> list[Failure]:
    """Every failed test cell of ``students``' autograded notebooks of ``assignment``."""
    failures = []
    for student in students:
        for path in sorted((Path(course_root) / "autograded" / student / assignment).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            failures.extend(notebook_failures(nb, student, path.stem))
    return failures


def group(failures: Iterable[Failure]) -> list[FailureGroup]:
    """Failures grouped by test cell and pattern: cells in notebook order of appearance, most common first."""
    buckets: dict[tuple[str, str, str], list[Failure]] = {}
    for failure in failures:
        buckets.setdefault((failure.notebook, failure.grade_id, pattern_of(failure.message)), []).append(failure)
    groups = [FailureGroup(notebook, cell, pattern, tuple(sorted(f.student for f in members)), members[0].message)
              for (notebook, cell, pattern), members in buckets.items()]
    return sorted(groups, key=lambda g: (g.notebook, g.grade_id, -g.count, g.pattern))


def write_failures_csv(path: Path, groups: list[FailureGroup]) -> None:
    """One line per group: notebook, test cell, count, pattern, an example and every student id."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["notebook", "test_cell", "students", "mistake", "example", "student_ids"])
        for item in groups:
            writer.writerow([item.notebook, item.grade_id, item.count, item.pattern, item.example,
                             " ".join(item.students)])
