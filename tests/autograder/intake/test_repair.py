"""autograder.intake.read and .repair: reading a submitted file, and matching its cells back to the release."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.intake.read import Unreadable, load_submission, read_submission
from autograder.intake.repair import PLACEHOLDER, repair
from autograder.nbgrader import notebooks
from autograder.nbgrader.notebooks import grade_id, nbgrader_meta

ROOT = Path(__file__).resolve().parents[3]
REAL_RELEASE = ROOT / "release" / "01_vanishing_exploding" / "01_vanishing_exploding.ipynb"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ANSWERS = {
    "ex1-double": "def double(x):\n    return 2 * x",
    "ex2-answer": "ANSWER = 42",
    "ex3-written": "Doubling is linear.",
}


def _nbgrader(cell, gid: str, **flags):
    meta = {"grade": False, "solution": False, "locked": False, "grade_id": gid, "schema_version": 3}
    meta.update(flags)
    cell.metadata["nbgrader"] = meta
    if meta["locked"]:
        cell.metadata.update(deletable=False, editable=False)
    cell["id"] = gid
    return cell


def _cell(factory, source: str, cell_id: str):
    cell = factory(source)
    cell["id"] = cell_id
    return cell


def release_nb():
    """A small release notebook: two code exercises with tests, a written answer, body cells around them."""
    return new_notebook(cells=[
        _cell(new_markdown_cell, "# Doubling\nA tiny notebook.", "intro"),
        _cell(new_code_cell, "import numpy as np", "imports"),
        _cell(new_markdown_cell, "## Exercise 1: write `double`", "ex1-text"),
        _nbgrader(new_code_cell("def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
                  "ex1-double", solution=True),
        _nbgrader(new_code_cell('"""Check double."""\nassert double(2) == 4\nassert double(-1) == -2'),
                  "ex1-tests", grade=True, locked=True, points=2),
        _cell(new_markdown_cell, "What doubling does to an array:", "between"),
        _cell(new_code_cell, "print(double(np.arange(3)))", "demo"),
        _cell(new_markdown_cell, "## Exercise 2: the answer", "ex2-text"),
        _nbgrader(new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()"), "ex2-answer",
                  solution=True),
        _nbgrader(new_code_cell('"""Check ANSWER."""\nassert ANSWER == 42'), "ex2-tests", grade=True,
                  locked=True, points=3),
        _cell(new_markdown_cell, "## Exercise 3: in words", "ex3-text"),
        _nbgrader(new_markdown_cell("YOUR ANSWER HERE"), "ex3-written", solution=True, grade=True, points=1),
        _cell(new_markdown_cell, "The end.", "end"),
    ], metadata={"kernelspec": KERNELSPEC})


def solved(release):
    """The release with every answer filled in."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if grade_id(cell) in ANSWERS:
            cell.source = ANSWERS[grade_id(cell)]
    return nb


def strip_metadata(nb):
    """What Colab does: no nbgrader metadata left."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for key in ("nbgrader", "deletable", "editable"):
            cell.metadata.pop(key, None)
    return nb


def change_ids(nb):
    """What some editors do: every cell gets a new id."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"new-{index}"
    return nb


def nbgrader_ids(nb) -> list[str]:
    return [gid for gid in map(grade_id, nb.cells) if gid]


def assert_matches_release(repaired, release):
    """Every nbgrader cell is back, in order, with the release's metadata and id, and the student's text."""
    assert nbgrader_ids(repaired) == nbgrader_ids(release)
    release_cells = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    for cell in repaired.cells:
        if grade_id(cell):
            source = release_cells[grade_id(cell)]
            assert nbgrader_meta(cell) == nbgrader_meta(source)
            assert cell["id"] == source["id"]
            assert cell.source == ANSWERS.get(grade_id(cell), source.source)
    nbformat.validate(repaired)


# --- repair ------------------------------------------------------------------------------------------------


