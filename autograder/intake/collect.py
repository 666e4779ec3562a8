"""Turn an LMS download (a zip or a folder) into nbgrader's ``submitted/<student>/<assignment>/`` layout.

Two layouts are understood, in one download or mixed:

* flat files named by the LMS: ``<student>_<anything>_<notebook>.ipynb`` (Canvas, Moodle's flat
  download, ``<student>_late_...``) or Blackboard's ``..._<student>_attempt_<timestamp>_<file>``;
* one folder per student: ``<student>/<whatever>.ipynb``, possibly one level deeper, or a
  student's own zip (``<student>_..._submission.zip``), which is opened like a folder.

A file's notebook is found by its name (a release notebook's name, ignoring case and the
suffixes that downloads and copies add: ``-1``, `` (1)``, ``-Copy1``) or, when the student
renamed it, by its cells: the grade_ids, cell ids and cell texts of exactly one release notebook.
Files are copied unchanged (the grader repairs them later); nothing is ever written to the
download, and an existing different file in ``submitted/`` is only replaced by a newer one,
whose predecessor is kept under ``replaced/``.

What each LMS says about time and lateness is kept:

* Canvas (``<name>[_late]_<user id>_<attachment id>_<file>``): only whether the submission was late,
  recorded as a late flag (no time is in the download);
* Moodle (folders ``<Full Name>_<participant id>_assignsubmission_file_``): no times in the download;
  its grading worksheet (a CSV in the download, or ``worksheet=``) gives each participant's
  "Last modified (submission)";
* Blackboard (``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``): the time in the name;
  its ``.txt`` receipt gives the student's full name.

A known time is written to ``submitted/<student>/<assignment>/timestamp.txt`` in nbgrader's format
(UTC), so nbgrader's due date and late penalty apply. Who each student is in the LMS (names, ids,
the late flag, the time) goes to ``submitted/lms.json``, which ``handback`` reads to name the feedback.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import nbformat

from autograder.intake.lms import (
    BLACKBOARD_TIME,
    LMS_SUFFIX,
    TIMESTAMP_FORMAT,
    as_utc,
    identity_of,
    name_collectors,
    parse_flat,
    read_lms_files,
    remember,
    zone_of,
)
from autograder.intake.read import Unreadable, read_submission
from autograder.intake.records import CollectReport, DownloadedFile, Placed, Release, Unplaced
from autograder.nbgrader.notebooks import grade_id

if TYPE_CHECKING:
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

JUNK_PARTS = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db", "desktop.ini"}
MIN_CONTENT_SCORE = 2  # shared distinctive ids/cells needed to recognise a renamed notebook
MAX_ZIP_DEPTH = 3


@dataclass
class _Candidate:
    file: DownloadedFile
    student: str
    release: Release
    note: str

    @property
    def order(self) -> tuple:
        """Newer sorts later: the LMS's time, else the file's, then the LMS's ids in the name."""
        numbers = tuple(int(n) for n in re.findall(r"\d+", self.file.rel[-1]))
        return (self.file.lms_time or self.file.time, numbers, self.file.original)


# ---------------------------------------------------------------------------------------------------------
# Names


def _name_key(name: str) -> str:
    """A file or notebook name without extension, LMS suffixes, case and separator differences."""
    stem = re.sub(r"\.ipynb$", "", name.strip(), flags=re.IGNORECASE)
    while True:
        shorter = re.sub(LMS_SUFFIX + r"$", "", stem, flags=re.IGNORECASE)
        if shorter == stem:
            break
        stem = shorter
    return re.sub(r"[\s._-]+", "_", stem.lower()).strip("_")


def _folder_student(folder: str) -> str:
    """The student of a per-student folder: its name, less Moodle's or a zip's ``_<id>_...`` tail."""
    match = re.match(r"^(?P<student>[^_]+)_(?:late_)?\d+(?:_|$)", folder, flags=re.IGNORECASE)
    return (match["student"] if match else folder).strip()


def _valid_student(student: str) -> bool:
    return bool(student) and not student.startswith(".") and not re.search(r"[/\\:]", student)


# ---------------------------------------------------------------------------------------------------------
# Release notebooks


