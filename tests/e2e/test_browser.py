"""The release notebooks in a real browser: JupyterLab, Debian's Chromium, driven by Playwright.

For each release notebook: open it in JupyterLab, run every cell in turn (as a student pressing
Shift+Enter), and check that the only errors are the blank exercises' ``NotImplementedError`` (and the
visible tests under them, which fail for want of an answer), that every explorer widget shows its
controls and a plot, and that moving a control redraws the plot. Screenshots of each notebook's
explorers, before and after the move, are saved under ``build/browser/`` (the path is printed).

Skipped where no Chromium or Playwright is installed, unless ``COURSE_REQUIRE_BROWSER=1`` (CI sets it):
then a missing browser is a failure.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from autograder.nbgrader import notebooks
from autograder.publish.links import release_notebooks

pytestmark = [pytest.mark.notebooks, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM = next((path for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium"))
                 if path and Path(path).exists()), None)
CELL_TIMEOUT_MS = 180_000
# JupyterLab settings for the test: every cell in the page (no virtual scrolling), no news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
}


def _require_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    else:
        missing = None if CHROMIUM else "Chromium (apt-get install chromium)"
    if missing:
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but {missing} is not installed")
        pytest.skip(f"{missing} is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A headless JupyterLab on a free loopback port with a token, serving a copy of release/."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "release", tmp / "release")  # JupyterLab saves into it: never the real release/
    settings = tmp / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), TF_CPP_MIN_LOG_LEVEL="3",
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))  # nothing restored from earlier sessions
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp / 'release'}",
               "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(tmp / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield {"base": base, "token": token, "root": tmp / "release"}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _run_every_cell(page, panel) -> int:
    """Shift+Enter through the notebook, each code cell run to its end; returns the number of code cells."""
    from playwright.sync_api import expect

    cells = panel.locator(".jp-Notebook .jp-Cell")
    total = cells.count()
    cells.nth(0).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")  # command mode: Shift+Enter runs the selected cell and selects the next
    ran = 0
    for index in range(total):
        cell = cells.nth(index)
        is_code = "jp-CodeCell" in (cell.get_attribute("class") or "")
        page.keyboard.press("Shift+Enter")
        if not is_code:
            continue
        prompt = cell.locator(".jp-InputPrompt")
        for _ in range(3):  # a key press while the kernel is still connecting runs nothing: press again
            try:
                expect(prompt).not_to_have_text("[ ]:", timeout=15_000)
                break
            except AssertionError:
                prompt.click()
                page.keyboard.press("Escape")
                page.keyboard.press("Shift+Enter")
        expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=CELL_TIMEOUT_MS)
        ran += 1
    return ran


def _defined_names(source: str) -> set[str]:
    """Top-level names a cell defines (functions, classes, assignments); none if it does not parse."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return set()
    names = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}
    return names


def _unexpected_errors(path: Path) -> tuple[list, set[str]]:
    """The errors in a saved blank release that it must not show, and the test cells that failed.

    Expected: any failure of a visible test (the answer is blank); ``NotImplementedError`` anywhere (a
    blank exercise's function called), also as the course's sentence for it ("... the exercise is not
    written yet", when a course helper called the blank function through ``checks.call``); and a
    ``NameError`` for a name that only a blank exercise, or a cell that itself failed for an expected
    reason, would have defined.
    """
    unexpected, failed_tests, undefined_ok = [], set(), set()
    for cell in notebooks.read(path).cells:
        if cell.cell_type != "code":
            continue
        meta = notebooks.nbgrader_meta(cell)
        kind = "exercise" if meta.get("solution") else "tests" if meta.get("grade") else "body"
        if kind == "exercise":
            undefined_ok |= _defined_names(cell.source) | _defined_names(_solution_source(path, meta))
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            ename, evalue = output.get("ename"), output.get("evalue", "")
            missing = re.fullmatch(r"name '(\w+)' is not defined", evalue)
            if kind == "tests":
                failed_tests.add(meta.get("grade_id"))
            elif (ename == "NotImplementedError" or (ename == "NameError" and missing and missing[1] in undefined_ok)
                  or (ename == "AssertionError" and "the exercise is not written yet" in evalue)):
                undefined_ok |= _defined_names(cell.source)  # what this cell would have defined is missing too
            else:
                unexpected.append((meta.get("grade_id") or cell.get("id"), kind, ename, evalue))
    return unexpected, failed_tests


