"""What an instructor sees: the grading report and a feedback page, rendered by headless Chromium.

A small course (tests/autograder/intake/test_lms.py: two autograded exercises under their headings, a written
answer, prose with a table and an ``<!-- out: -->`` marker) is collected from a Canvas download and graded with
the command line. Chromium (Debian's, driven by Playwright as in tests/e2e/test_browser.py; nothing is downloaded)
opens the report and two feedback pages, saves screenshots under ``build/browser/`` and checks in each page's
DOM what the report and the feedback must show. Skipped where no Chromium or Playwright is installed,
unless ``COURSE_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import zipfile

import pytest

from autograder.report.grades import heading_before, histogram_figure
from tests.autograder.intake.test_lms import ASSIGNMENT, LONG_MESSAGE, NOTEBOOK, build_course, run, student_notebook
from tests.autograder.intake.test_lms import TITLES as MARKDOWN_TITLES
from tests.e2e.test_browser import CHROMIUM, SCREENSHOTS, _require_browser
from tests.tiny_course import GRADING_SANDBOX

HIDDEN_NOTE = "(the details of this test are hidden)"
TITLES = {grade_id: title.replace("`", "") for grade_id, title in MARKDOWN_TITLES.items()}  # shown as plain text


def test_whole_number_scores_get_integer_ticks():
    figure = histogram_figure([18, 14, 14, 0], 18)
    ticks = [tick for tick in figure.axes[0].get_xticks() if -0.5 <= tick <= 18.5]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    assert [patch.get_height() for patch in figure.axes[0].patches if patch.get_height()] == [1, 2, 1]
    half_points = histogram_figure([17.5, 12], 18)
    assert any(not float(tick).is_integer() for tick in half_points.axes[0].get_xticks())  # the case it leaves alone


def test_an_exercise_is_named_by_the_nearest_heading_before_it():
    from nbformat.v4 import new_code_cell, new_markdown_cell

    cells = [new_markdown_cell("# Notebook\n\n## Exercise 2 (3 points): `mean`\n\nWrite it."),
             new_code_cell("# not a heading: a comment"),
             new_markdown_cell("Some prose.\n\n```\n# a shell comment in a fence\n```")]
    assert heading_before(cells) == "Exercise 2 (3 points): mean"  # as plain text
    assert heading_before([]) == ""


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-page")
    course = build_course(root / "course")
    download = root / "submissions.zip"
    with zipfile.ZipFile(download, "w") as archive:
        for index, student in enumerate(("honest", "subtracts", "constant")):
            late = "late_" if student == "constant" else ""
            name = f"{student}_{late}{100 + index}_{200 + index}_{NOTEBOOK}"
            archive.writestr(name, student_notebook(course, student))
    run(course, "autograder", "collect", str(download))
    run(course, "autograder", "grade", ASSIGNMENT, "--sandbox", GRADING_SANDBOX, "--workers", "2",
        "--timeout", "120", "--cell-timeout", "30")
    return course


@pytest.fixture(scope="module")
def page(graded_course):
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium.new_page(viewport={"width": 1100, "height": 900})
        chromium.close()


def _cells(row) -> list[str]:
    return [cell.inner_text().strip() for cell in row.locator("td").all()]


def test_the_report_page(graded_course, page):
    report = graded_course / "reports" / f"{ASSIGNMENT}-report.html"
    page.goto(report.as_uri())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)

    summary = page.locator("#summary").inner_text()
    assert summary.startswith("graded 3 submissions, ") and ", late 1, " in summary
    assert "6 hand-graded points still to score for 3 students" in summary
    assert page.locator("#histogram").evaluate("img => img.complete && img.naturalWidth > 0")

    hardest = {_cells(row)[1]: _cells(row)[0] for row in page.locator("#hardest tr").all()[1:]}
    assert hardest == {"ex1-tests": TITLES["ex1-tests"], "ex2-tests": TITLES["ex2-tests"]}
    mistake = page.locator("#mistakes tr").nth(1).locator("td").first.inner_text()
    assert TITLES["ex1-tests"] in mistake and "ex1-tests" in mistake

    headers = [header.inner_text() for header in page.locator("#students th").all()]
    for grade_id, title in TITLES.items():
        assert any(title in header and grade_id in header for header in headers), (title, headers)
    assert any(header.startswith("grading problems") and "(not lost points)" in header for header in headers)

    rows = {row.get_attribute("data-student"): row for row in page.locator("#students tr[data-student]").all()}
    assert sorted(rows) == ["constant", "honest", "subtracts"]
    column = {header.split("\n")[0]: index for index, header in enumerate(headers)}
    subtracts = _cells(rows["subtracts"])
    assert subtracts[column[TITLES["ex1-tests"]]] == "0 / 2" and subtracts[column[TITLES["ex2-tests"]]] == "3 / 3"
    assert subtracts[column[TITLES["ex3-written"]]] == "to grade (2)"
    assert subtracts[column["to grade by hand (points)"]] == "2"
    assert _cells(rows["constant"])[column["late"]] == "late (marked by Canvas; the download gives no time)"
    assert _cells(rows["honest"])[column["late"]] == ""

    link = rows["subtracts"].locator("a")
    assert link.get_attribute("href") == f"../feedback/subtracts/{ASSIGNMENT}/{ASSIGNMENT}.html"
    link.click()
    page.wait_for_load_state()
    assert page.url == (graded_course / "feedback" / "subtracts" / ASSIGNMENT / f"{ASSIGNMENT}.html").as_uri()


def _error_outputs(page) -> list:
    return page.locator("div.output_error pre").all()


def test_a_feedback_page_where_the_visible_check_failed(graded_course, page):
    feedback = graded_course / "feedback" / "subtracts" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    page.goto(feedback.as_uri())
    page.screenshot(path=str(SCREENSHOTS / "feedback.png"), full_page=True)

    errors = _error_outputs(page)
    assert len(errors) == 1
    message = LONG_MESSAGE.replace("{add(1, 2)}", "-1")
    assert errors[0].inner_text().strip() == f"AssertionError: {message}"  # the note is not there ...
    # ... and the whole sentence is on screen: wrapped, nothing to scroll
    assert errors[0].evaluate("pre => getComputedStyle(pre).whiteSpace") == "pre-wrap"
    assert errors[0].evaluate("pre => pre.scrollWidth <= pre.clientWidth")
    assert errors[0].evaluate("pre => pre.getBoundingClientRect().height") > 30  # more than one line

    # the prose: one paragraph where the author wrote one, no marker; the table's cells spaced and ruled
    paragraph = page.locator("p", has_text="The loss reaches 2.31")
    assert paragraph.count() == 1
    assert paragraph.inner_text() == "The loss reaches 2.31, about ln 10, so the network learned nothing."
    assert "out:" not in page.content().split("<body", 1)[1]
    cell = page.locator("div.text_cell_render table td").first
    assert cell.evaluate("td => parseFloat(getComputedStyle(td).paddingLeft)") >= 8
    assert cell.evaluate("td => getComputedStyle(td).borderLeftStyle") == "solid"


def test_a_feedback_page_where_a_hidden_check_failed(graded_course, page):
    feedback = graded_course / "feedback" / "constant" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    page.goto(feedback.as_uri())
    page.screenshot(path=str(SCREENSHOTS / "feedback-hidden.png"), full_page=True)
    errors = _error_outputs(page)
    assert [error.inner_text().strip() for error in errors] == [
        f"AssertionError: add(-5, 5) should be 0\n{HIDDEN_NOTE}"]
    assert "add(-5, 5) ==" not in page.content()  # the hidden test's code stays hidden
