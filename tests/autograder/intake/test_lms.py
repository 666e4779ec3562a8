"""The LMS route of the README, run as written: collect -> grade -> written score -> feedback -> export -> handback.

A small course (two autograded exercises and a written answer, no TensorFlow) receives downloads as Canvas
and Moodle make them. A Canvas ``late`` file must show up as late on the student's row and in the CSV; a
Moodle download keeps its times (the grading worksheet's), nbgrader's due date then gives its late penalty;
the written score typed into the gradebook reaches ``nbgrader export``'s grades.csv, and every student's
feedback lands in the layout the LMS takes back in bulk.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import REPO_ROOT
from autograder.nbgrader.commands import nbgrader, nbgrader_environment
from tests.tiny_course import GRADING_SANDBOX

pytestmark = pytest.mark.notebooks

ASSIGNMENT, NOTEBOOK = "99_lms", "99_lms.ipynb"
LONG_MESSAGE = ("add(1, 2) gave {add(1, 2)}, but adding 1 and 2 must give 3: check that add returns a + b, "
                "not a - b or a * b, for any two numbers, negative ones too")
TITLES = {"ex1-tests": "Exercise 1 (2 points): `add`", "ex2-tests": "Exercise 2 (3 points): `mean`",
          "ex3-written": "Exercise 3 (2 points): in your words"}
PROSE = ("The loss reaches 2.31\n<!-- out: final loss -->, about ln 10, so the network learned nothing.\n\n"
         "| kind | option |\n|---|---|\n| `\"value\"` | `clipvalue` |\n| `\"norm\"` | `clipnorm` |")
MEAN = "def mean(xs):\n    return sum(xs) / len(xs)"
WRITTEN = "Because the sum of one number is that number."
ANSWERS = {  # student -> exercise cells
    "honest": {"ex1-add": "def add(a, b):\n    return a + b", "ex2-mean": MEAN, "ex3-written": WRITTEN},
    # the visible check of exercise 1 fails
    "subtracts": {"ex1-add": "def add(a, b):\n    return a - b", "ex2-mean": MEAN, "ex3-written": WRITTEN},
    # the visible check passes, a hidden one fails
    "constant": {"ex1-add": "def add(a, b):\n    return 3", "ex2-mean": MEAN, "ex3-written": WRITTEN},
}


def _meta(grade_id: str, **flags) -> dict:
    base = {"schema_version": 3, "grade": False, "solution": False, "locked": False, "task": False,
            "grade_id": grade_id}
    return {"nbgrader": base | flags}


def source_notebook() -> nbformat.NotebookNode:
    """Three exercises under their headings: two autograded (with hidden tests), one written (2 points)."""
    tests = {
        "ex1-tests": f'"""add adds."""\nassert add(1, 2) == 3, f"{LONG_MESSAGE}"\n'
                     "### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0, \"add(-5, 5) should be 0\"\n"
                     "### END HIDDEN TESTS",
        "ex2-tests": '"""mean averages."""\nassert mean([1, 2, 3]) == 2\n'
                     "### BEGIN HIDDEN TESTS\nassert mean([0.5]) == 0.5\n### END HIDDEN TESTS",
    }
    cells = [
        new_markdown_cell("# A small LMS course\nTwo exercises and a written answer.", id="title"),
        new_code_cell("import math", id="setup"),
        new_markdown_cell(f"## {TITLES['ex1-tests']}\n\n{PROSE}", id="ex1-intro"),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      id="ex1-add", metadata=_meta("ex1-add", solution=True)),
        new_code_cell(tests["ex1-tests"], id="ex1-tests", metadata=_meta("ex1-tests", grade=True, locked=True,
                                                                          points=2)),
        new_markdown_cell(f"## {TITLES['ex2-tests']}", id="ex2-intro"),
        new_code_cell("def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION",
                      id="ex2-mean", metadata=_meta("ex2-mean", solution=True)),
        new_code_cell(tests["ex2-tests"], id="ex2-tests", metadata=_meta("ex2-tests", grade=True, locked=True,
                                                                          points=3)),
        new_markdown_cell(f"## {TITLES['ex3-written']}\n\nWhy is the mean of one number that number?", id="ex3-intro"),
        new_markdown_cell("A sum of one term is the term; divided by 1 it stays.", id="ex3-written",
                          metadata=_meta("ex3-written", solution=True, grade=True, points=2)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


def build_course(root: Path, extra_config: str = "") -> Path:
    """The course, released, with the real course's nbgrader_config.py (plus ``extra_config``)."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    config = (REPO_ROOT / "nbgrader_config.py").read_text() + extra_config
    (root / "nbgrader_config.py").write_text(config)
    shutil.copy(REPO_ROOT / "source" / "header.ipynb", root / "source" / "header.ipynb")
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / NOTEBOOK)
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=root)
    return root


