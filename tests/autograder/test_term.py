"""An instructor's term in a throw-away git repository: no command loses grades, no student data in git.

The repository is built from this working tree's files that a term uses (Makefile, .gitignore, nbgrader's
config, packaging) with the tiny course (two autograded exercises and a written answer) as its only
assignment. The term runs as the README says: ``make release`` (the Makefile's own target) and commit,
``collect`` an LMS zip of two students, ``grade``, a written score typed in (nbgrader's Gradebook API, as the
formgrader stores it), ``nbgrader generate_feedback`` and ``export``; then, mid-term, a test's typo fixed,
``make release`` again and commit, ``grade`` and ``grade --force``. The written score survives all of it, the
regrading uses the fixed test, every command that rewrites the gradebook keeps a copy first, and ``git status``
shows nothing the term wrote.
"""

from __future__ import annotations

import csv
import datetime
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from autograder.nbgrader.backup import backup_gradebook
from autograder.nbgrader.commands import nbgrader_environment
from tests import tiny_course as tiny

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT, NOTEBOOK = tiny.ASSIGNMENT, tiny.NOTEBOOK
WRITTEN, WRITTEN_POINTS, WRITTEN_SCORE = "written", 2.0, 1.5
AUTO_POINTS = sum(tiny.POINTS.values())
# What a term uses of the repository (tools/pip_section.py: the Makefile's install rule names it)
REPO_FILES = (".gitignore", "Makefile", "nbgrader_config.py", "pyproject.toml", "environment.yml",
              "tools/pip_section.py", "source/header.ipynb")
GIT = ["git", "-c", "user.name=Instructor", "-c", "user.email=instructor@example.org"]
TYPO, FIXED = '"""add adds."""', '"""add adds two numbers."""'  # ex1's test, fixed mid-term


def _source_notebook() -> nbformat.NotebookNode:
    """The tiny course's notebook with a written answer graded by hand."""
    nb = tiny.source_notebook()
    nb.cells.append(new_markdown_cell("Why does `mean` divide by `len(xs)`?", id="written-question"))
    nb.cells.append(new_markdown_cell("It averages the values.", id=WRITTEN, metadata={"nbgrader": {
        "schema_version": 3, "grade": True, "solution": True, "locked": False, "task": False,
        "grade_id": WRITTEN, "points": WRITTEN_POINTS}}))
    return nb


def _run(args: list[str], cwd: Path) -> str:
    """Run a command of the term in ``cwd``; its output (stdout and stderr), or a failure that shows it."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=nbgrader_environment())
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def make_release(course: Path, *variables: str) -> str:
    """``make release``, the Makefile's target itself, run in ``course`` with this test's environment.

    ``-o`` keeps make from reinstalling the environment (its install rule's inputs are not all here).
    """
    venv = Path(sys.prefix)
    return _run(["make", "-o", str(venv / ".installed"), "release", f"VENV={venv}", *variables], course)


def _autograder(course: Path, *args: str) -> str:
    return _run([sys.executable, "-m", "autograder", *args], course)


def _grade(course: Path, *args: str) -> str:
    return _autograder(course, "grade", ASSIGNMENT, "--sandbox", tiny.GRADING_SANDBOX, *args)


def _scores(db: Path, student: str) -> tuple[float | None, float] | str:
    """The student's written score (as typed in) and autograded points, from the gradebook at ``db``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{db}") as gradebook:
        try:
            written = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, ASSIGNMENT, student).manual_score
            return written, float(gradebook.find_submission(ASSIGNMENT, student).code_score)
        except MissingEntry:
            return f"the gradebook has no grade of {student}"


def _set_written_score(course: Path, student: str, score: float) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, ASSIGNMENT, student).manual_score = score
        gradebook.db.commit()


def _lms_zip(course: Path) -> Path:
    """A Canvas download in the course directory, where the README's ``collect downloads.zip`` reads it."""
    release = tiny.release(course)
    alice = tiny.with_answers(release, tiny.HONEST)
    for cell in alice.cells:
        if cell.get("id") == WRITTEN:
            cell.source = "Because the mean is the sum over the count."
    path = course / "downloads.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"alice_4821_331_{NOTEBOOK}", nbformat.writes(alice))
        archive.writestr(f"bob_4822_332_{NOTEBOOK}", nbformat.writes(release))
    return path


