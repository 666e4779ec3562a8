"""What ``collect`` finds in a download and what it reports: the files, the release notebooks they may be, and
where each one went."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Placed:
    """A notebook copied to ``submitted/<student>/<assignment>/<notebook>``."""

    student: str
    assignment: str
    notebook: str  # the release's file name
    original: str
    note: str = ""
    late: bool = False  # the LMS marked it late (Canvas's ``_late_``)
    timestamp: str = ""  # the submission time written to timestamp.txt, if the LMS gave one


@dataclass(frozen=True)
class Unplaced:
    """A file of the download that is not in ``submitted/``, and why."""

    original: str
    reason: str


@dataclass(frozen=True)
class Read:
    """A file of the download that is not a submission but was read for what it says (a receipt, a worksheet)."""

    original: str
    what: str


@dataclass
class CollectReport:
    """What :func:`collect` placed, what it could not, and what it read for times and names."""

    placed: list[Placed] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    csv_path: Path | None = None
    read: list[Read] = field(default_factory=list)

    @property
    def students(self) -> list[str]:
        return sorted({row.student for row in self.placed})

    def to_csv(self, path: Path) -> Path:
        """One row per file of the download: placed or not, where, and why."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["status", "student", "assignment", "notebook", "original", "note"])
            for row in self.placed:
                writer.writerow(["placed", row.student, row.assignment, row.notebook, row.original, row.note])
            for row in self.unplaced:
                writer.writerow(["not placed", "", "", "", row.original, row.reason])
            for row in self.read:
                writer.writerow(["read", "", "", "", row.original, row.what])
        self.csv_path = path
        return path

    def __str__(self) -> str:
        notebooks, students = len(self.placed), len(self.students)
        text = (f"placed {notebooks} notebook{'s' * (notebooks != 1)} "
                f"of {students} student{'s' * (students != 1)}")
        late = sum(row.late for row in self.placed)
        if late:
            text += f" ({late} marked late by the LMS)"
        if self.read:
            text += f"; read {len(self.read)} file{'s' * (len(self.read) != 1)} for times and names"
        if not self.unplaced:
            return text + "; every file was placed"
        count = len(self.unplaced)
        where = self.csv_path or "the report's unplaced rows"
        return text + f"; {count} file{'s' * (count != 1)} could not be placed (see {where})"


@dataclass(frozen=True)
class Release:
    assignment: str
    notebook: str  # file name
    key: str  # normalized stem
    ids: frozenset[str]
    texts: frozenset[str]


@dataclass
class DownloadedFile:
    disk: Path
    rel: tuple[str, ...]  # path inside the download
    original: str
    time: datetime
    lms_time: datetime | None = None  # naive UTC, as nbgrader keeps times
    lms: dict = field(default_factory=dict)  # who the student is in the LMS (see identity_of)
