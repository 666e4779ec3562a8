"""autograder.intake.collect: an LMS download (zip or folder) placed in nbgrader's submitted/ layout."""

from __future__ import annotations

import copy
import csv
import hashlib
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from autograder.intake.collect import CollectReport, Placed, Unplaced, collect
from autograder.intake.lms import LMS_FILE, lms_identities
from autograder.nbgrader.notebooks import grade_id

ROOT = Path(__file__).resolve().parents[3]
NB01 = "01_vanishing_exploding"
NB02 = "02_initialization"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


@pytest.fixture
def course(tmp_path) -> Path:
    """A course with two assignments released (copies of the real release notebooks)."""
    course = tmp_path / "course"
    for name in (NB01, NB02):
        shutil.copytree(ROOT / "release" / name, course / "release" / name)
    return course


def release(course: Path, name: str):
    return nbformat.read(str(course / "release" / name / f"{name}.ipynb"), as_version=4)


def answer(course: Path, name: str, student: str = "", strip: bool = False) -> bytes:
    """A student's notebook: the release with the name filled in (``strip``: as Colab saves it)."""
    nb = release(course, name)
    for cell in nb.cells:
        if cell.source.startswith('NAME = ""'):
            cell.source = f'NAME = "{student}"'
        if strip:
            cell.metadata.pop("nbgrader", None)
            cell["id"] = hashlib.md5(cell.source.encode()).hexdigest()[:8]
    return nbformat.writes(nb).encode()


