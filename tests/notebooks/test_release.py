"""release/ is generated from source/ by nbgrader, and carries no solutions or hidden tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from autograder.nbgrader import notebooks
from autograder.nbgrader.commands import source_assignments
from autograder.selfcheck.courses import new_course
from tests import tiny_course

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = source_assignments(ROOT)
SOURCE_NOTEBOOKS = sorted(p for p in (ROOT / "source").glob("*/*.ipynb"))


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) > 12}


def test_there_are_assignments():
    assert "01_vanishing_exploding" in ASSIGNMENTS


@pytest.mark.notebooks
def test_release_is_what_nbgrader_generates_from_source(tmp_path):
    course = new_course(tmp_path / "course", ASSIGNMENTS, root=ROOT)
    release = course / "release"
    generated = sorted(p.relative_to(release) for p in release.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "release") for p in (ROOT / "release").rglob("*")
                       if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    assert committed == generated, "release/ has other files than nbgrader generates: run `make release`"
    for relative in generated:
        ours = json.loads((ROOT / "release" / relative).read_text())
        theirs = json.loads((course / "release" / relative).read_text())
        assert ours == theirs, f"release/{relative} differs from what source/ generates: run `make release`"


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_release_has_no_solution_or_hidden_test(path):
    source = notebooks.read(path)
    release_text = (ROOT / "release" / path.parent.name / path.name).read_text()
    release = notebooks.read(ROOT / "release" / path.parent.name / path.name)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in release_text
    assert notebooks.hidden_regions(release) == []
    # Every line of a solution or hidden region that appears nowhere else in the source
    # must be absent from the release.
    secret, public = set(), set()
    pattern = r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1"
    for cell in source.cells:
        secret |= {line for _, region in re.findall(pattern, cell.source, re.S) for line in _lines(region)}
        public |= _lines(re.sub(pattern, "", cell.source, flags=re.S))
    secret -= public
    assert secret, "found no solution lines to look for"
    release_lines = {line for cell in release.cells for line in _lines(cell.source)}
    assert not secret & release_lines


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_source_notebook_hygiene(path):
    nb = notebooks.read(path)
    ids = Counter(notebooks.grade_id(cell) for cell in nb.cells if notebooks.grade_id(cell))
    assert [gid for gid, n in ids.items() if n > 1] == [], "grade ids must be unique"
    cell_ids = Counter(cell.get("id") for cell in nb.cells)
    assert [cid for cid, n in cell_ids.items() if n > 1] == [], "cell ids must be unique"
    header_ids = {cell.get("id") for cell in notebooks.read(ROOT / "source" / "header.ipynb").cells}
    assert not header_ids & set(cell_ids), "cell ids clash with the header's"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, "source keeps no outputs"
        if notebooks.is_autograded_test(cell):
            first = cell.source.lstrip().splitlines()[0]
            assert first.startswith('"""') and first.endswith('"""') and len(first) > 10, (
                f"test cell {notebooks.grade_id(cell)} should open with a one-line docstring")
            assert notebooks.nbgrader_meta(cell).get("points", 0) > 0
    total = sum(notebooks.points(nb).values())
    assert 15 <= total <= 25, f"each notebook is worth about 20 points, {path.name} has {total}"


def test_release_notebooks_are_valid_and_have_the_header():
    import nbformat

    for path in SOURCE_NOTEBOOKS:
        release = nbformat.read(str(ROOT / "release" / path.parent.name / path.name), as_version=4)
        nbformat.validate(release)
        ids = [cell.get("id") for cell in release.cells]
        # the launch cells (badges, Colab's install cell), then the header: instructions and the name field
        expected = ["launch-badges", "launch-colab-setup", "header-instructions", "student-name"]
        assert ids[:4] == expected, ids[:4]
        assert release.cells[3].source.startswith("NAME")


def _selfcheck(course: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "selfcheck", tiny_course.ASSIGNMENT,
                           "--course", str(course)], capture_output=True, text=True, timeout=600)


@pytest.mark.notebooks
def test_selfcheck_command_prints_a_row_per_notebook_and_fails_when_a_hidden_test_fails_the_solution(tmp_path):
    """The command on a tiny course (seconds, no TensorFlow); the real notebooks' classes are graded elsewhere."""
    course = tiny_course.build(tmp_path / "course")
    result = _selfcheck(course)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"{tiny_course.ASSIGNMENT}/"))
    assert re.search(r"solution 5/5\s+blank 0/5\s+ok", row), row

    source = course / "source" / tiny_course.ASSIGNMENT / tiny_course.NOTEBOOK
    source.write_text(source.read_text().replace("assert add(-5, 5) == 0", "assert add(-5, 5) == 1"))
    result = _selfcheck(course)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"{tiny_course.ASSIGNMENT}/"))
    assert re.search(r"solution 3/5\s+blank 0/5\s+FAIL", row), row


def _environment_pins() -> dict[str, str]:
    import yaml

    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert ".[lab]" in pip_section, "environment.yml must install the course package itself, with JupyterLab"
    pins = {}
    for spec in pip_section:
        if not spec.startswith("."):
            name, _, version = spec.partition("==")
            assert version, f"environment.yml pins exact versions for Binder; {spec!r} is not a pin"
            pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_pins_the_dependencies_of_pyproject_within_its_ranges():
    import tomllib

    from packaging.requirements import Requirement

    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    project = [Requirement(spec) for spec in
               settings["dependencies"] + settings["optional-dependencies"]["lab"]]
    pins = _environment_pins()
    assert sorted(pins) == sorted({requirement.name.lower() for requirement in project})
    outside = [f"{requirement.name}=={pins[requirement.name.lower()]} is not in {requirement.specifier}"
               for requirement in project if pins[requirement.name.lower()] not in requirement.specifier]
    assert not outside, outside