def student_notebook(root: Path, student: str) -> bytes:
    nb = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        answer = ANSWERS[student].get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if answer:
            cell.source = answer
    return nbformat.writes(nb).encode()


def run(course: Path, *args: str) -> subprocess.CompletedProcess:
    """A README command in the course directory: ``python -m autograder ...`` or ``nbgrader ...``."""
    env = nbgrader_environment()
    env.pop("PYTHONWARNINGS")  # an instructor's shell does not silence warnings: what it would print, we see
    result = subprocess.run([sys.executable, "-m", *args], cwd=course, capture_output=True, text=True, timeout=600,
                            env=env)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result


def csv_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row.get("student") or row["student_id"]: row for row in csv.DictReader(handle)}


MOODLE_PEOPLE = {"honest": ("Jane Roe", 4242, "Tuesday, 14 May 2024, 3:25 PM"),
                 "subtracts": ("Bo Li", 4243, "Friday, 17 May 2024, 9:05 AM")}
WORKSHEET_HEADER = ("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
                    "Last modified (submission),Last modified (grade),Feedback comments\n")


def moodle_download(course: Path, folder: Path) -> Path:
    """Moodle's "Download all submissions" (a folder per participant) with the grading worksheet beside it."""
    rows = []
    for student, (name, participant, when) in MOODLE_PEOPLE.items():
        path = folder / f"{name}_{participant}_assignsubmission_file_" / NOTEBOOK
        path.parent.mkdir(parents=True)
        path.write_bytes(student_notebook(course, student))
        rows.append(f'"Participant {participant}","{name}",x@example.org,"Submitted for grading",,7.00,Yes,'
                    f'"{when}",-,\n')
    (folder / "Grades-Course-Homework-77.csv").write_text(WORKSHEET_HEADER + "".join(rows))
    return folder


