"""The student edition holds what students get and nothing of the instructor's side."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import notebooks
from autograder.publish import LeakFound, publish, scan_for_leaks, secret_regions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("edition") / "students"
    publish(dest, ROOT)
    return dest


def test_the_edition_holds_release_course_packaging_and_a_readme(edition):
    assert {path.name for path in edition.iterdir()} == {
        "release", "course", "pyproject.toml", "environment.yml", "LICENSE", "README.md"}
    released = sorted(path.relative_to(ROOT / "release") for path in (ROOT / "release").glob("*/*.ipynb"))
    assert sorted(path.relative_to(edition / "release") for path in (edition / "release").glob("*/*.ipynb")) \
        == released
    assert not list(edition.rglob("__pycache__"))
    readme = (edition / "README.md").read_text()
    assert "colab.research.google.com" in readme and "Fashion-MNIST" in readme


def test_the_scan_of_the_edition_is_clean(edition):
    assert scan_for_leaks(edition, ROOT) == []


def _copy(edition: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(edition, copy)
    return copy


def _plant_in_first_notebook(folder: Path, text: str) -> None:
    path = sorted((folder / "release").glob("*/*.ipynb"))[0]
    nb = notebooks.read(path)
    nb.cells[-1].source += "\n" + text
    nbformat.write(nb, path)


def _a_solution_line() -> str:
    region = next(region for region in secret_regions(ROOT) if "ex1" in region.label and region.lines)
    return sorted(region.lines)[0]


@pytest.mark.parametrize("plant, reason", [
    (_a_solution_line, "solution or hidden-test line"),
    (lambda: "### BEGIN HIDDEN TESTS", "nbgrader marker"),
    (lambda: "nb = read('source/01_vanishing_exploding/01_vanishing_exploding.ipynb')", "path into source/"),
])
def test_a_planted_line_in_a_release_notebook_is_found(edition, tmp_path, plant, reason):
    copy = _copy(edition, tmp_path)
    _plant_in_first_notebook(copy, plant())
    leaks = scan_for_leaks(copy, ROOT)
    assert leaks and all(leak.path.startswith("release/") for leak in leaks)
    assert any(reason in leak.reason for leak in leaks), leaks


def test_a_solution_body_copied_into_course_is_found(edition, tmp_path):
    copy = _copy(edition, tmp_path)
    region = max(secret_regions(ROOT), key=lambda region: len(region.lines))
    (copy / "course" / "shortcuts.py").write_text("\n".join(sorted(region.lines)))
    assert any(region.label in leak.reason for leak in scan_for_leaks(copy, ROOT))


def test_a_gradebook_is_found(edition, tmp_path):
    copy = _copy(edition, tmp_path)
    (copy / "gradebook.db").write_bytes(b"SQLite format 3\x00")
    assert [leak.path for leak in scan_for_leaks(copy, ROOT)] == ["gradebook.db"]


def _course_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("source", "release", "course"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "environment.yml", "LICENSE"):
        shutil.copy2(ROOT / name, root / name)
    return root


def test_publish_refuses_a_leaking_release_and_writes_nothing(tmp_path):
    root = _course_copy(tmp_path)
    _plant_in_first_notebook(root, _a_solution_line())
    dest = tmp_path / "students"
    with pytest.raises(LeakFound, match="solution or hidden-test line"):
        publish(dest, root)
    assert not dest.exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".publish-")] == []


def test_publish_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("mine")
    with pytest.raises(FileExistsError):
        publish(tmp_path, ROOT)
    assert (tmp_path / "something").read_text() == "mine"