def make_zip(path: Path, members: dict[str, bytes | tuple[bytes, tuple]]) -> Path:
    """A zip of ``members``: name -> bytes, or (bytes, zip date_time)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            data, when = content if isinstance(content, tuple) else (content, (2024, 5, 1, 12, 0, 0))
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


def submitted(course: Path) -> dict[str, bytes]:
    """Every file of a submission under submitted/: relative path -> content (not the LMS identities file)."""
    root = course / "submitted"
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file() and path != root / LMS_FILE} if root.exists() else {}


def reasons(report: CollectReport) -> dict[str, str]:
    return {Path(row.original.split(":")[-1]).name: row.reason for row in report.unplaced}


def test_flat_canvas_names_in_a_zip(course, tmp_path):
    files = {
        "jdoe_12345_67890_01_vanishing_exploding.ipynb": answer(course, NB01, "jdoe"),
        "jdoe_12345_67891_02_initialization.ipynb": answer(course, NB02, "jdoe"),
        "asmith_late_222_333_01_vanishing_exploding-1.ipynb": answer(course, NB01, "asmith"),
        "b.lee-2_444_555_02_Initialization (1).ipynb": answer(course, NB02, "b.lee-2"),
        "readme.txt": b"hello",
    }
    download = make_zip(tmp_path / "canvas.zip", files)
    before = download.read_bytes()
    report = collect(download, course)
    assert submitted(course) == {
        f"asmith/{NB01}/{NB01}.ipynb": files["asmith_late_222_333_01_vanishing_exploding-1.ipynb"],
        f"b.lee-2/{NB02}/{NB02}.ipynb": files["b.lee-2_444_555_02_Initialization (1).ipynb"],
        f"jdoe/{NB01}/{NB01}.ipynb": files["jdoe_12345_67890_01_vanishing_exploding.ipynb"],
        f"jdoe/{NB02}/{NB02}.ipynb": files["jdoe_12345_67891_02_initialization.ipynb"],
    }
    assert report.students == ["asmith", "b.lee-2", "jdoe"]
    assert all(row.note == "" for row in report.placed)
    assert reasons(report) == {"readme.txt": "not a notebook file (readme.txt)"}
    assert str(report) == ("placed 4 notebooks of 3 students (1 marked late by the LMS); 1 file could not be placed "
                           "(see the report's unplaced rows)")
    assert download.read_bytes() == before
    assert not (course / "source").exists()


def test_a_canvas_late_file_is_flagged_late_and_the_students_canvas_ids_kept(course, tmp_path):
    download = make_zip(tmp_path / "canvas.zip", {
        "student01_late_48214_3312399_01_vanishing_exploding.ipynb": answer(course, NB01, "student01"),
        "student02_48215_3312400_01_vanishing_exploding.ipynb": answer(course, NB01, "student02"),
    })
    report = collect(download, course)
    assert {row.student: row.late for row in report.placed} == {"student01": True, "student02": False}
    identities = lms_identities(course, NB01)
    assert {student: (who["lms"], who["user_id"], who["attachment_id"], who["late"])
            for student, who in identities.items()} == {"student01": ("canvas", "48214", "3312399", True),
                                                        "student02": ("canvas", "48215", "3312400", False)}
    # Canvas's download carries no time: no timestamp.txt, the flag is all there is
    assert not list((course / "submitted").rglob("timestamp.txt"))
    with (report.to_csv(tmp_path / "intake.csv")).open() as handle:
        assert [row["student"] for row in csv.DictReader(handle) if row["status"] == "placed"] == [
            "student01", "student02"]


def test_one_folder_per_student_possibly_nested(course, tmp_path):
    download = tmp_path / "download"
    layout = {
        f"jdoe/{NB01}.ipynb": answer(course, NB01, "jdoe"),
        f"jdoe/{NB02}.ipynb": answer(course, NB02, "jdoe"),
        f"asmith/submission/{NB01}-Copy1.ipynb": answer(course, NB01, "asmith"),
        "c.d-e/01_VANISHING_EXPLODING.ipynb": answer(course, NB01, "c.d-e"),
        "Jane Roe_4242_assignsubmission_file_/02_initialization.ipynb": answer(course, NB02, "jroe"),
    }
    for name, data in layout.items():
        (download / name).parent.mkdir(parents=True, exist_ok=True)
        (download / name).write_bytes(data)
    snapshot = {path: (path.read_bytes(), path.stat().st_mtime)
                for path in download.rglob("*") if path.is_file()}
    report = collect(download, course)
    assert sorted(submitted(course)) == [f"Jane Roe/{NB02}/{NB02}.ipynb", f"asmith/{NB01}/{NB01}.ipynb",
                                         f"c.d-e/{NB01}/{NB01}.ipynb", f"jdoe/{NB01}/{NB01}.ipynb",
                                         f"jdoe/{NB02}/{NB02}.ipynb"]
    assert report.unplaced == []
    assert str(report) == "placed 5 notebooks of 4 students; every file was placed"
    assert {path: (path.read_bytes(), path.stat().st_mtime)
            for path in download.rglob("*") if path.is_file()} == snapshot


def test_a_folder_wrapping_the_whole_download_is_not_a_student(course, tmp_path):
    download = make_zip(tmp_path / "all.zip", {
        f"Homework 1/jdoe/{NB01}.ipynb": answer(course, NB01, "jdoe"),
        f"Homework 1/asmith/{NB01}.ipynb": answer(course, NB01, "asmith"),
        "Homework 1/bob_77_88_01_vanishing_exploding.ipynb": answer(course, NB01, "bob"),
        "__MACOSX/Homework 1/._jdoe": b"junk",
    })
    report = collect(download, course)
    assert report.students == ["asmith", "bob", "jdoe"]
    assert report.unplaced == []


def test_a_renamed_notebook_is_recognised_by_its_cells(course, tmp_path):
    download = make_zip(tmp_path / "canvas.zip", {
        "jdoe_123_456_my_homework.ipynb": answer(course, NB02, "jdoe"),
        "asmith/Untitled (3).ipynb": answer(course, NB01, "asmith", strip=True),  # no grade_ids, new ids
    })
    report = collect(download, course)
    assert sorted(submitted(course)) == [f"asmith/{NB01}/{NB01}.ipynb", f"jdoe/{NB02}/{NB02}.ipynb"]
    notes = {row.student: row.note for row in report.placed}
    assert notes == {"jdoe": "renamed: jdoe_123_456_my_homework.ipynb",
                     "asmith": "renamed: Untitled (3).ipynb"}


def test_files_that_cannot_be_placed_say_why(course, tmp_path):
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('my own project')")])
    download = make_zip(tmp_path / "canvas.zip", {
        "jdoe_1_2_01_vanishing_exploding.ipynb": PNG,
        "asmith_1_3_02_initialization.ipynb": b'{"cells": [',
        "bob_1_4_notes.ipynb": nbformat.writes(other).encode(),
        f"{NB01}.ipynb": answer(course, NB01),
        "carol_1_5_01_vanishing_exploding.ipynb": nbformat.writes(nbformat.v4.new_notebook()).encode(),
        "../escape.ipynb": answer(course, NB01, "mallory"),
    })
    report = collect(download, course)
    assert report.placed == [] and submitted(course) == {}
    assert reasons(report) == {
        "jdoe_1_2_01_vanishing_exploding.ipynb": "unreadable: not a notebook: a PNG image",
        "asmith_1_3_02_initialization.ipynb": "unreadable: corrupt JSON: Expecting value (line 1, column 12)",
        "bob_1_4_notes.ipynb": "not a notebook for any assignment "
                               "(neither its name nor its cells match a release notebook)",
        f"{NB01}.ipynb": "no student id in the name (expected <student>_<...>_<notebook>.ipynb "
                         "or a student's folder)",
        "carol_1_5_01_vanishing_exploding.ipynb": "unreadable: empty notebook",
        "escape.ipynb": "unsafe path in the zip",
    }
    assert not (tmp_path / "escape.ipynb").exists()
    assert str(report).startswith("placed 0 notebooks of 0 students; 6 files could not be placed")


def test_of_two_versions_the_newest_is_kept_and_the_other_reported(course, tmp_path):
    old, new = answer(course, NB01, "first try"), answer(course, NB01, "second try")
    download = make_zip(tmp_path / "canvas.zip", {
        "jdoe_1_101_01_vanishing_exploding-1.ipynb": (new, (2024, 5, 2, 9, 0, 0)),
        "jdoe_1_100_01_vanishing_exploding.ipynb": (old, (2024, 5, 1, 9, 0, 0)),
    })
    report = collect(download, course)
    assert submitted(course) == {f"jdoe/{NB01}/{NB01}.ipynb": new}
    assert [row.original.split(":")[-1] for row in report.placed] == [
        "jdoe_1_101_01_vanishing_exploding-1.ipynb"]
    assert reasons(report) == {"jdoe_1_100_01_vanishing_exploding.ipynb": (
        f"duplicate of {download}:jdoe_1_101_01_vanishing_exploding-1.ipynb (kept that newer one)")}
    placed = course / "submitted" / "jdoe" / NB01 / f"{NB01}.ipynb"
    assert datetime.fromtimestamp(placed.stat().st_mtime) == datetime(2024, 5, 2, 9, 0, 0)


def test_an_existing_submission_is_replaced_only_by_a_newer_one(course, tmp_path):
    dest = course / "submitted" / "jdoe" / NB01 / f"{NB01}.ipynb"
    first = answer(course, NB01, "v1")
    name = "jdoe_1_1_01_vanishing_exploding.ipynb"
    collect(make_zip(tmp_path / "a.zip", {name: (first, (2024, 5, 2, 9, 0, 0))}), course)
    # the same file again: nothing to do
    again = collect(make_zip(tmp_path / "b.zip", {name: first}), course)
    assert again.placed[0].note == "already in submitted/ (unchanged)"
    # an older, different file: refused, the one there is kept
    older = collect(make_zip(tmp_path / "c.zip", {
        "jdoe_1_0_01_vanishing_exploding.ipynb": (answer(course, NB01, "v0"), (2024, 5, 1, 9, 0, 0)),
    }), course)
    assert dest.read_bytes() == first and older.placed == []
    assert older.unplaced[0].reason == (f"older than submitted/jdoe/{NB01}/{NB01}.ipynb (kept that one, "
                                        "2024-05-02 09:00)")
    # a newer one: replaces it, the old one is kept aside
    newer = collect(make_zip(tmp_path / "d.zip", {
        "jdoe_1_2_01_vanishing_exploding.ipynb": (answer(course, NB01, "v2"), (2024, 5, 3, 9, 0, 0)),
    }), course)
    assert dest.read_bytes() == answer(course, NB01, "v2")
    backup = course / "replaced" / "jdoe" / NB01 / f"{NB01}.20240502T090000.ipynb"
    assert backup.read_bytes() == first
    assert newer.placed[0].note == f"replaced an older file (kept in replaced/jdoe/{NB01}/{backup.name})"


def test_a_blackboard_name_gives_a_timestamp(course, tmp_path):
    download = make_zip(tmp_path / "bb.zip", {
        f"Homework1_jdoe_attempt_2024-05-02-15-00-00_{NB01}.ipynb": answer(course, NB01, "jdoe"),
    })
    report = collect(download, course)
    assert [(row.student, row.assignment) for row in report.placed] == [("jdoe", NB01)]
    assert (course / "submitted" / "jdoe" / NB01 / "timestamp.txt").read_text() == "2024-05-02 15:00:00.000000 UTC"
    assert lms_identities(course, NB01)["jdoe"]["lms"] == "blackboard"


def test_a_blackboard_receipt_gives_the_full_name_and_is_not_a_stray_file(course, tmp_path):
    stem = "Homework 1_jdoe_attempt_2024-05-02-15-00-00"
    download = make_zip(tmp_path / "bb.zip", {
        f"{stem}_{NB01}.ipynb": answer(course, NB01, "jdoe"),
        f"{stem}.txt": b"Name: Jane Doe (jdoe)\nAssignment: Homework 1\n"
                       b"Date Submitted: Thursday, May 2, 2024 3:00:00 PM EDT\n",
    })
    report = collect(download, course, timezone="America/New_York")
    assert report.unplaced == [] and [row.what for row in report.read] == ["Blackboard receipt: Jane Doe"]
    who = lms_identities(course, NB01)["jdoe"]
    assert (who["name"], who["lms_id"]) == ("Jane Doe", "jdoe")
    # 15:00 in New York (EDT, UTC-4) is 19:00 UTC, the zone nbgrader keeps
    assert (course / "submitted" / "jdoe" / NB01 / "timestamp.txt").read_text() == "2024-05-02 19:00:00.000000 UTC"


MOODLE_WORKSHEET = (
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Last modified (grade),Feedback comments\n"
    '"Participant 4242","Jane Roe",jroe@example.org,"Submitted for grading",,20.00,Yes,'
    '"Tuesday, 14 May 2024, 3:25 PM",-,\n'
    '"Participant 4243","Bo Li",bli@example.org,"Submitted for grading - Assignment was submitted 1 day late",,'
    '20.00,Yes,"Friday, 17 May 2024, 9:05 AM",-,\n'
    '"Participant 4244","Al Ng",ang@example.org,"No submission",,20.00,Yes,-,-,\n'
)


def _moodle_download(course: Path, folder: Path, worksheet: bool) -> Path:
    """Moodle's "Download all submissions", unzipped: a folder per participant, maybe the grading worksheet."""
    for name, participant in (("Jane Roe", 4242), ("Bo Li", 4243)):
        path = folder / f"{name}_{participant}_assignsubmission_file_" / f"{NB02}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(answer(course, NB02, name))
    if worksheet:
        (folder / "Grades-DNT-Homework 2-123.csv").write_text(MOODLE_WORKSHEET, encoding="utf-8-sig")
    return folder


