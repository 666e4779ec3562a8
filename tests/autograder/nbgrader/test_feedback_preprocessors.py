"""autograder.nbgrader.preprocessors.instructor_lines: feedback must not quote the instructor's notebook."""

from __future__ import annotations

import codecs
import copy
import html
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from autograder.nbgrader.preprocessors.instructor_lines import (
    NOTICE,
    RemoveInstructorLines,
    clean_outputs,
    secret_lines,
)

SOLUTION = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
STUB = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
VISIBLE = 'assert add(1, 2) == 3, "add(1, 2) should be 3"'
HIDDEN = ("### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0\n"
          "assert add(0, 0) == 0, \"don't add a constant\"\n### END HIDDEN TESTS")
EXPECTED_SECRETS = {"return a + b", "assert add(-5, 5) == 0", "assert add(0, 0) == 0, \"don't add a constant\"",
                    "Instructor note: students forget negatives."}

# IPython 9's traceback of the hidden assert (colour codes between the tokens), as the kernel sends it.
HIDDEN_TRACEBACK = (
    "\x1b[96mCell\x1b[39m\x1b[96m \x1b[39m\x1b[32mIn[3]\x1b[39m\x1b[32m, line 3\x1b[39m\n"
    "\x1b[92m      1\x1b[39m \x1b[38;5;81massert\x1b[39m\x1b[38;5;255m \x1b[39m\x1b[38;5;255madd\x1b[39m"
    "\x1b[38;5;255m(\x1b[39m\x1b[38;5;141m1\x1b[39m\x1b[38;5;255m,\x1b[39m\x1b[38;5;255m \x1b[39m"
    "\x1b[38;5;141m2\x1b[39m\x1b[38;5;255m)\x1b[39m ...\n"
    "\x1b[92m----> \x1b[39m\x1b[92m3\x1b[39m \x1b[38;5;81massert\x1b[39m\x1b[38;5;255m \x1b[39m"
    "\x1b[38;5;255madd\x1b[39m\x1b[38;5;255m(\x1b[39m\x1b[38;5;204m-\x1b[39m\x1b[38;5;141m5\x1b[39m"
    "\x1b[38;5;255m,\x1b[39m\x1b[38;5;255m \x1b[39m\x1b[38;5;141m5\x1b[39m\x1b[38;5;255m)\x1b[39m"
    "\x1b[38;5;255m \x1b[39m\x1b[38;5;204m==\x1b[39m\x1b[38;5;255m \x1b[39m\x1b[38;5;141m0\x1b[39m\n"
)
VISIBLE_TRACEBACK = [
    "\x1b[91m---------------------------------------------------------------------------\x1b[39m",
    "\x1b[91mAssertionError\x1b[39m                            Traceback (most recent call last)",
    "\x1b[92m----> \x1b[39m\x1b[92m2\x1b[39m \x1b[38;5;81massert\x1b[39m add(1, 2) == 3, "
    "\x1b[33m\"add(1, 2) should be 3\"\x1b[39m\n",
    "\x1b[91mAssertionError\x1b[39m: add(1, 2) should be 3",
]
HONEST = {"loss": "epoch 1: loss 0.12\n", "release line": "def add(a, b):\n", "message": "add(1, 2) should be 3"}


def _meta(grade_id: str, **flags: object) -> dict:
    base = {"schema_version": 3, "grade": False, "solution": False, "locked": False, "task": False,
            "grade_id": grade_id}
    return {"nbgrader": base | flags}


def source_notebook() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# Adding\nWrite `add`.\n\nInstructor note: students forget negatives.", id="intro"),
        new_code_cell(SOLUTION, id="add", metadata=_meta("add", solution=True)),
        new_code_cell(f"{VISIBLE}\n{HIDDEN}", id="tests", metadata=_meta("tests", grade=True, points=1)),
    ])


def release_notebook() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# Adding\nWrite `add`.", id="intro"),
        new_code_cell(STUB, id="add", metadata=_meta("add", solution=True)),
        new_code_cell(VISIBLE, id="tests", metadata=_meta("tests", grade=True, points=1)),
    ])


