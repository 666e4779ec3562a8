"""The student edition holds what students get and nothing of the instructor's side, and names its own repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.nbgrader import notebooks
from autograder.publish import links
from autograder.publish.edition import publish
from autograder.publish.leaks import LeakFound, scan_for_leaks, secret_regions

ROOT = Path(__file__).resolve().parents[3]
EDITION = links.Publication("https://github.com/octo/dnt-students", "term-2027")  # the edition's own repository


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("edition") / "students"
    publish(dest, ROOT)
    return dest


@pytest.fixture(scope="module")
def own_edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("own") / "students"
    assert main(["publish", str(dest), "--repository", EDITION.repository, "--branch", EDITION.branch]) == 0
    return dest


def test_the_edition_holds_release_course_packaging_binder_start_and_a_readme(edition):
    assert {path.name for path in edition.iterdir()} == {
        "release", "course", "pyproject.toml", "environment.yml", "LICENSE", "start", "tools", "README.md"}
    assert sorted(path.relative_to(edition).as_posix() for path in (edition / "tools").rglob("*.json")) == sorted(
        path.relative_to(ROOT).as_posix() for path in (ROOT / "tools" / "jupyter-student").rglob("*.json"))
    assert (edition / "start").stat().st_mode & 0o111, "Binder runs start: it must stay executable"
    released = sorted(path.relative_to(ROOT / "release") for path in (ROOT / "release").glob("*/*.ipynb"))
    assert sorted(path.relative_to(edition / "release") for path in (edition / "release").glob("*/*.ipynb")) \
        == released
    assert not list(edition.rglob("__pycache__"))
    readme = (edition / "README.md").read_text()
    assert "colab.research.google.com" in readme and "Fashion-MNIST" in readme


def test_the_scan_of_the_edition_is_clean(edition, own_edition):
    assert scan_for_leaks(edition, ROOT) == []
    assert scan_for_leaks(own_edition, ROOT) == []


def test_by_default_the_edition_notebooks_are_the_release(edition):
    for path in links.release_notebooks(ROOT):
        assert (edition / path).read_bytes() == (ROOT / path).read_bytes(), path


def test_the_edition_badges_and_install_cell_name_its_own_repository(own_edition):
    paths = links.release_notebooks(own_edition)
    assert paths == links.release_notebooks(ROOT)
    for path in paths:
        cells = notebooks.read(own_edition / path).cells
        assert [cell.get("id") for cell in cells[:2]] == list(links.LAUNCH_CELL_IDS)
        assert EDITION.badges(path) in cells[0].source and f"({EDITION.repository})" in cells[0].source
        assert f'"git+{EDITION.repository}@{EDITION.branch}"' in cells[1].source
        assert cells[1].source == links.colab_setup_source(EDITION)
        assert cells[2:] == notebooks.read(ROOT / path).cells[2:], "only the launch cells change"
    readme = (own_edition / "README.md").read_text()
    assert all(EDITION.badges(path) in readme for path in paths)
    assert links.publication(own_edition) == EDITION  # its [tool.course], for whoever forks the edition


def test_the_edition_never_names_the_course_repository(own_edition):
    course = links.publication(ROOT)
    assert course.slug != EDITION.slug
    naming = [path.relative_to(own_edition).as_posix() for path in sorted(own_edition.rglob("*"))
              if path.is_file() and course.slug in path.read_text(encoding="utf-8", errors="replace")]
    assert naming == []


@pytest.mark.parametrize("args", [["--repository", "https://gitlab.com/octo/dnt"],
                                  ["--repository", EDITION.repository, "--branch", 'main"; import os; "']])
def test_publish_refuses_an_address_it_cannot_link_and_writes_nothing(tmp_path, args, capsys):
    dest = tmp_path / "students"
    assert main(["publish", str(dest), *args]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert not dest.exists()


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
    for name in ("source", "release", "course", "tools/jupyter-student"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "environment.yml", "LICENSE", "start"):
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