def test_a_moodle_download_keeps_its_times_from_the_grading_worksheet(course, tmp_path):
    download = _moodle_download(course, tmp_path / "moodle", worksheet=True)
    report = collect(download, course)
    assert report.unplaced == [] and report.students == ["Bo Li", "Jane Roe"]
    assert [row.what for row in report.read] == ["Moodle grading worksheet: 2 submission times"]
    stamps = {path.parent.parent.name: path.read_text() for path in (course / "submitted").rglob("timestamp.txt")}
    assert stamps == {"Jane Roe": "2024-05-14 15:25:00.000000 UTC", "Bo Li": "2024-05-17 09:05:00.000000 UTC"}
    who = lms_identities(course, NB02)
    assert {student: (entry["participant_id"], entry["folder"]) for student, entry in who.items()} == {
        "Jane Roe": ("4242", "Jane Roe_4242_assignsubmission_file_"),
        "Bo Li": ("4243", "Bo Li_4243_assignsubmission_file_")}
    # nbgrader reads the file back as the same time
    from nbgrader.utils import parse_utc
    assert parse_utc(stamps["Bo Li"]) == datetime(2024, 5, 17, 9, 5)


def test_a_moodle_worksheet_given_apart_and_its_time_zone(course, tmp_path):
    download = _moodle_download(course, tmp_path / "moodle", worksheet=False)
    collect(download, course)
    assert not list((course / "submitted").rglob("timestamp.txt"))  # Moodle's download alone has no times
    sheet = tmp_path / "worksheet.csv"
    sheet.write_text(MOODLE_WORKSHEET)
    again = collect(download, course, worksheets=[sheet], timezone="Europe/Berlin")
    assert [row.note for row in again.placed] == ["already in submitted/ (unchanged)"] * 2
    stamp = course / "submitted" / "Jane Roe" / NB02 / "timestamp.txt"
    assert stamp.read_text() == "2024-05-14 13:25:00.000000 UTC"  # 15:25 in Berlin (CEST, UTC+2)
    with pytest.raises(ValueError, match="not a Moodle grading worksheet"):
        collect(download, course, worksheets=[tmp_path / "moodle" / "Jane Roe_4242_assignsubmission_file_" /
                                              f"{NB02}.ipynb"])
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        collect(download, course, timezone="Mars/Olympus")


