"""What the LMSs say about a submission: the student, the time and the late flag in their file names, receipts and
worksheets (Canvas, Moodle, Blackboard), and ``submitted/lms.json``, where ``collect`` keeps it for the report and
``handback``.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autograder.intake.records import CollectReport, DownloadedFile, Read, Release

if TYPE_CHECKING:
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

BLACKBOARD_TIME = "%Y-%m-%d-%H-%M-%S"
LMS_FILE = "lms.json"  # submitted/lms.json: {assignment: {student: what the LMS said about them}}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's Exchange.timestamp_format, in its default zone

# What the LMSs put in their names: Canvas's ids and late marker, Moodle's participant id, Blackboard's attempt.
CANVAS_NAME = re.compile(r"(?i)^(?P<name>[^_]+)_(?P<late>late_)?(?P<user_id>\d+)_(?P<attachment_id>\d+)(?:_|$)")
MOODLE_NAME = re.compile(r"^(?P<name>[^_]+)_(?P<participant_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_|$)")
BLACKBOARD_NAME = re.compile(r"^(?:.*_)?(?P<username>[^_]+)_attempt_(?P<time>\d{4}(?:-\d\d){5})(?:_|\.txt$)")
# Moodle's grading worksheet ("Download grading worksheet"): the columns we read.
WORKSHEET_ID, WORKSHEET_TIME = "Identifier", "Last modified (submission)"

# Quiet: FileNameCollectorPlugin warns about every name a pattern does not match, and we try several.
_QUIET = logging.getLogger("autograder.intake.filenames")
_QUIET.setLevel(logging.CRITICAL)
# What downloads and "Save a copy" add to a file name: -1, (1), -Copy1, " copy".
LMS_SUFFIX = r"(?:-\d+|\s?\(\d+\)|[\s_-]?copy\d*)"


def name_collectors(releases: list[Release]) -> list[FileNameCollectorPlugin]:
    """nbgrader's file-name collectors for the LMS names we know, tried in order.

    nbgrader's ``zip_collect`` itself does not fit: it collects one assignment per run,
    wants the release's exact notebook name, and stops at a duplicate without timestamps;
    its FileNameCollectorPlugin does the name parsing here.
    """
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin  # importing nbgrader takes seconds

    names = "|".join(re.escape(r.notebook[: -len(".ipynb")])
                     for r in sorted(releases, key=lambda r: -len(r.notebook)))
    patterns = [
        # Blackboard: <assignment>_<student>_attempt_<yyyy-mm-dd-hh-mm-ss>_<file>
        r"^(?:.*_)?(?P<student_id>[^_]+)_attempt_(?P<timestamp>\d{4}(?:-\d\d){5})_(?P<file_id>.+)$",
        # Canvas, Moodle: <student>_[late_]<ids>_<release notebook><suffix>.ipynb
        rf"(?i)^(?P<student_id>[^_]+)_(?:.+?_)??(?P<file_id>(?:{names}){LMS_SUFFIX}*\.ipynb)$",
        # the same with a renamed notebook: a numeric LMS id must follow the student
        r"(?i)^(?P<student_id>[^_]+)_(?:late_)?(?P<file_id>\d+_.+)$",
    ]
    return [FileNameCollectorPlugin(named_regexp=pattern, valid_ext=[".ipynb"], log=_QUIET)
            for pattern in patterns]


def parse_flat(name: str, collectors: list[FileNameCollectorPlugin]) -> dict | None:
    """student_id, file_id and maybe timestamp of an LMS file name (None: not an LMS name)."""
    lowered = re.sub(r"\.ipynb$", ".ipynb", name, flags=re.IGNORECASE)
    for collector in collectors:
        found = collector.collect(lowered)
        if found:
            return found
    return None


# ---------------------------------------------------------------------------------------------------------
# What the LMS says: who the student is, whether it was late, when it was handed in


def zone_of(name: str | None) -> tzinfo | None:
    """The time zone of the LMS's times (None: they are read as UTC, as nbgrader reads a due date without one)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r} (give a name such as Europe/Berlin)") from error