def test_an_intact_notebook_needs_nothing():
    release = release_nb()
    repaired, notes = repair(solved(release), release)
    assert notes == []
    assert repaired == solved(release)


def test_repair_returns_a_copy():
    release = release_nb()
    student = strip_metadata(solved(release))
    before = copy.deepcopy(student)
    repair(student, release)
    assert student == before


def test_metadata_stripped_is_restored_by_cell_id():
    release = release_nb()
    repaired, notes = repair(strip_metadata(solved(release)), release)
    assert_matches_release(repaired, release)
    assert notes == ["restored nbgrader metadata of 5 cells (ex1-double by cell id, ex1-tests by cell id, "
                     "ex2-answer by cell id, ex2-tests by cell id, ex3-written by cell id)"]


def test_ids_changed_but_metadata_kept_needs_no_metadata_repair():
    release = release_nb()
    repaired, notes = repair(change_ids(solved(release)), release)
    assert nbgrader_ids(repaired) == nbgrader_ids(release)
    assert notes == []  # nbgrader goes by grade_id; cell ids are only nbformat's business


def test_metadata_stripped_and_ids_changed_is_restored_by_content_and_position():
    release = release_nb()
    repaired, notes = repair(change_ids(strip_metadata(solved(release))), release)
    assert_matches_release(repaired, release)
    assert notes == ["restored nbgrader metadata of 5 cells (ex1-double by position, ex1-tests by content, "
                     "ex2-answer by position, ex2-tests by content, ex3-written by position)"]


def test_unanswered_notebook_stripped_and_renumbered_is_restored():
    release = release_nb()
    repaired, _ = repair(change_ids(strip_metadata(release)), release)
    assert nbgrader_ids(repaired) == nbgrader_ids(release)


def test_cells_the_student_added_between_do_not_confuse_the_match():
    release = release_nb()
    student = change_ids(strip_metadata(solved(release)))
    index = next(i for i, cell in enumerate(student.cells) if cell.source == ANSWERS["ex1-double"])
    student.cells.insert(index + 1, new_code_cell("double(21)  # trying it"))
    student.cells.insert(index, new_code_cell("x = 3"))
    index = next(i for i, cell in enumerate(student.cells) if cell.source == ANSWERS["ex2-answer"])
    student.cells.insert(index + 1, new_code_cell("print(ANSWER)"))
    student.cells.insert(index + 1, new_markdown_cell("my notes"))
    repaired, notes = repair(student, release)
    assert_matches_release(repaired, release)
    assert len(repaired.cells) == len(release.cells) + 4
    # ex1: two code cells around it, found by the function its stub defines; ex2 by its neighbours
    assert "ex1-double by content" in notes[0] and "ex2-tests by content" in notes[0]
    assert not any(grade_id(cell) for cell in repaired.cells if cell.source in ("x = 3", "print(ANSWER)"))


def test_an_ambiguous_answer_is_left_alone_and_reported():
    release = release_nb()
    student = change_ids(strip_metadata(solved(release)))
    index = next(i for i, cell in enumerate(student.cells) if cell.source == ANSWERS["ex2-answer"])
    student.cells.insert(index, new_code_cell("ANSWER = 41"))  # two candidates, nothing names the exercise
    repaired, notes = repair(student, release)
    assert "ex2-answer" not in nbgrader_ids(repaired)
    assert any(note.startswith("not found in the submission: ex2-answer") for note in notes)
    assert "ex2-tests" in nbgrader_ids(repaired)


def test_a_deleted_answer_and_test_get_a_placeholder_answer_so_nbgrader_can_re_add_the_test():
    release = release_nb()
    student = solved(release)
    student.cells = [cell for cell in student.cells if grade_id(cell) not in ("ex1-double", "ex1-tests")]
    repaired, notes = repair(student, release)
    placeholder = next(cell for cell in repaired.cells if grade_id(cell) == "ex1-double")
    assert placeholder.source == PLACEHOLDER["code"]
    assert nbgrader_meta(placeholder) == nbgrader_meta(release.cells[3])
    assert "ex1-tests" not in nbgrader_ids(repaired)  # nbgrader puts it back after ex1-double
    assert any(note.startswith("put back 1 missing cell: ex1-double") for note in notes)
    assert any("not found in the submission: ex1-double, ex1-tests" in note for note in notes)


