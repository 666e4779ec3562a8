"""A term on nbgrader's own exchange, with real Unix users for the students (needs root, as in CI).

The instructor releases notebook 05 (the quickest to run) with `nbgrader release_assignment`; three student
users list, fetch, work (a correct answer, a wrong one, a blank) and submit, the blank one after the due date;
the instructor collects, grades with `python -m autograder grade`, scores the written answer through the
formgrader's HTTP API, generates and releases feedback; each student fetches it back and finds their own
scores and no hidden test. Students run nbgrader from their own Python environment (the instructor's lies
under /root, which other users cannot enter), as on a real JupyterHub.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.nbgrader import notebooks
from autograder.nbgrader.commands import nbgrader, nbgrader_environment
from autograder.selfcheck.courses import new_course
from tests.submissions import nb05
from tests.tiny_course import GRADING_SANDBOX

pytestmark = [pytest.mark.notebooks,
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"),
                                 reason="needs root (useradd, runuser) for separate student users")]

ASSIGNMENT, NOTEBOOK = nb05.ASSIGNMENT, nb05.NOTEBOOK
COURSE_ID = "deep-networks-that-train"
STUDENTS = {"dntt-correct": "correct", "dntt-wrong": "wrong", "dntt-blank": "blank"}
STUDENT_PYTHON = Path("/var/tmp/dntt-student-python")  # a student environment with nbgrader only
EX2 = "ex2-clip-global-norm"  # the exercise the wrong student gets wrong (ex2-tests: 4 points)
WRONG_EX2 = next(name for name, (cell, _) in nb05.WRONG.items() if cell == EX2)


def _nbgrader_closure() -> list[importlib.metadata.Distribution]:
    """nbgrader and every distribution it requires (with the extras asked for), as installed here."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    todo = [("nbgrader", "")]
    while todo:
        name, extra = todo.pop()
        name = canonicalize_name(name)
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            dist = found.get(name) or importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement for another platform
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo += [(requirement.name, wanted) for wanted in ("", *requirement.extras)]
    return list(found.values())


def _student_python() -> Path:
    """A Python outside /root with this nbgrader and its requirements (built once).

    The system Python's venv, filled with a copy of the installed files of nbgrader's requirement closure
    (the same versions as the instructor's, in seconds rather than minutes of pip).
    """
    version = importlib.metadata.version("nbgrader")
    python = STUDENT_PYTHON / "bin" / "python"
    marker = STUDENT_PYTHON / f".nbgrader-{version}"
    if not marker.exists():
        shutil.rmtree(STUDENT_PYTHON, ignore_errors=True)
        system_python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
        subprocess.run([system_python, "-m", "venv", "--without-pip", str(STUDENT_PYTHON)], check=True)
        site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        for dist in _nbgrader_closure():
            for file in dist.files or []:
                if ".." in file.parts or "__pycache__" in file.parts:
                    continue  # scripts in bin/ (students run python -m nbgrader), bytecode
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dist.locate_file(file), site / file)
        subprocess.run([str(python), "-c", "import nbgrader.apps"], check=True)  # it imports on its own
        marker.touch()
        subprocess.run(["chmod", "-R", "a+rX", str(STUDENT_PYTHON)], check=True)
    return python


def _add_user(name: str, home: Path) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", name],
                       check=True)
    home.mkdir(parents=True, exist_ok=True)
    shutil.chown(home, name, name)
    home.chmod(0o700)