def _fix_a_typo(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    test = next(cell for cell in nb.cells if cell.get("id") == "ex1-tests")
    assert TYPO in test.source
    test.source = test.source.replace(TYPO, FIXED)
    nbformat.write(nb, path)


def _test_cell(path: Path) -> str:
    return next(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.get("id") == "ex1-tests")


def build_repository(dest: Path) -> Path:
    """A git repository holding this working tree's term files and the tiny course's source, committed."""
    for name in REPO_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    (dest / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(_source_notebook(), dest / "source" / ASSIGNMENT / NOTEBOOK)
    _run([*GIT, "init", "-q", "-b", "main"], dest)
    _run([*GIT, "add", "-A"], dest)
    _run([*GIT, "commit", "-q", "-m", "the course"], dest)
    return dest


@pytest.fixture(scope="module")
def term(tmp_path_factory) -> dict:
    """Run the term once; what each step left behind, for the tests below."""
    course = build_repository(tmp_path_factory.mktemp("term") / "course")
    seen: dict = {"course": course}
    make_release(course)
    _run([*GIT, "add", "release"], course)  # the README: commit release/
    _run([*GIT, "commit", "-q", "-m", "release"], course)
    _autograder(course, "collect", str(_lms_zip(course).relative_to(course)))
    seen["first grade"] = _grade(course)
    _set_written_score(course, "alice", WRITTEN_SCORE)
    _run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--force"], course)
    _run([sys.executable, "-m", "nbgrader", "export"], course)
    seen["scores"] = {"graded": _scores(course / "gradebook.db", "alice")}
    _fix_a_typo(course / "source" / ASSIGNMENT / NOTEBOOK)  # week 5: released again
    seen["release"] = make_release(course)
    _run([*GIT, "add", "source", "release"], course)
    _run([*GIT, "commit", "-q", "-m", "a typo fixed"], course)
    seen["scores"]["released again"] = _scores(course / "gradebook.db", "alice")
    seen["backups after release"] = sorted((course / "backups").glob("*"))
    seen["grade"] = _grade(course)
    seen["scores"]["graded again"] = _scores(course / "gradebook.db", "alice")
    seen["grade --force"] = _grade(course, "--force")
    seen["scores"]["regraded with --force"] = _scores(course / "gradebook.db", "alice")
    seen["regraded test"] = _test_cell(course / "autograded" / "alice" / ASSIGNMENT / NOTEBOOK)
    seen["backups"] = sorted((course / "backups").glob("*"))
    _run([sys.executable, "-m", "nbgrader", "export"], course)
    with open(course / "grades.csv", newline="") as handle:
        seen["export"] = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    seen["git status"] = _run(["git", "status", "--porcelain", "--untracked-files=all"], course)
    seen["ignored"] = _run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], course)
    return seen


@pytest.mark.notebooks
def test_the_written_score_survives_a_re_release_and_regrading(term):
    kept = (WRITTEN_SCORE, AUTO_POINTS)
    assert term["scores"] == {"graded": kept, "released again": kept, "graded again": kept,
                              "regraded with --force": kept}
    assert term["export"] == {"alice": AUTO_POINTS + WRITTEN_SCORE, "bob": 0.0}


@pytest.mark.notebooks
def test_grading_after_a_re_release_uses_the_changed_test(term):
    assert term["regraded test"].startswith(FIXED)  # the gradebook learned it: grade restores test cells from it


@pytest.mark.notebooks
def test_a_re_release_and_grade_force_keep_a_copy_of_the_gradebook_first(term):
    [after_release] = term["backups after release"]
    assert str(after_release) in term["release"]
    assert len(term["backups"]) == 2 and str(term["backups"][1]) in term["grade --force"]
    assert "gradebook copied" not in term["first grade"] + term["grade"]  # nothing was rewritten
    for backup in term["backups"]:
        assert backup.name.startswith("gradebook-") and backup.suffix == ".db"
        assert _scores(backup, "alice") == (WRITTEN_SCORE, AUTO_POINTS)


@pytest.mark.notebooks
def test_git_status_shows_nothing_the_term_wrote(term):
    course = term["course"]
    written = ["downloads.zip", "submitted", "autograded", "feedback", "reports", "grades.csv", "gradebook.db",
               "backups"]
    assert [name for name in written if not (course / name).exists()] == []
    ignored = {line.removeprefix("!! ").split("/")[0] for line in term["ignored"].splitlines()
               if line.startswith("!! ")}
    assert set(written) <= ignored  # the term wrote them and git ignores them
    assert term["git status"] == ""


def test_a_postgresql_gradebook_gets_the_pg_dump_line_and_no_copy(tmp_path):
    said = backup_gradebook("postgresql+psycopg://grader:secret@db.example.org/course", tmp_path)
    assert said and "pg_dump 'postgresql://grader:***@db.example.org/course' > backups/gradebook-" in said
    assert list(tmp_path.iterdir()) == []


def _gradebook_with_a_submission(path: Path) -> str:
    from nbgrader.api import Gradebook

    url = f"sqlite:///{path}"
    with Gradebook(url) as gradebook:
        gradebook.add_assignment(ASSIGNMENT)
        gradebook.add_student("alice")
        gradebook.add_submission(ASSIGNMENT, "alice")
    return url


def test_backups_in_the_same_second_do_not_overwrite_each_other(tmp_path):
    from nbgrader.api import Gradebook

    url = _gradebook_with_a_submission(tmp_path / "gradebook.db")
    now = datetime.datetime(2027, 3, 1, 9, 30, 5)
    with Gradebook(url):  # open elsewhere (the formgrader) while it is copied
        said = [backup_gradebook(url, tmp_path, now=now) for _ in range(2)]
    copies = sorted((tmp_path / "backups").iterdir())
    assert [path.name for path in copies] == ["gradebook-20270301-093005-2.db", "gradebook-20270301-093005.db"]
    assert all(str(path) in " ".join(said) for path in copies)
    for path in copies:
        with Gradebook(f"sqlite:///{path}") as gradebook:
            assert [s.student_id for s in gradebook.assignment_submissions(ASSIGNMENT)] == ["alice"]


def test_a_gradebook_without_submissions_is_not_copied(tmp_path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        gradebook.add_assignment(ASSIGNMENT)
    assert backup_gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", tmp_path) is None
    assert backup_gradebook(f"sqlite:///{tmp_path / 'none.db'}", tmp_path) is None
    assert not (tmp_path / "backups").exists()


def test_make_release_with_db_url_updates_that_gradebook(tmp_path):
    course = build_repository(tmp_path / "course")
    other = tmp_path / "term-gradebook.db"
    make_release(course, f"DB_URL=sqlite:///{other}")
    assert (course / "release" / ASSIGNMENT / NOTEBOOK).exists()
    assert not (course / "gradebook.db").exists()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{other}") as gradebook:
        assert [notebook.name for notebook in gradebook.find_assignment(ASSIGNMENT).notebooks] == ["99_tiny"]