def attacked_notebook() -> nbformat.NotebookNode:
    """An autograded notebook whose outputs quote the source notebook, next to honest outputs."""
    source_json = nbformat.writes(source_notebook())  # print(open("source/ps1/add.ipynb").read())
    history = ["", SOLUTION.replace("return a + b", "return a - b"), f"{VISIBLE}\n{HIDDEN}", "print(In)"]
    student = new_code_cell("def add(a, b):\n    return a + b", id="add", metadata=_meta("add", solution=True))
    tests = new_code_cell(VISIBLE, id="tests", metadata=_meta("tests", grade=True, points=1))
    tests.outputs = [new_output("error", ename="AssertionError", evalue="",
                                traceback=[VISIBLE_TRACEBACK[0], HIDDEN_TRACEBACK, "AssertionError: "])]
    snoop = new_code_cell("print(open('source/ps1/add.ipynb').read())\nprint(In)\nprint(repr(_ih[2]))", id="snoop")
    snoop.outputs = [
        new_output("stream", name="stdout", text=HONEST["loss"] + source_json + "\n"),  # (a)
        new_output("stream", name="stdout", text=repr(history) + "\n" + repr(history[2]) + "\n"),  # (b)
        new_output("execute_result", execution_count=5, data={  # (d)
            "text/plain": repr("assert add(-5, 5) == 0"),
            "text/html": "<p>ok</p>\n<code>assert add(-5, 5) == 0</code>\n"
                         f"<pre>{html.escape(history[2].splitlines()[-2])}</pre>",  # &quot;don&#x27;t
            "application/json": {"history": history, "note": "fine"},
            "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
                         "AAAABJRU5ErkJggg==",
        }),
        new_output("display_data", data={"text/markdown": "Instructor note: students forget negatives.",
                                          "text/latex": r"$\texttt{assert add(-5, 5) == 0}$"}),
    ]
    honest = new_code_cell(VISIBLE, id="honest")
    honest.outputs = [
        new_output("stream", name="stdout", text=HONEST["loss"] + HONEST["release line"]),
        new_output("error", ename="AssertionError", evalue=HONEST["message"], traceback=list(VISIBLE_TRACEBACK)),
    ]
    return new_notebook(cells=[student, tests, snoop, honest])


def _output_lines(nb: nbformat.NotebookNode) -> list[str]:
    """Every line of every output text of ``nb``."""
    texts: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
            texts += [value if isinstance(value, str) else json.dumps(value)
                      for value in output.get("data", {}).values()]
    return [line for text in texts for line in text.splitlines()]


def _plain(line: str) -> list[str]:
    """``line`` without colour codes, and with its escapes undone (written independently of the module)."""
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    ascii_line = line.encode("ascii", "backslashreplace").decode()
    once = codecs.decode(ascii_line, "unicode_escape")
    return [line, once, codecs.decode(once.encode("ascii", "backslashreplace").decode(), "unicode_escape"),
            html.unescape(line), html.unescape(once)]


def _quoted_source_lines(nb: nbformat.NotebookNode) -> set[str]:
    """Lines of the source notebook (beyond markers, short lines and release lines) found in ``nb``'s outputs."""
    release = {line.strip() for cell in release_notebook().cells for line in cell.source.splitlines()}
    candidates = {line.strip() for cell in source_notebook().cells for line in cell.source.splitlines()}
    candidates = {line for line in candidates - release if len(line) >= 8 and "BEGIN" not in line
                  and "END " not in line}
    return {secret for line in _output_lines(nb) for text in _plain(line) for secret in candidates if secret in text}


def test_secret_lines_are_the_source_lines_the_release_does_not_show():
    assert secret_lines(source_notebook(), release_notebook()) == EXPECTED_SECRETS


def test_secret_lines_ignore_short_lines_and_markers():
    source = new_notebook(cells=[new_code_cell("x = (\n    1,\n)\npass\n# BEGIN SOLUTION\n##  END HIDDEN TESTS")])
    assert secret_lines(source, new_notebook()) == set()


def test_the_attack_reaches_the_outputs_before_cleaning():
    assert _quoted_source_lines(attacked_notebook()) == EXPECTED_SECRETS