def _solution_source(release_path: Path, meta: dict) -> str:
    """The source notebook's version of an exercise cell (the release's is only a stub)."""
    source = ROOT / "source" / release_path.parent.name / release_path.name
    return next((cell.source for cell in notebooks.read(source).cells
                 if notebooks.nbgrader_meta(cell).get("grade_id") == meta.get("grade_id")), "")


def _check_explorers(page, panel, name: str) -> int:
    """Every explorer shows controls and a plot, and redraws when a control moves; the number of explorers."""
    explorers = panel.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-image"))
    count = explorers.count()
    for index in range(count):
        explorer = explorers.nth(index)
        explorer.scroll_into_view_if_needed()
        image = explorer.locator(".widget-image").first
        # a slider can be disabled (a parameter the chosen activation does not have): move an enabled one
        sliders = explorer.locator(".noUi-target:not([disabled]) .noUi-handle")
        dropdowns = explorer.locator(".widget-dropdown select")
        assert sliders.count() + dropdowns.count() >= 1, f"{name}: explorer {index + 1} shows no controls"
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                               timeout=60_000)
        before = image.get_attribute("src")
        explorer.screenshot(path=str(SCREENSHOTS / f"{name}-explorer-{index + 1}-before.png"))  # beside the moved one
        if sliders.count():
            sliders.first.focus()
            page.keyboard.press("End")  # to the slider's far end: a different value whatever it started at
        else:
            options = dropdowns.first.locator("option").all_inner_texts()
            current = dropdowns.first.input_value()
            dropdowns.first.select_option(index=1 if options and current != options[1] else 0)
        page.wait_for_function("([img, before]) => img.src !== before", arg=[image.element_handle(), before],
                               timeout=60_000)
        explorer.screenshot(path=str(SCREENSHOTS / f"{name}-explorer-{index + 1}.png"))
    return count


@pytest.mark.parametrize("path", release_notebooks(ROOT), ids=lambda path: Path(path).stem)
def test_notebook_runs_in_jupyterlab_and_its_explorers_respond(lab, browser, path, request):
    relative = Path(path).relative_to("release")
    name = relative.stem
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # ?reset: a fresh workspace, this notebook the only one open
        page.goto(f"{lab['base']}/lab/tree/{relative.as_posix()}?reset&token={lab['token']}")
        panel = page.locator(".jp-NotebookPanel:visible")
        panel.locator(".jp-Cell").first.wait_for(timeout=120_000)
        panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
        page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=120_000)
        # nbgrader's student extension: the Validate button in the notebook's toolbar
        assert panel.locator(".jp-Toolbar").get_by_text("Validate", exact=True).count() >= 1, "no Validate button"
        try:
            ran = _run_every_cell(page, panel)
            explorers = _check_explorers(page, panel, name)
        finally:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        saved = (lab["root"] / relative).stat().st_mtime
        page.keyboard.press("Control+s")
        for _ in range(60):
            if (lab["root"] / relative).stat().st_mtime != saved:
                break
            page.wait_for_timeout(500)
        page.wait_for_timeout(500)
    finally:
        page.close()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"\n{name}: {ran} code cells run, {explorers} explorer(s); "
                            f"screenshots in {SCREENSHOTS}")

    assert explorers >= 1, f"{name}: no explorer widget rendered"
    unexpected, failed_tests = _unexpected_errors(lab["root"] / relative)
    assert not unexpected, f"{name}: errors other than those of the blank exercises: {unexpected}"
    source = ROOT / "source" / relative
    graded = {notebooks.grade_id(cell) for cell in notebooks.read(source).cells
              if notebooks.nbgrader_meta(cell).get("grade") and cell.cell_type == "code"}
    assert failed_tests == graded, f"{name}: blank, every visible test must fail; these passed: " \
                                   f"{sorted(graded - failed_tests)}"