@pytest.fixture(scope="module")
def moodle_term(tmp_path_factory):
    """The README's LMS route on a Moodle download, with a due date between the two submissions."""
    root = tmp_path_factory.mktemp("moodle")
    course = build_course(root / "course", '\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    download = moodle_download(course, root / "download")
    steps = {"collect": run(course, "autograder", "collect", str(download))}
    # the due date, in the gradebook as nbgrader keeps it: Jane Roe is on time, Bo Li three days late
    steps["duedate"] = run(course, "nbgrader", "db", "assignment", "add", ASSIGNMENT,
                           "--duedate=2024-05-14 23:59:00 UTC")
    steps["grade"] = run(course, "autograder", "grade", ASSIGNMENT, "--sandbox", GRADING_SANDBOX,
                         "--workers", "2", "--timeout", "120", "--cell-timeout", "30")
    return course, steps


def test_moodle_times_reach_nbgrader_and_its_late_penalty(moodle_term):
    course, steps = moodle_term
    assert "read 1 file for times and names" in steps["collect"].stdout
    stamps = {student: (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()
              for student in ("Jane Roe", "Bo Li")}
    assert stamps == {"Jane Roe": "2024-05-14 15:25:00.000000 UTC", "Bo Li": "2024-05-17 09:05:00.000000 UTC"}
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        late = gradebook.find_submission(ASSIGNMENT, "Bo Li")
        on_time = gradebook.find_submission(ASSIGNMENT, "Jane Roe")
        assert (late.total_seconds_late, late.late_submission_penalty) == (2 * 86400 + 9 * 3600 + 6 * 60, 3)
        assert (on_time.total_seconds_late, on_time.late_submission_penalty) == (0, 0)
    rows = csv_rows(course / "reports" / f"{ASSIGNMENT}-grades.csv")
    assert rows["Bo Li"]["late"] == "late by 2 days 9 h 6 min, late penalty 3 points"
    assert rows["Jane Roe"]["late"] == ""


def test_the_report_counts_the_written_points_still_to_grade(moodle_term):
    course, steps = moodle_term
    rows = csv_rows(course / "reports" / f"{ASSIGNMENT}-grades.csv")
    assert {student: row["hand_graded_pending"] for student, row in rows.items()} == {"Bo Li": "2", "Jane Roe": "2"}
    assert "4 hand-graded points still to score for 2 students" in steps["grade"].stdout
    assert "graded 2 submissions" in steps["grade"].stdout


def test_grading_new_students_prints_no_sqlalchemy_warning(moodle_term):
    _, steps = moodle_term
    assert "SAWarning" not in steps["grade"].stderr and "not in session" not in steps["grade"].stderr


def test_the_lms_route_ends_with_the_written_points_in_grades_csv_and_feedback_to_hand_back(moodle_term, tmp_path):
    course, _ = moodle_term
    from nbgrader.api import Gradebook

    # make instructor: the formgrader stores a written score as the grade's manual_score, as here
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("ex3-written", "99_lms", ASSIGNMENT, "Jane Roe").manual_score = 1.5
        gradebook.db.commit()
    run(course, "nbgrader", "generate_feedback", ASSIGNMENT, "--force")
    run(course, "nbgrader", "export")
    exported = csv_rows(course / "grades.csv")
    assert (exported["Jane Roe"]["raw_score"], exported["Jane Roe"]["max_score"]) == ("6.5", "7.0")
    assert exported["Bo Li"]["late_submission_penalty"] == "3.0" and exported["Bo Li"]["score"] == "0.0"
    result = run(course, "autograder", "handback", ASSIGNMENT, str(tmp_path / "feedback.zip"), "--format", "moodle")
    with zipfile.ZipFile(tmp_path / "feedback.zip") as archive:
        assert sorted(archive.namelist()) == ["Bo Li_4243_assignsubmission_file_/99_lms.html",
                                              "Jane Roe_4242_assignsubmission_file_/99_lms.html"]
        page = archive.read("Jane Roe_4242_assignsubmission_file_/99_lms.html").decode()
    assert "Score: 1.5 / 2.0" in page  # the written score, in the feedback
    assert "2 hand-graded points not scored yet for 1 student (Bo Li)" in result.stdout
    files = run(course, "autograder", "handback", ASSIGNMENT, str(tmp_path / "by-id"))
    assert sorted(path.name for path in (tmp_path / "by-id").iterdir()) == ["4242_99_lms.html", "4243_99_lms.html"]
    assert "2 feedback files of 2 students" in files.stdout


@pytest.fixture(scope="module")
def canvas_term(tmp_path_factory):
    root = tmp_path_factory.mktemp("canvas")
    course = build_course(root / "course")
    download = root / "submissions.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr(f"roejane_late_48214_3312399_{NOTEBOOK}", student_notebook(course, "honest"))
        archive.writestr(f"libo_48215_3312400_{NOTEBOOK}", student_notebook(course, "subtracts"))
    collected = run(course, "autograder", "collect", str(download))
    graded = run(course, "autograder", "grade", ASSIGNMENT, "--sandbox", GRADING_SANDBOX, "--workers", "2",
                 "--timeout", "120", "--cell-timeout", "30")
    return course, collected, graded


def test_a_canvas_late_file_shows_up_as_late_on_the_row_and_in_the_csv(canvas_term):
    course, collected, graded = canvas_term
    assert "(1 marked late by the LMS)" in collected.stdout
    assert not list((course / "submitted").rglob("timestamp.txt"))  # Canvas gives no time
    rows = csv_rows(course / "reports" / f"{ASSIGNMENT}-grades.csv")
    assert rows["roejane"]["late"] == "late (marked by Canvas; the download gives no time)"
    assert rows["libo"]["late"] == ""
    assert ", late 1, " in graded.stdout
    page = (course / "reports" / f"{ASSIGNMENT}-report.html").read_text()
    assert "late (marked by Canvas; the download gives no time)" in page


def test_canvas_feedback_is_named_for_its_re_upload(canvas_term, tmp_path):
    course, _, _ = canvas_term
    run(course, "autograder", "handback", ASSIGNMENT, str(tmp_path / "canvas.zip"), "--format", "canvas")
    with zipfile.ZipFile(tmp_path / "canvas.zip") as archive:
        assert sorted(archive.namelist()) == ["libo_48215_3312400_99_lms.html", "roejane_48214_3312399_99_lms.html"]
    # Moodle's layout needs Moodle's participant ids: nothing to lay out, and the command says why
    result = subprocess.run([sys.executable, "-m", "autograder", "handback", ASSIGNMENT, str(tmp_path / "m.zip"),
                             "--format", "moodle"], cwd=course, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "not collected from a Moodle download: no participant id" in result.stdout