def test_no_timestamp_file_without_an_lms_timestamp(course, tmp_path):
    download = make_zip(tmp_path / "c.zip", {"jdoe_1_2_01_vanishing_exploding.ipynb": answer(course, NB01)})
    collect(download, course)
    assert not (course / "submitted" / "jdoe" / NB01 / "timestamp.txt").exists()


def test_a_student_zip_inside_the_download_is_opened(course, tmp_path):
    inner = tmp_path / "inner.zip"
    make_zip(inner, {f"work/{NB01}.ipynb": answer(course, NB01, "jdoe"), "work/plot.png": PNG})
    download = make_zip(tmp_path / "canvas.zip", {"jdoe_11_22_submission.zip": inner.read_bytes()})
    report = collect(download, course)
    assert [(row.student, row.assignment) for row in report.placed] == [("jdoe", NB01)]
    assert report.placed[0].original == f"{download}:jdoe_11_22_submission.zip:work/{NB01}.ipynb"
    assert reasons(report) == {"plot.png": "not a notebook file (plot.png)"}


def test_only_the_assignments_asked_for(course, tmp_path):
    download = make_zip(tmp_path / "canvas.zip", {
        "jdoe_1_2_01_vanishing_exploding.ipynb": answer(course, NB01),
        "jdoe_1_3_02_initialization.ipynb": answer(course, NB02),
    })
    report = collect(download, course, assignments=[NB01])
    assert [row.assignment for row in report.placed] == [NB01]
    assert reasons(report) == {"jdoe_1_3_02_initialization.ipynb":
                               f"for assignment {NB02}, which was not collected"}
    with pytest.raises(ValueError, match="no release notebooks for \\['03_nope'\\]"):
        collect(download, course, assignments=["03_nope"])