def as_utc(when: datetime, zone: tzinfo | None) -> datetime:
    """An LMS time as naive UTC, as nbgrader keeps times; a time without a zone is in ``zone`` (default UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone or UTC)
    return when.astimezone(UTC).replace(tzinfo=None)


def identity_of(file: DownloadedFile, student: str) -> dict:
    """Who the student is in the LMS, read from the file's name or its folder's (``lms`` is "" if no LMS's)."""
    first, flat = file.rel[0], len(file.rel) == 1
    if moodle := MOODLE_NAME.match(first):
        folder = first if not flat else f"{moodle['name']}_{moodle['participant_id']}_assignsubmission_file_"
        return {"lms": "moodle", "lms_id": moodle["participant_id"], "name": moodle["name"],
                "participant_id": moodle["participant_id"], "folder": folder}
    if flat and (blackboard := BLACKBOARD_NAME.match(first)):
        return {"lms": "blackboard", "lms_id": blackboard["username"], "name": blackboard["username"],
                "attempt": blackboard["time"]}
    if canvas := CANVAS_NAME.match(first):
        return {"lms": "canvas", "lms_id": canvas["user_id"], "name": canvas["name"], "user_id": canvas["user_id"],
                "attachment_id": canvas["attachment_id"], "late": bool(canvas["late"])}
    return {"lms": "", "lms_id": student, "name": student}


def _worksheet_times(path: Path, zone: tzinfo | None) -> dict[str, datetime] | None:
    """Participant id -> submission time (UTC), from Moodle's grading worksheet; None if ``path`` is not one."""
    from dateutil import parser

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not {WORKSHEET_ID, WORKSHEET_TIME} <= set(reader.fieldnames or []):
                return None
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    times = {}
    for row in rows:
        participant = re.search(r"(\d+)\s*$", row.get(WORKSHEET_ID) or "")
        try:  # "Tuesday, 14 May 2024, 3:25 PM"; "-" when nothing was submitted
            when = parser.parse(row.get(WORKSHEET_TIME) or "", dayfirst=True)
        except (ValueError, OverflowError):
            continue
        if participant:
            times[participant[1]] = as_utc(when, zone)
    return times


def _receipt_name(path: Path) -> str | None:
    """The student's full name from a Blackboard receipt ("Name: Jane Roe (jroe)"), if it has one."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^Name:\s*(?P<name>.+?)\s*(?:\([^()]*\))?\s*$", text, flags=re.MULTILINE)
    return match["name"] if match else None


def read_lms_files(files: list[DownloadedFile], worksheets: list[Path], zone: tzinfo | None, report: CollectReport
                   ) -> tuple[list[DownloadedFile], dict[str, datetime], dict[tuple[str, str], str]]:
    """Take Moodle worksheets and Blackboard receipts out of ``files``: the times and names they give."""
    times: dict[str, datetime] = {}
    names: dict[tuple[str, str], str] = {}
    rest = []
    for path in worksheets:
        found = _worksheet_times(Path(path), zone)
        if found is None:
            raise ValueError(f"{path} is not a Moodle grading worksheet (no {WORKSHEET_ID!r} and "
                             f"{WORKSHEET_TIME!r} columns)")
        times |= found
        report.read.append(Read(str(path), f"Moodle grading worksheet: {len(found)} submission times"))
    for file in files:
        name = file.rel[-1]
        if name.lower().endswith(".csv") and (found := _worksheet_times(file.disk, zone)) is not None:
            times |= found
            report.read.append(Read(file.original, f"Moodle grading worksheet: {len(found)} submission times"))
        elif name.endswith(".txt") and (receipt := BLACKBOARD_NAME.match(name)):
            full_name = _receipt_name(file.disk)
            if full_name:
                names[(receipt["username"], receipt["time"])] = full_name
            report.read.append(Read(file.original, "Blackboard receipt" + (f": {full_name}" if full_name else "")))
        else:
            rest.append(file)
    return rest, times, names


def lms_identities(course: Path, assignment: str) -> dict[str, dict]:
    """Student -> what ``collect`` learned about them from the LMS for ``assignment`` (``submitted/lms.json``)."""
    try:
        return json.loads((Path(course) / "submitted" / LMS_FILE).read_text()).get(assignment, {})
    except (OSError, ValueError):
        return {}


def remember(course: Path, entries: dict[tuple[str, str], dict]) -> None:
    """Add this download's students to ``submitted/lms.json`` (a student collected again is updated)."""
    if not entries:
        return
    path = course / "submitted" / LMS_FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    for (assignment, student), entry in sorted(entries.items()):
        known.setdefault(assignment, {})[student] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