def test_a_deleted_test_alone_is_left_to_nbgrader():
    release = release_nb()
    student = solved(release)
    student.cells = [cell for cell in student.cells if grade_id(cell) != "ex2-tests"]
    repaired, notes = repair(student, release)
    assert nbgrader_ids(repaired) == [gid for gid in nbgrader_ids(release) if gid != "ex2-tests"]
    assert notes == ["not found in the submission: ex2-tests (nbgrader puts back missing test cells; "
                     "a missing answer scores 0)"]


def test_a_modified_test_cell_without_metadata_is_not_taken_for_the_test():
    release = release_nb()
    student = change_ids(strip_metadata(solved(release)))
    test = next(cell for cell in student.cells if cell.source.startswith('"""Check ANSWER'))
    test.source += "\nprint('passed')"
    repaired, _ = repair(student, release)
    assert "ex2-tests" not in nbgrader_ids(repaired)  # nbgrader adds the original back


def test_grade_ids_not_in_the_release_are_removed():
    release = release_nb()
    student = solved(release)
    stray = copy.deepcopy(student.cells[4])
    stray.metadata.nbgrader["grade_id"] = "old-ex1-tests"
    stray["id"] = "old-ex1-tests"
    student.cells.append(stray)
    student.cells[1].metadata["nbgrader"] = {}
    repaired, notes = repair(student, release)
    assert nbgrader_ids(repaired) == nbgrader_ids(release)
    assert notes[0] == "removed nbgrader metadata of 2 cells not in the release (cell 1, old-ex1-tests)"


def test_duplicated_grade_ids_are_left_to_nbgrader():
    release = release_nb()
    student = solved(release)
    twin = copy.deepcopy(student.cells[4])
    twin["id"] = "ex1-tests-copy"
    student.cells.insert(5, twin)
    repaired, notes = repair(student, release)
    assert nbgrader_ids(repaired).count("ex1-tests") == 2
    assert notes == []


def test_changed_grading_metadata_is_reset():
    release = release_nb()
    student = solved(release)
    student.cells[4].metadata.nbgrader.update(grade=False, locked=False, solution=True)  # test made an answer
    repaired, notes = repair(student, release)
    assert nbgrader_meta(repaired.cells[4]) == nbgrader_meta(release.cells[4])
    assert notes == ["reset changed nbgrader metadata of 1 cell (ex1-tests)"]


def test_cells_without_ids_get_ids_and_a_missing_kernelspec_is_restored():
    release = release_nb()
    student = solved(release)
    for cell in student.cells[5:8]:
        del cell["id"]
    student.nbformat_minor = 4
    del student.metadata["kernelspec"]
    repaired, notes = repair(student, release)
    assert notes == ["added ids to 3 cells", "restored the kernelspec (python3)"]
    assert len({cell["id"] for cell in repaired.cells}) == len(repaired.cells)
    assert repaired.nbformat_minor == 5 and repaired.metadata.kernelspec == KERNELSPEC
    nbformat.validate(repaired)


def test_the_real_release_stripped_and_renumbered_is_fully_restored():
    release = nbformat.read(str(REAL_RELEASE), as_version=4)
    student = change_ids(strip_metadata(release))
    repaired, notes = repair(student, release)
    assert nbgrader_ids(repaired) == nbgrader_ids(release)
    by_id = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    for cell in repaired.cells:
        if grade_id(cell):
            assert nbgrader_meta(cell) == nbgrader_meta(by_id[grade_id(cell)])
            assert cell["id"] == by_id[grade_id(cell)]["id"]
    assert notes[0].startswith(f"restored nbgrader metadata of {len(by_id)} cells")