def _releases(course: Path) -> list[Release]:
    """Every release notebook of the course, with what identifies it (ids and cell texts)."""
    found = []
    for path in sorted((course / "release").glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        ids = {grade_id(cell) for cell in nb.cells if grade_id(cell)} | {
            cell.get("id") for cell in nb.cells if cell.get("id")}
        texts = {" ".join(cell.source.split()) for cell in nb.cells if len(cell.source.strip()) >= 20}
        found.append(Release(path.parent.name, path.name, _name_key(path.name), frozenset(ids),
                              frozenset(texts)))
    return found


def _by_name(name: str, releases: list[Release]) -> list[Release]:
    """Release notebooks whose name ``name`` is, or ends with (after an LMS's ``..._``)."""
    key = _name_key(name)
    hits = [r for r in releases if key == r.key or key.endswith("_" + r.key)]
    longest = max((len(r.key) for r in hits), default=0)
    return [r for r in hits if len(r.key) == longest]


def _by_content(nb: nbformat.NotebookNode, releases: list[Release]) -> Release | None:
    """The one release notebook whose distinctive ids and cell texts the notebook shares most."""
    ids = {grade_id(cell) for cell in nb.cells if grade_id(cell)} | {
        cell.get("id") for cell in nb.cells if cell.get("id")}
    texts = {" ".join(cell.source.split()) for cell in nb.cells}
    scores = []
    for release in releases:
        others = [r for r in releases if r is not release]
        own_ids = release.ids - set().union(*(r.ids for r in others))
        own_texts = release.texts - set().union(*(r.texts for r in others))
        scores.append((len(ids & own_ids) + len(texts & own_texts), release))
    scores.sort(key=lambda item: -item[0])
    if scores and scores[0][0] >= MIN_CONTENT_SCORE and (len(scores) == 1 or scores[0][0] > scores[1][0]):
        return scores[0][1]
    return None


# ---------------------------------------------------------------------------------------------------------
# The download


def _junk(parts: tuple[str, ...]) -> bool:
    return any(part in JUNK_PARTS or part.startswith("._") for part in parts)


def _extract(archive: Path, dest: Path, original: str, rel: tuple[str, ...],
             unplaced: list[Unplaced]) -> list[DownloadedFile]:
    """The files of a zip, extracted under ``dest`` (members with unsafe paths are refused)."""
    files = []
    try:
        with zipfile.ZipFile(archive) as handle:
            for info in handle.infolist():
                name = info.filename.replace("\\", "/")
                parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
                if info.is_dir() or not parts or _junk(parts):
                    continue
                if name.startswith("/") or ".." in parts or re.match(r"^[A-Za-z]:", name):
                    unplaced.append(Unplaced(f"{original}:{info.filename}", "unsafe path in the zip"))
                    continue
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with handle.open(info) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                try:
                    when = datetime(*info.date_time)
                except ValueError:  # a zero date some zip tools write
                    when = datetime(1980, 1, 1)
                os.utime(target, (when.timestamp(), when.timestamp()))
                files.append(DownloadedFile(target, rel + parts, f"{original}:{info.filename}", when))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        unplaced.append(Unplaced(original, f"unreadable: corrupt ZIP archive ({error})"))
    return files


def _gather(source: Path, scratch: Path, unplaced: list[Unplaced]) -> list[DownloadedFile]:
    """Every file of the download, student zips opened in place (a zip stands for a folder of its name)."""
    if source.is_dir():
        files = [DownloadedFile(path, path.relative_to(source).parts, str(path),
                       datetime.fromtimestamp(path.stat().st_mtime))
                 for path in sorted(source.rglob("*")) if path.is_file()
                 and not _junk(path.relative_to(source).parts)]
    elif source.is_file() and zipfile.is_zipfile(source):
        files = _extract(source, scratch / "0", str(source), (), unplaced)
    else:
        raise ValueError(f"{source} is neither a zip file nor a folder")
    for depth in range(MAX_ZIP_DEPTH):
        archives = [f for f in files if f.disk.suffix.lower() == ".zip"]
        if not archives:
            break
        files = [f for f in files if f not in archives]
        for index, archive in enumerate(archives):
            rel = archive.rel[:-1] + (archive.disk.stem,)
            files += _extract(archive.disk, scratch / f"{depth + 1}-{index}", archive.original, rel, unplaced)
    return files


def _strip_wrapper(files: list[DownloadedFile], collectors: list[FileNameCollectorPlugin]) -> None:
    """Drop a folder that wraps the whole download (``submissions/...``), not a lone student's folder."""
    while files and all(len(f.rel) >= 2 for f in files) and len({f.rel[0] for f in files}) == 1:
        below = [f.rel[1:] for f in files]
        folders = {rel[0] for rel in below if len(rel) >= 2}
        flat = [rel for rel in below if len(rel) == 1 and parse_flat(rel[0], collectors)]
        if len(folders) < 2 and not flat:
            return
        for f in files:
            f.rel = f.rel[1:]


# ---------------------------------------------------------------------------------------------------------
# Collecting


def _candidate(file: DownloadedFile, releases: list[Release], wanted: set[str],
               collectors: list[FileNameCollectorPlugin], zone: tzinfo | None = None) -> _Candidate | Unplaced:
    """Whose notebook a file is and which release notebook, or why it cannot be placed."""
    name = file.rel[-1]
    if not name.lower().endswith(".ipynb"):
        return Unplaced(file.original, f"not a notebook file ({name})")
    if len(file.rel) == 1:
        info = parse_flat(name, collectors)
        if not info:
            return Unplaced(file.original, "no student id in the name (expected "
                                           "<student>_<...>_<notebook>.ipynb or a student's folder)")
        student, file_id = info["student_id"], info["file_id"]
        if info.get("timestamp"):
            file.lms_time = as_utc(datetime.strptime(info["timestamp"], BLACKBOARD_TIME), zone)
    else:
        student, file_id = _folder_student(file.rel[0]), name
        info = parse_flat(name, collectors)
        if not _by_name(name, releases) and info:
            file_id = info["file_id"]
    if not _valid_student(student):
        return Unplaced(file.original, f"no student id in the name ({student!r} is not one)")
    file.lms = identity_of(file, student)
    try:
        nb, _ = read_submission(file.disk)
    except Unreadable as error:
        return Unplaced(file.original, f"unreadable: {error}")

    note = ""
    matches = _by_name(file_id, releases)
    if len(matches) > 1:
        release = _by_content(nb, matches)
        if release is None:
            return Unplaced(file.original, "name of a notebook in several assignments "
                                           f"({', '.join(r.assignment for r in matches)}); cells match none")
    elif matches:
        release = matches[0]
    else:
        release = _by_content(nb, releases)
        if release is None:
            return Unplaced(file.original, "not a notebook for any assignment "
                                           "(neither its name nor its cells match a release notebook)")
        note = f"renamed: {name}"
    if release.assignment not in wanted:
        return Unplaced(file.original, f"for assignment {release.assignment}, which was not collected")
    return _Candidate(file, student, release, note)


def _read_timestamp(folder: Path) -> datetime | None:
    """The time in ``timestamp.txt``, as nbgrader reads it (naive UTC)."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc((folder / "timestamp.txt").read_text().strip())
    except (OSError, ValueError, OverflowError):
        return None


def _place(candidate: _Candidate, course: Path) -> Placed | Unplaced:
    """Copy a notebook into submitted/, unless a different, newer one is there."""
    file, release = candidate.file, candidate.release
    folder = course / "submitted" / candidate.student / release.assignment
    dest = folder / release.notebook
    when = file.lms_time or file.time
    note = candidate.note
    if dest.exists():
        if dest.read_bytes() == file.disk.read_bytes():
            return _placed(candidate, folder, "; ".join(filter(None, [note, "already in submitted/ (unchanged)"])))
        there = _read_timestamp(folder) if file.lms_time else None
        there = there or datetime.fromtimestamp(dest.stat().st_mtime)
        if when <= there:
            return Unplaced(file.original, f"older than {dest.relative_to(course)} (kept that one, "
                                           f"{there:%Y-%m-%d %H:%M})")
        backup = (course / "replaced" / candidate.student / release.assignment /
                  f"{dest.stem}.{there:%Y%m%dT%H%M%S}{dest.suffix}")
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest, backup)
        kept = f"replaced an older file (kept in {backup.relative_to(course)})"
        note = "; ".join(filter(None, [note, kept]))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file.disk, dest)
    seconds = file.lms_time.replace(tzinfo=UTC).timestamp() if file.lms_time else file.time.timestamp()
    os.utime(dest, (seconds, seconds))
    return _placed(candidate, folder, note)


def _placed(candidate: _Candidate, folder: Path, note: str) -> Placed:
    """The row of a notebook in ``folder``; the LMS's time written to its timestamp.txt (nbgrader's) if newer."""
    file, stamp = candidate.file, ""
    if file.lms_time:
        stamp = file.lms_time.strftime(TIMESTAMP_FORMAT)
        previous = _read_timestamp(folder)
        if previous is None or file.lms_time > previous:
            (folder / "timestamp.txt").write_text(stamp)
    return Placed(candidate.student, candidate.release.assignment, candidate.release.notebook, file.original,
                  note, late=bool(file.lms.get("late")), timestamp=stamp)


def collect(source: Path, course: Path, assignments: list[str] | None = None, *,
            worksheets: list[Path] | None = None, timezone: str | None = None) -> CollectReport:
    """Place the notebooks of an LMS download (a .zip file or a folder) in ``course/submitted/``.

    ``assignments`` limits which release notebooks files may be (default: all of
    ``course/release``).  Of several files for one student's notebook the newest is kept
    (LMS timestamp, else the zip's or the file's time) and the others are reported.
    ``worksheets``: Moodle grading worksheets (CSV) giving submission times, besides any in the
    download. ``timezone``: the zone of the LMS's times (default UTC: the zone nbgrader gives a due
    date written without one, so LMS times and due date compare as written).
    """
    source, course = Path(source), Path(course)
    zone = zone_of(timezone)
    inbox, download = (course / "submitted").resolve(), source.resolve()
    if download == inbox or inbox in download.parents or download in inbox.parents:
        raise ValueError(f"the download {source} and {course / 'submitted'} must not contain each other")
    releases = _releases(course)
    if not releases:
        raise ValueError(f"no release notebooks in {course / 'release'}")
    known = {r.assignment for r in releases}
    wanted = set(assignments) if assignments else known
    if wanted - known:
        raise ValueError(f"no release notebooks for {sorted(wanted - known)} in {course / 'release'}")
    collectors = name_collectors(releases)

    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="intake-") as scratch:
        files = _gather(source, Path(scratch), report.unplaced)
        files, times, names = read_lms_files(files, list(worksheets or []), zone, report)
        _strip_wrapper(files, collectors)
        groups: dict[tuple[str, str, str], list[_Candidate]] = {}
        for file in files:
            found = _candidate(file, releases, wanted, collectors, zone)
            if isinstance(found, Unplaced):
                report.unplaced.append(found)
                continue
            lms = found.file.lms
            if lms["lms"] == "moodle" and lms["participant_id"] in times:
                found.file.lms_time = times[lms["participant_id"]]
            if lms["lms"] == "blackboard":
                lms["name"] = names.get((lms["lms_id"], lms["attempt"]), lms["name"])
            groups.setdefault((found.student, found.release.assignment, found.release.notebook), []).append(found)
        remembered: dict[tuple[str, str], dict] = {}
        for key in sorted(groups):
            ranked = sorted(groups[key], key=lambda c: c.order)
            newest = ranked[-1]
            for older in ranked[:-1]:
                same = older.file.disk.read_bytes() == newest.file.disk.read_bytes()
                report.unplaced.append(Unplaced(older.file.original, f"duplicate of {newest.file.original} "
                                                f"({'same content' if same else 'kept that newer one'})"))
            placed = _place(newest, course)
            if isinstance(placed, Unplaced):
                report.unplaced.append(placed)
                continue
            report.placed.append(placed)
            entry = remembered.setdefault((placed.assignment, placed.student), dict(newest.file.lms, late=False))
            entry["late"] = entry["late"] or placed.late
            entry.setdefault("notebooks", {})[placed.notebook] = {"original": placed.original,
                                                                 "timestamp": placed.timestamp}
        remember(course, remembered)
    return report


def main(args: argparse.Namespace) -> int:
    """The command, with the arguments :mod:`autograder.cli` parsed."""

    try:
        report = collect(args.source, args.course, args.assignment or None, worksheets=args.worksheet,
                         timezone=args.timezone)
    except ValueError as error:
        print(f"collect: {error}", file=sys.stderr)
        return 2
    print(report)
    if args.report:
        report.to_csv(args.report)
    return 0