def test_the_report_as_csv(course, tmp_path):
    download = make_zip(tmp_path / "canvas.zip", {
        "jdoe_1_2_01_vanishing_exploding.ipynb": answer(course, NB01),
        "notes.txt": b"x",
    })
    report = collect(download, course)
    path = report.to_csv(tmp_path / "intake.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"status": "placed", "student": "jdoe", "assignment": NB01, "notebook": f"{NB01}.ipynb",
         "original": f"{download}:jdoe_1_2_01_vanishing_exploding.ipynb", "note": ""},
        {"status": "not placed", "student": "", "assignment": "", "notebook": "",
         "original": f"{download}:notes.txt", "note": "not a notebook file (notes.txt)"},
    ]
    assert str(report) == f"placed 1 notebook of 1 student; 1 file could not be placed (see {path})"


def test_the_report_rows():
    report = CollectReport([Placed("a", "x", "x.ipynb", "dl/a.ipynb")], [Unplaced("dl/b.txt", "why")])
    assert report.students == ["a"]
    assert copy.deepcopy(report) == report


def test_a_source_that_is_neither_zip_nor_folder(course, tmp_path):
    path = tmp_path / "download.rar"
    path.write_bytes(b"Rar!")
    with pytest.raises(ValueError, match="neither a zip file nor a folder"):
        collect(path, course)


def test_the_download_must_not_be_the_course(course):
    with pytest.raises(ValueError, match="must not contain each other"):
        collect(course, course)
    (course / "submitted").mkdir()
    with pytest.raises(ValueError, match="must not contain each other"):
        collect(course / "submitted", course)


def test_content_match_needs_one_clear_winner(course, tmp_path):
    """A notebook sharing only the course-wide cells (header, name) with the releases is not guessed."""
    header_only = release(course, NB01)
    header_only.cells = [cell for cell in header_only.cells if grade_id(cell) == "header-instructions"
                         or cell.get("id") == "student-name"]
    download = make_zip(tmp_path / "canvas.zip",
                        {"jdoe_1_2_scratch.ipynb": nbformat.writes(header_only).encode()})
    report = collect(download, course)
    assert report.placed == []
    assert list(reasons(report).values())[0].startswith("not a notebook for any assignment")