@pytest.mark.parametrize("path", sorted((ROOT / "release").glob("*/*.ipynb")), ids=lambda path: path.stem)
def test_every_real_release_solved_stripped_with_scratch_cells_keeps_the_answers(path):
    """The reference solutions, metadata stripped, ids changed, a scratch cell after every function."""
    release = nbformat.read(str(path), as_version=4)
    source_path = ROOT / "source" / path.parent.name / path.name
    answered = notebooks.solved(release, nbformat.read(str(source_path), as_version=4))
    student = change_ids(strip_metadata(answered))
    cells = []
    for cell in student.cells:
        cells.append(cell)
        if cell.source.startswith("def "):
            cells.append(new_code_cell("print('trying it out')"))
    student.cells = cells
    repaired, _ = repair(student, release)
    assert nbgrader_ids(repaired) == nbgrader_ids(release)
    answers = {grade_id(cell): cell.source for cell in answered.cells if grade_id(cell)}
    assert {grade_id(cell): cell.source for cell in repaired.cells if grade_id(cell)} == answers


def test_nbgrader_grades_the_repaired_notebook_it_cannot_grade_unrepaired(tmp_path, monkeypatch):
    """nbgrader's own sanitize steps (our config) on the real release: KeyError before repair, fine after."""
    import nbgrader.api
    from nbgrader.preprocessors import CheckCellMetadata, OverwriteCells, SaveCells

    from autograder.nbgrader.preprocessors.grade_ids import DeduplicateGradeIds

    monkeypatch.setattr(nbgrader.api, "get_alembic_version", lambda: "test")  # no `alembic` subprocess
    release = nbformat.read(str(REAL_RELEASE), as_version=4)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with nbgrader.api.Gradebook(url) as gradebook:
        gradebook.update_or_create_assignment("a")
    resources = {"nbgrader": {"db_url": url, "assignment": "a", "notebook": "n"}}
    SaveCells().preprocess(copy.deepcopy(release), resources)

    def sanitize(nb):
        nb, _ = DeduplicateGradeIds().preprocess(copy.deepcopy(nb), resources)
        nb, _ = OverwriteCells(add_missing_cells=True).preprocess(nb, resources)
        return CheckCellMetadata().preprocess(nb, resources)[0]

    deleted = copy.deepcopy(release)
    deleted.cells = [cell for cell in deleted.cells
                     if grade_id(cell) not in ("ex1-kernel-gradient-norms", "ex1-tests")]
    for broken in (change_ids(strip_metadata(release)), deleted):
        with pytest.raises(KeyError):
            sanitize(broken)
        graded = sanitize(repair(broken, release)[0])
        assert nbgrader_ids(graded) == nbgrader_ids(release)


# --- reading -----------------------------------------------------------------------------------------------


def write(path: Path, nb) -> Path:
    nbformat.write(nb, str(path))
    return path


def test_reading_a_good_notebook(tmp_path):
    nb, notes = read_submission(write(tmp_path / "a.ipynb", release_nb()))
    assert notes == [] and nbgrader_ids(nb) == nbgrader_ids(release_nb())


