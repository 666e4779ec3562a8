"""autograder.intake: an LMS download (zip or folder) placed in nbgrader's submitted/ layout."""

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

from autograder.intake import CollectReport, Placed, Unplaced, collect
from autograder.notebooks import grade_id

ROOT = Path(__file__).resolve().parent.parent
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
    """Every file under submitted/: relative path -> content."""
    root = course / "submitted"
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()} if root.exists() else {}


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
    assert str(report) == ("placed 4 notebooks of 3 students; 1 file could not be placed "
                           "(see the report's unplaced rows)")
    assert download.read_bytes() == before
    assert not (course / "source").exists()


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
    assert (course / "submitted" / "jdoe" / NB01 / "timestamp.txt").read_text() == "2024-05-02 15:00:00"


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
