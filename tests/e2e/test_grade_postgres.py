"""``grade --db-url postgresql://...``: the gradebook of a large class on a PostgreSQL server.

A throw-away PostgreSQL cluster (initdb, pg_ctl) on a loopback port; a few tiny-course students are
graded into it and nbgrader's own API reads the grades back. Skipped where PostgreSQL's server
programs or psycopg are missing, unless ``COURSE_REQUIRE_POSTGRES=1`` (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from autograder.grade.coordinator import Limits, grade, local_runner
from autograder.nbgrader.course import Course
from tests import tiny_course as tiny

pytestmark = pytest.mark.notebooks


def _server_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _require_postgres() -> Path:
    missing = None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing = "psycopg (pip install 'psycopg[binary]')"
    server = _server_bin()
    if server is None:
        missing = "PostgreSQL's server programs (apt-get install postgresql)"
    if missing:
        if os.environ.get("COURSE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"COURSE_REQUIRE_POSTGRES=1 but {missing} is not installed")
        pytest.skip(f"{missing} is not installed")
    return server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    server = _require_postgres()
    data = Path(tempfile.mkdtemp(prefix="course-pg-", dir="/tmp"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, str(server / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "grader"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(server / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                    "-o", f"-p {port} -h 127.0.0.1 -k {data}", "start"], check=True, capture_output=True)
    try:
        subprocess.run([*as_user, str(server / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader",
                        "gradebook"], check=True, capture_output=True)
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run([*as_user, str(server / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_grades_go_to_a_postgresql_gradebook(tmp_path, postgres_url):
    from nbgrader.api import Gradebook

    root = tiny.build(tmp_path / "course")
    release = tiny.release(root)
    answers = {"full": tiny.HONEST, "half": tiny.HONEST | {"ex2-mean": "def mean(xs):\n    return 0"},
               "none": {}}
    for student, cells in answers.items():
        folder = root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / tiny.NOTEBOOK).write_text(__import__("nbformat").writes(tiny.with_answers(release, cells)))
    course = Course(root, db_url=postgres_url)
    rows = grade(course, tiny.ASSIGNMENT, limits=Limits(timeout=120, cell_timeout=10), runner=local_runner(3),
                 log=lambda line: None)
    assert {row.student: row.score for row in rows} == {"full": 5, "half": 2, "none": 0}
    with Gradebook(postgres_url) as gradebook:
        stored = {s.student_id: s.code_score for s in gradebook.assignment_submissions(tiny.ASSIGNMENT)}
    assert stored == {"full": 5, "half": 2, "none": 0}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as local:  # the course's SQLite file got no grades
        assert local.assignment_submissions(tiny.ASSIGNMENT) == []