def _as_student(name: str, home: Path, args: list[str]) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` run as the student user, in their home, with their own Python."""
    env = {"HOME": str(home), "USER": name, "LOGNAME": name, "PATH": f"{STUDENT_PYTHON / 'bin'}:/usr/bin:/bin",
           "LANG": "C.UTF-8"}
    result = subprocess.run(["runuser", "-u", name, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()],
                             str(STUDENT_PYTHON / "bin" / "python"), "-m", "nbgrader", *args],
                            cwd=home, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{name}: nbgrader {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def _instructor(course: Path, args: list[str], exchange: Path) -> subprocess.CompletedProcess:
    return nbgrader([*args, f"--Exchange.root={exchange}"], cwd=course)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read().decode())


def _score_written_answer(course: Path, student: str, points: float) -> dict:
    """Set the written answer's manual score through the formgrader's HTTP API, as its page does."""
    port, token = _free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}"],
        cwd=course, env=nbgrader_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _api(base, token, "/formgrader/api/status")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the formgrader did not start"
                time.sleep(0.5)
        submissions = _api(base, token, f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{Path(NOTEBOOK).stem}")
        submission = next(item for item in submissions if item["student"] == student)
        grades = _api(base, token, f"/formgrader/api/grades?submission_id={submission['id']}")
        written = next(grade for grade in grades if grade["name"] == "ex5-written")
        return _api(base, token, f"/formgrader/api/grade/{written['id']}", "PUT", {"manual_score": points})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def term():
    """The whole term, once: release, fetch, submit, collect, grade, a manual grade, feedback, fetch_feedback."""
    _student_python()
    base = Path(tempfile.mkdtemp(prefix="dntt-term-", dir="/var/tmp"))
    base.chmod(0o755)
    exchange = base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # nbgrader's documented exchange permissions: everyone may read and write
    course = new_course(base / "instructor" / "course", [ASSIGNMENT])
    (base / "instructor").chmod(0o700)
    _instructor(course, ["release_assignment", ASSIGNMENT], exchange)

    release = notebooks.read(course / "release" / ASSIGNMENT / NOTEBOOK)
    source = notebooks.read(course / "source" / ASSIGNMENT / NOTEBOOK)
    solved = notebooks.solved(release, source)
    work = {"correct": solved,
            "wrong": notebooks.with_cells_replaced(solved, {EX2: nb05.WRONG[WRONG_EX2][1]}),
            "blank": None}  # hands in what it fetched
    homes, listings = {}, {}
    for name in STUDENTS:
        homes[name] = base / "home" / name
        (base / "home").mkdir(exist_ok=True)
        (base / "home").chmod(0o755)
        _add_user(name, homes[name])
        config = f"c.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
        (homes[name] / "nbgrader_config.py").write_text(config)
        shutil.chown(homes[name] / "nbgrader_config.py", name, name)

    due = None
    for name, kind in STUDENTS.items():
        listed = _as_student(name, homes[name], ["list"])
        listings[name] = listed.stdout + listed.stderr
        _as_student(name, homes[name], ["fetch_assignment", ASSIGNMENT])
        path = homes[name] / ASSIGNMENT / NOTEBOOK
        if work[kind] is not None:
            nbformat.write(work[kind], str(path))
            shutil.chown(path, name, name)
        if kind == "blank":  # the last one: due before it submits
            due = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            time.sleep(1.5)
        _as_student(name, homes[name], ["submit", ASSIGNMENT])

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=due)
    _instructor(course, ["collect", ASSIGNMENT], exchange)
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--course", str(course),
                             "--workers", "2", "--sandbox", GRADING_SANDBOX, "--no-feedback"],
                            cwd=course, capture_output=True, text=True, env=nbgrader_environment(), timeout=1800)
    assert graded.returncode == 0, graded.stdout + graded.stderr[-3000:]
    manual = _score_written_answer(course, "dntt-correct", 2.0)
    _instructor(course, ["generate_feedback", ASSIGNMENT, "--force"], exchange)
    _instructor(course, ["release_feedback", ASSIGNMENT], exchange)
    feedback = {}
    for name in STUDENTS:
        _as_student(name, homes[name], ["fetch_feedback", ASSIGNMENT])
        pages = sorted((homes[name] / ASSIGNMENT / "feedback").glob("*/*.html"))
        feedback[name] = pages[-1].read_text() if pages else ""
    yield {"course": course, "listings": listings, "feedback": feedback, "manual": manual, "due": due,
           "grade_output": graded.stdout, "source": source}
    for name in STUDENTS:
        subprocess.run(["userdel", name], check=False)
    shutil.rmtree(base, ignore_errors=True)


def test_students_see_the_released_assignment(term):
    for name, listing in term["listings"].items():
        assert f"{COURSE_ID} {ASSIGNMENT}" in listing, f"{name}: {listing}"


def test_grade_gives_each_student_their_score_and_keeps_the_late_submission(term):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{term['course'] / 'gradebook.db'}") as gradebook:
        submissions = {s.student_id: s for s in gradebook.assignment_submissions(ASSIGNMENT)}
        scores = {name: (s.code_score, s.written_score, s.total_seconds_late) for name, s in submissions.items()}
    assert scores["dntt-correct"][:2] == (18, 2)
    assert scores["dntt-wrong"][:2] == (18 - 4, 0)  # ex2-tests' 4 points lost
    assert scores["dntt-blank"][:2] == (0, 0)
    assert scores["dntt-correct"][2] == 0 and scores["dntt-wrong"][2] == 0
    assert scores["dntt-blank"][2] > 0, "the blank student submitted after the due date: nbgrader's timestamp"


def test_the_formgrader_took_the_manual_grade(term):
    assert term["manual"]["manual_score"] == 2.0 and term["manual"]["needs_manual_grade"] is False


def _visible(page: str) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_each_student_fetches_feedback_with_their_scores_and_no_hidden_test(term):
    hidden, elsewhere = set(), set()
    region = r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS"
    for cell in term["source"].cells:
        for text in re.findall(region, cell.source, re.S):
            hidden |= {line.strip() for line in text.splitlines() if len(line.strip()) > 25}
        elsewhere |= {line.strip() for line in re.sub(region, "", cell.source, flags=re.S).splitlines()}
    hidden -= elsewhere  # a line the student writes too (in a solution) proves nothing
    assert hidden
    expected = {"dntt-correct": "Score: 20.0 / 20.0", "dntt-wrong": "Score: 14.0 / 20.0",
                "dntt-blank": "Score: 0.0 / 20.0"}
    for name, page in term["feedback"].items():
        text = _visible(page)
        assert expected[name] in " ".join(text.split()), f"{name}: {expected[name]} not in the feedback"
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{name}'s feedback shows hidden tests: {leaked[:2]}"
