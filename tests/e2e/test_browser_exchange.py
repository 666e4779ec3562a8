"""nbgrader's workflow as the people who click it: a student's Assignments tab, the instructor's formgrader.

A student's JupyterLab (as `make lab` configures it: no instructor tools) lists the released notebook 05 (the
quickest to run) in the Assignments tab; *Fetch* brings it, *Validate* runs it, *Submit* submits it. The
instructor collects, grades with `python -m autograder grade`, opens the formgrader (as `make instructor`
does), finds the graded submission and scores the written answer there. Screenshots go to build/browser/.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from autograder.nbgrader.commands import nbgrader, nbgrader_environment
from autograder.selfcheck.courses import new_course
from tests.e2e.test_browser import CHROMIUM, LAB_SETTINGS, SCREENSHOTS, _free_port, _require_browser
from tests.tiny_course import GRADING_SANDBOX

pytestmark = [pytest.mark.notebooks, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = NOTEBOOK_STEM = "05_gradient_clipping"
COURSE_ID = "deep-networks-that-train"
STUDENT = pwd.getpwuid(os.geteuid()).pw_name  # nbgrader names the student by the Unix user


def _written_score(course: Path) -> float | None:
    """The written answer's manual score in the course's gradebook (None until one is saved)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return gradebook.find_grade("ex5-written", NOTEBOOK_STEM, ASSIGNMENT, STUDENT).manual_score


def _answered_late(route) -> None:
    """Hold a request for 3 s before it goes on to the server."""
    time.sleep(3)
    route.continue_()


def _start_lab(root: Path, tmp: Path, *, student: bool) -> tuple[subprocess.Popen, str, str]:
    settings = tmp / f"settings-{root.name}"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(nbgrader_environment(), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / f"workspaces-{root.name}"))
    env.pop("JUPYTER_CONFIG_PATH", None)
    if student:  # as `make lab`: the student config
        env.update(JUPYTER_CONFIG_PATH=str(ROOT / "tools" / "jupyter-student"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp / f"lab-{root.name}.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            return server, base, token
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not start: {(tmp / f'lab-{root.name}.log').read_text()[-2000:]}")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def chromium():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _row(page, list_id: str, text: str):
    return page.locator(f"#{list_id} .list_item", has_text=text).first


def test_a_student_fetches_validates_and_submits_and_the_instructor_grades_in_the_formgrader(chromium, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    course = new_course(tmp_path / "course", [ASSIGNMENT])
    nbgrader(["release_assignment", ASSIGNMENT, f"--Exchange.root={exchange}"], cwd=course)
    home = tmp_path / "home"
    home.mkdir()
    (home / "nbgrader_config.py").write_text(f"c.Exchange.root = {str(exchange)!r}\n"
                                             f"c.CourseDirectory.course_id = {COURSE_ID!r}\n")

    # --- the student ----------------------------------------------------------------------------------
    server, base, token = _start_lab(home, tmp_path, student=True)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{base}/lab?reset&token={token}")
        page.locator("#jp-main-dock-panel").wait_for(timeout=120_000)
        menu = page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
        menu.click()
        items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        assert "Assignment List" in items, items
        assert not {"Formgrader", "Course List", "Create Assignment"} & set(items), \
            f"a student's JupyterLab offers instructor tools: {items}"
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        released = _row(page, "released_assignments_list", ASSIGNMENT)
        released.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "exchange-1-assignments-tab.png"))
        released.get_by_role("button", name="Fetch").click()
        fetched = _row(page, "fetched_assignments_list", ASSIGNMENT)
        fetched.wait_for(timeout=60_000)
        assert (home / ASSIGNMENT / f"{NOTEBOOK_STEM}.ipynb").exists(), "Fetch did not bring the notebook"

        # The notebook's Validate button sits in the assignment's collapsed row (its caret link expands it with
        # Bootstrap, which JupyterLab does not load): click the button itself.
        validate = page.locator("#fetched_assignments_list .nested_list_item", has_text=NOTEBOOK_STEM) \
            .locator("button", has_text="Validate")
        validate.wait_for(state="attached", timeout=30_000)
        validate.dispatch_event("click")
        dialog = page.locator(".jp-Dialog-content")
        dialog.wait_for(timeout=300_000)  # Validate runs the whole notebook
        verdict = dialog.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "exchange-2-validate.png"))
        # the blank notebook: nbgrader's validation lists the tests that fail for want of an answer
        assert "NotImplementedError" in verdict or "failed" in verdict.lower(), verdict[:500]
        page.locator(".jp-Dialog").get_by_role("button").last.click()  # close the verdict
        dialog.wait_for(state="detached", timeout=30_000)

        _row(page, "fetched_assignments_list", ASSIGNMENT).get_by_role("button", name="Submit").click()
        submitted = _row(page, "submitted_assignments_list", ASSIGNMENT)
        submitted.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "exchange-3-submitted.png"))
    finally:
        page.close()
        _stop(server)

    # --- the instructor -------------------------------------------------------------------------------
    nbgrader(["collect", ASSIGNMENT, f"--Exchange.root={exchange}"], cwd=course)
    assert (course / "submitted" / STUDENT / ASSIGNMENT / f"{NOTEBOOK_STEM}.ipynb").exists()
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--course", str(course),
                             "--sandbox", GRADING_SANDBOX, "--no-feedback"], cwd=course, capture_output=True,
                            text=True, env=nbgrader_environment(), timeout=1200)
    assert graded.returncode == 0, graded.stdout + graded.stderr[-2000:]

    server, base, token = _start_lab(course, tmp_path, student=False)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # The instructor opens JupyterLab (which logs the browser in), then the formgrader.
        page.goto(f"{base}/lab?reset&token={token}")
        page.locator("#jp-main-dock-panel").wait_for(timeout=120_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        assert "Formgrader" in page.locator(".lm-Menu-itemLabel").all_inner_texts()
        page.keyboard.press("Escape")
        page.goto(f"{base}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK_STEM}")
        link = page.locator("a[href*='/formgrader/submissions/']").first  # names are hidden by default
        try:
            link.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "debug-formgrader.png"))
            (SCREENSHOTS / "debug-formgrader.html").write_text(page.content())
            raise
        page.screenshot(path=str(SCREENSHOTS / "exchange-4-formgrader-submissions.png"))
        # Answer the page's grade fetch late, as a busy server does, so that the test meets the race it guards.
        page.route("**/formgrader/api/grades?*", _answered_late)
        link.click()
        score = page.locator("input.score#ex5-written")
        score.wait_for(timeout=60_000)
        # The page fetches its grades after loading and only then binds each score input (and resets it to the
        # stored score): a score typed before that is wiped and never sent. Wait for formgrade.js to finish.
        page.wait_for_function("() => window.formgrader && formgrader.grades && formgrader.grades.loaded === true",
                               timeout=120_000)
        score.fill("1.5")
        score.press("Tab")  # the formgrader saves a score when its input loses focus
        # The save is a request the page sends: keep the page open until the gradebook holds the score (a busy
        # machine can take many seconds; closing the page first would drop it).
        deadline = time.monotonic() + 120
        while _written_score(course) != 1.5 and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        page.screenshot(path=str(SCREENSHOTS / "exchange-5-formgrader-written-answer.png"))
    finally:
        page.close()
        _stop(server)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, STUDENT)
        written = gradebook.find_grade("ex5-written", NOTEBOOK_STEM, ASSIGNMENT, STUDENT)
        assert written.manual_score == 1.5, "the score typed in the formgrader did not reach the gradebook"
        assert submission.code_score == 0 and submission.written_score == 1.5
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