def test_every_quote_of_the_source_is_removed():
    nb = attacked_notebook()
    removed = clean_outputs(nb, secret_lines(source_notebook(), release_notebook()))
    assert _quoted_source_lines(nb) == set()
    tests, snoop = nb.cells[1], nb.cells[2]
    # (c) the traceback line of the hidden assert, colour codes and all; the line before it stays
    assert tests.outputs[0].traceback[1].splitlines() == HIDDEN_TRACEBACK.splitlines()[:2] + [NOTICE]
    assert tests.outputs[0].traceback[1].endswith(NOTICE + "\n")
    # (a) the notebook's JSON: the solution and hidden lines go, the rest of the file stays
    dump = snoop.outputs[0].text.splitlines()
    assert dump.count(NOTICE) == 4 and '   "cell_type": "code",' in dump and HONEST["loss"].strip() in dump
    # (b) the one-line repr of In, and the repr with \' in it
    assert snoop.outputs[1].text == f"{NOTICE}\n{NOTICE}\n"
    # (d) rich outputs
    data = snoop.outputs[2].data
    assert data["text/plain"] == NOTICE
    assert data["text/html"] == f"<p>ok</p>\n{NOTICE}\n{NOTICE}"
    history = attacked_notebook().cells[2].outputs[2].data["application/json"]["history"]
    cleaned = f"{VISIBLE}\n### BEGIN HIDDEN TESTS\n{NOTICE}\n{NOTICE}\n### END HIDDEN TESTS"
    assert data["application/json"] == {"history": ["", history[1], cleaned, "print(In)"], "note": "fine"}
    assert data["image/png"] == attacked_notebook().cells[2].outputs[2].data["image/png"]
    assert snoop.outputs[3].data == {"text/markdown": NOTICE, "text/latex": NOTICE}
    assert removed == 1 + 4 + 2 + 1 + 2 + 2 + 2


def test_honest_outputs_and_cell_sources_are_kept_exactly():
    nb = attacked_notebook()
    before = copy.deepcopy(nb)
    clean_outputs(nb, secret_lines(source_notebook(), release_notebook()))
    assert nb.cells[3] == before.cells[3]  # loss, a visible release line, the visible assert's message and traceback
    assert [cell.source for cell in nb.cells] == [cell.source for cell in before.cells]
    assert nb.cells[1].outputs[0].traceback[0] == VISIBLE_TRACEBACK[0]


def test_no_secrets_no_change():
    nb = attacked_notebook()
    assert clean_outputs(nb, set()) == 0
    assert nb == attacked_notebook()


def test_large_outputs_stay_fast():
    secrets = {f"hidden_check_{i}(model, data) == {i}" for i in range(500)}
    lines = [f"step {i}: loss {1 / (i + 1):.5f}" for i in range(20_000)]
    lines[12_345] = "    assert hidden_check_77(model, data) == 77"
    nb = new_notebook(cells=[new_code_cell("train()")])
    nb.cells[0].outputs = [new_output("stream", name="stdout", text="\n".join(lines))]
    start = time.perf_counter()
    assert clean_outputs(nb, secrets) == 1
    assert time.perf_counter() - start < 5
    assert nb.cells[0].outputs[0].text.splitlines()[12_345] == NOTICE


def _course(root: Path) -> None:
    for step, nb in (("source", source_notebook()), ("release", release_notebook())):
        (root / step / "ps1").mkdir(parents=True)
        nbformat.write(nb, root / step / "ps1" / "add.ipynb")


def _resources() -> dict:
    return {"nbgrader": {"assignment": "ps1", "notebook": "add", "student": "bitdiddle", "db_url": "sqlite://"}}


def _config(root: Path) -> Config:
    config = Config()
    config.CourseDirectory.root = str(root)
    return config


def test_preprocessor_reads_source_and_release_from_the_course_directory(tmp_path: Path):
    _course(tmp_path)
    nb, resources = RemoveInstructorLines(config=_config(tmp_path)).preprocess(attacked_notebook(), _resources())
    assert resources == _resources()
    assert _quoted_source_lines(nb) == set()
    assert nb.cells[3] == attacked_notebook().cells[3]