@pytest.mark.parametrize("content, reason", [
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a notebook: a PNG image"),
    (b"\xff\xd8\xff\xe0" + bytes(64), "not a notebook: a JPEG image"),
    (b"%PDF-1.7\n", "not a notebook: a PDF document"),
    (b"PK\x03\x04" + bytes(64), "not a notebook: a ZIP archive (or an Office document)"),
    (b"<!DOCTYPE html><html></html>", "not a notebook: an HTML page"),
    (b'{"cells": [{"cell_type": "code", "source": "x = 1"', "corrupt JSON: Expecting ',' delimiter"),
    (b'{"nbformat": 4, "metadata": {}}', "not a notebook: JSON without cells"),
    (b"[1, 2, 3]", "not a notebook: JSON without cells"),
    (b"\xff\xfe\x00\xd8" + bytes(8), "not a notebook: binary data"),
    (b"\x00\x9f\x92\x96" + bytes(8), "not a notebook: binary data"),
    (b"", "empty file"),
])
def test_unreadable_files_say_why(tmp_path, content, reason):
    path = tmp_path / "student.ipynb"
    path.write_bytes(content)
    with pytest.raises(Unreadable, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        load_submission(path)


def test_corrupt_json_names_the_place(tmp_path):
    path = tmp_path / "cut.ipynb"
    path.write_text(nbformat.writes(release_nb())[:300])
    with pytest.raises(Unreadable, match=r"^corrupt JSON: .* \(line \d+, column \d+\)$"):
        load_submission(path)


def test_missing_file(tmp_path):
    with pytest.raises(Unreadable, match="^missing notebook$"):
        load_submission(tmp_path / "nope.ipynb")


@pytest.mark.parametrize("cells", [[], [new_code_cell(""), new_markdown_cell("  \n")]])
def test_empty_notebook(tmp_path, cells):
    with pytest.raises(Unreadable, match="^empty notebook$"):
        load_submission(write(tmp_path / "empty.ipynb", new_notebook(cells=cells)))


def test_a_huge_output_is_dropped_not_refused(tmp_path):
    nb = solved(release_nb())
    nb.cells[6].outputs = [new_output("stream", name="stdout", text="x" * (50 * 1024 * 1024))]
    path = write(tmp_path / "huge.ipynb", nb)
    assert path.stat().st_size > 50 * 1024 * 1024
    read, notes = read_submission(path)
    assert notes == ["outputs dropped (50 MB)"]
    assert all(not cell.get("outputs") for cell in read.cells)
    assert [cell.source for cell in read.cells] == [cell.source for cell in nb.cells]


def test_a_notebook_too_large_without_outputs_is_refused(tmp_path):
    nb = solved(release_nb())
    nb.cells[6].source = "# " + "y" * 3 * 1024 * 1024
    with pytest.raises(Unreadable, match="^file too large: 3 MB$"):
        load_submission(write(tmp_path / "big.ipynb", nb), max_bytes=2 * 1024 * 1024)


def test_small_outputs_are_dropped_without_a_note(tmp_path):
    nb = solved(release_nb())
    nb.cells[6].outputs = [new_output("stream", name="stdout", text="[0 2 4]\n")]
    read, notes = read_submission(write(tmp_path / "a.ipynb", nb))
    assert notes == [] and read.cells[6].outputs == []


def test_an_nbformat_3_notebook_is_upgraded_then_repaired(tmp_path):
    v3 = nbformat.v3
    cells = [v3.new_text_cell("markdown", source="# Doubling\nA tiny notebook."),
             v3.new_code_cell(input="import numpy as np"),
             v3.new_code_cell(input=ANSWERS["ex1-double"]),
             v3.new_code_cell(input='"""Check double."""\nassert double(2) == 4\nassert double(-1) == -2')]
    path = tmp_path / "old.ipynb"
    path.write_text(v3.writes_json(v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)])))
    nb, notes = read_submission(path)
    assert notes == ["upgraded from nbformat 3 to 4"]
    assert nb.nbformat == 4 and [cell.cell_type for cell in nb.cells] == ["markdown", "code", "code", "code"]
    repaired, notes = repair(nb, release_nb())
    assert nbgrader_ids(repaired)[:2] == ["ex1-double", "ex1-tests"]
    nbformat.validate(repaired)


def test_cells_missing_fields_are_completed(tmp_path):
    raw = json.loads(nbformat.writes(solved(release_nb())))
    for cell in raw["cells"]:
        cell.pop("metadata")
        cell.pop("outputs", None)
    path = tmp_path / "sloppy.ipynb"
    path.write_text(json.dumps(raw))
    nb = load_submission(path)
    assert all("metadata" in cell for cell in nb.cells)
    assert all(cell.outputs == [] for cell in nb.cells if cell.cell_type == "code")