def test_preprocessor_refuses_to_pass_feedback_it_cannot_check(tmp_path: Path):
    _course(tmp_path)
    (tmp_path / "release" / "ps1" / "add.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match="release"):
        RemoveInstructorLines(config=_config(tmp_path)).preprocess(attacked_notebook(), _resources())


def _visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", page))


def test_feedback_html_does_not_carry_the_hidden_tests(tmp_path: Path):
    """As nbgrader's GenerateFeedback runs it: a preprocessor of the HTML exporter, configured by the course."""
    _course(tmp_path)
    exporter = HTMLExporter(config=_config(tmp_path))
    exporter.register_preprocessor(RemoveInstructorLines, enabled=True)
    body, _ = exporter.from_notebook_node(attacked_notebook(), resources=_resources())
    unprotected, _ = HTMLExporter().from_notebook_node(attacked_notebook())
    assert "add(-5, 5)" in _visible_text(unprotected)
    for secret in ("add(-5, 5)", "don't add", "Instructor note"):  # the student's own `return a + b` stays
        assert secret not in _visible_text(body)
    assert NOTICE in _visible_text(body) and "loss 0.12" in body


def test_an_explorer_becomes_a_note_and_the_student_outputs_stay():
    """A widget view cannot be drawn in static HTML: the feedback says what it was; plots and prints stay."""
    from autograder.nbgrader.preprocessors.explorer_notes import NOTE, WIDGET_VIEW, ExplorerNotes

    view = {"model_id": "4f1c", "version_major": 2, "version_minor": 0}
    explorer = new_code_cell("explorer", outputs=[new_output(
        "display_data", data={"text/plain": "VBox(children=(FloatSlider(value=1.0),))", WIDGET_VIEW: view})])
    plot = new_code_cell("plt.plot(losses)", outputs=[
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        new_output("stream", name="stdout", text="loss 0.12\n")])
    nb = new_notebook(cells=[explorer, plot])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"4f1c": {}}}}
    plain_page, _ = HTMLExporter().from_notebook_node(copy.deepcopy(nb))
    assert NOTE not in plain_page

    exporter = HTMLExporter()
    exporter.register_preprocessor(ExplorerNotes, enabled=True)
    page, _ = exporter.from_notebook_node(copy.deepcopy(nb))
    assert NOTE in _visible_text(page)
    assert "widget-state" not in page and "4f1c" not in page and "VBox" not in page
    assert "iVBORw0KGgo=" in page and "loss 0.12" in page  # the student's own plot and print


def test_the_course_feedback_runs_the_explorer_notes():
    config = Path(__file__).resolve().parents[3] / "nbgrader_config.py"
    assert "ExplorerNotes" in config.read_text().split("c.GenerateFeedback.preprocessors", 1)[1].split("]")[0]


def _failed_test_cell(line: int) -> nbformat.NotebookNode:
    """A test cell (visible check on line 1, hidden ones on lines 2-5) whose line ``line`` raised, as IPython 9
    reports it."""
    cell = new_code_cell(f"{VISIBLE}\n{HIDDEN}", id="tests", metadata=_meta("tests", grade=True, points=1))
    cell.outputs = [new_output("error", ename="AssertionError", evalue="add(1, 2) should be 3", traceback=[
        VISIBLE_TRACEBACK[0], f"\x1b[96mCell\x1b[39m \x1b[32mIn[3]\x1b[39m\x1b[32m, line {line}\x1b[39m\n"
                              f"\x1b[92m----> \x1b[39m\x1b[92m{line}\x1b[39m assert ...\n"])]
    return cell


@pytest.mark.parametrize(("line", "noted"), [(1, False), (3, True)])
def test_the_details_hidden_note_only_when_a_hidden_line_failed(line, noted):
    from autograder.nbgrader.preprocessors.hidden_tests import HIDDEN_NOTE, HideHiddenTests

    cell, _ = HideHiddenTests().preprocess_cell(_failed_test_cell(line), {}, 0)
    assert "HIDDEN" not in cell.source and "add(-5, 5)" not in cell.source
    expected = ["AssertionError: add(1, 2) should be 3"] + [HIDDEN_NOTE] * noted
    assert cell.outputs[0].traceback == expected


def test_a_traceback_without_a_line_keeps_the_note():
    from autograder.nbgrader.preprocessors.hidden_tests import HIDDEN_NOTE, HideHiddenTests

    cell = _failed_test_cell(1)
    cell.outputs[0].traceback = ["KernelDied: the kernel died running this cell"]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].traceback[-1] == HIDDEN_NOTE


def test_prose_markers_leave_the_feedback_and_the_sentence_joins_up():
    from autograder.nbgrader.preprocessors.feedback_page import CSS, ReadableFeedback

    prose = ("The final loss is 2.31\n<!-- out: clipvalue=1.0: -->, about ln 10. It has **46,578** "
             "<!-- out: trainable parameters --> parameters.\n\nNext paragraph <!-- a comment, kept -->.")
    nb = new_notebook(cells=[new_markdown_cell(prose), new_code_cell("x = 1  # <!-- out: not prose -->")])
    plain, _ = HTMLExporter().from_notebook_node(copy.deepcopy(nb))
    assert "2.31</p>" in plain  # the marker at the start of a line ends the paragraph
    exporter = HTMLExporter()
    exporter.register_preprocessor(ReadableFeedback, enabled=True)
    page, resources = exporter.from_notebook_node(copy.deepcopy(nb))
    assert "The final loss is 2.31, about ln 10. It has <strong>46,578</strong> parameters.</p>" in page
    assert "<!-- a comment, kept -->" in page and "# &lt;!-- out: not prose --&gt;" in page
    assert CSS in resources["inlining"]["css"]
