"""environment.yml (what Binder builds) and pyproject.toml name the same dependencies; their ranges are tested."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from min_constraints import check_kernel, lower_bound, min_constraints, same_version  # noqa: E402
from pip_section import pip_section  # noqa: E402


def test_pip_section_is_what_make_installs():
    text = (ROOT / "environment.yml").read_text()
    entries = pip_section(text)
    assert entries[-1] == ".[lab]" and all("==" in entry for entry in entries[:-1]), entries
    assert pip_section("dependencies:\n  - pip\n  - pip:\n      - a==1  # why\n      - .\nother: x\n") == ["a==1", "."]


# --- The version ranges pyproject.toml declares, tested at their oldest end ----------------------------------

PYPROJECT = (ROOT / "pyproject.toml").read_text()


PROJECT = tomllib.loads(PYPROJECT)["project"]


def test_min_constraints_pin_every_dependency_to_its_lower_bound():
    """Both sides: the student's dependencies and the lab extra; a name on both takes the higher bound."""
    from packaging.requirements import Requirement

    requirements = [Requirement(spec) for spec in
                    PROJECT["dependencies"] + PROJECT["optional-dependencies"]["lab"]]
    constraints = dict(line.split("==") for line in min_constraints(PYPROJECT))
    assert set(constraints) == {requirement.name for requirement in requirements}
    for requirement in requirements:
        assert constraints[requirement.name] in requirement.specifier, \
            f"{requirement.name}=={constraints[requirement.name]} lies outside {requirement}"
    assert constraints["ipywidgets"] == "8.1"  # 7.7 for a student's notebook, 8.1 for JupyterLab 4
    two_sides = '[project]\ndependencies = ["w>=7.7,<9"]\n[project.optional-dependencies]\nlab = ["w>=8.1"]\n'
    assert min_constraints(two_sides) == ["w==8.1"] and min_constraints(two_sides, extras=()) == ["w==7.7"]
    assert lower_bound("keras>=3.12,<4") == ("keras", "3.12")
    assert lower_bound("psycopg[binary]>=3.1 ; python_version < '4'") == ("psycopg", "3.1")
    for unbounded in ["keras<4", "keras", "keras>=3,>=3.1"]:
        with pytest.raises(ValueError, match="lower bound"):
            lower_bound(unbounded)


def test_lower_bounds_satisfy_what_tensorflow_requires():
    """TensorFlow's range is one minor release: what it requires of our other dependencies binds the minimum set."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    bounds = {canonicalize_name(name): bound
              for name, bound in (lower_bound(spec) for spec in tomllib.loads(PYPROJECT)["project"]["dependencies"])}
    tensorflow = Version(metadata.version("tensorflow"))
    tensorflow_range = next(Requirement(spec) for spec in PROJECT["dependencies"] if spec.startswith("tensorflow"))
    assert tensorflow in tensorflow_range.specifier  # the pinned set, the minimum set or Colab's
    checked = []
    for spec in metadata.requires("tensorflow") or []:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)  # TensorFlow writes ml_dtypes, pyproject ml-dtypes
        if requirement.marker is None and name in bounds:
            lowest = bounds[name]
            assert lowest in requirement.specifier, f"pyproject allows {requirement.name} {lowest}; TF needs {spec}"
            checked.append(name)
    assert {"keras", "numpy", "ml-dtypes"} <= set(checked), checked


def test_check_kernel_reads_the_versions_each_notebook_printed():
    import json

    def executed(line: str) -> str:
        return json.dumps({"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": [line]}]}]})

    constraints = "# comment\ntensorflow==2.21\nkeras==3.12\n"
    assert same_version("2.21", "2.21.0") and not same_version("3.12", "3.12.1")
    assert check_kernel(constraints, {"a.ipynb": executed("TensorFlow 2.21.0 | Keras 3.12.0\n")}) == []
    problems = check_kernel(constraints, {"b.ipynb": executed("TensorFlow 2.21.0 | Keras 3.15.1\n"),
                                          "c.ipynb": executed("no versions here\n")})
    assert len(problems) == 2 and "3.15.1" in problems[0] and "no 'TensorFlow" in problems[1]


def test_ci_runs_the_minimum_versions_job_and_the_colab_job():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("make test") < script.index("tools/min_constraints.py pyproject.toml")
    for step in ["pip install --quiet -c build/min-constraints.txt", 'pytest -m "not notebooks"',
                 "nbconvert --to notebook --execute", "--check-kernel", "bash .ci/colab"]:
        assert step in script, step
    colab = (ROOT / ".ci" / "colab").read_text()
    for step in ["tools/colab-constraints.txt", "tools/colab_install_check.py", "pytest tests/course",
                 "nbconvert --to notebook --execute", '--check-kernel "$constraints"']:
        assert step in colab, step


# --- Colab's runtime (tools/colab-constraints.txt, CI's Colab job) -------------------------------------------

COLAB = (ROOT / "tools" / "colab-constraints.txt").read_text()


def test_colab_runtime_lies_inside_the_student_side_ranges():
    """requires-python admits Colab's Python, and each student-side dependency admits Colab's version."""
    from colab_constraints import colab_pins, colab_python
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    assert colab_python(COLAB) in SpecifierSet(PROJECT["requires-python"]), \
        f"requires-python {PROJECT['requires-python']} refuses Colab's Python {colab_python(COLAB)}"
    pins = colab_pins(COLAB)
    outside = []
    for spec in PROJECT["dependencies"]:
        requirement = Requirement(spec)
        version = pins[requirement.name.replace("_", "-").lower()]
        if version not in requirement.specifier:
            outside.append(f"Colab has {requirement.name} {version}, pyproject asks {requirement.specifier}")
    assert not outside, outside


def test_colab_constraints_are_generated_from_colabs_list():
    """The committed file is what the tool writes from Colab's published list (../shared/colab), at its date."""
    from colab_constraints import HEADER_DATE, colab_pins, colab_python, constraints, pins

    freeze = "# comment\nabsl-py==1.4.0\ntorch @ https://x/torch.whl\nKeras==3.13.2\n"
    assert pins(freeze) == ["absl-py==1.4.0", "Keras==3.13.2"]
    text = constraints(freeze, "Ubuntu 22.04.5 LTS\nPython 3.13.15\n", "2026-08-19")
    assert colab_python(text) == "3.13.15" and colab_pins(text) == {"absl-py": "1.4.0", "keras": "3.13.2"}
    with pytest.raises(ValueError, match="Python"):
        constraints(freeze, "Ubuntu 22.04.5 LTS\n", "2026-08-19")
    published = ROOT.parent / "shared" / "colab"
    if not (published / "pip-freeze.txt").exists():
        pytest.skip(f"Colab's published list is not at {published}")
    date = HEADER_DATE.search(COLAB)[1]
    assert constraints((published / "pip-freeze.txt").read_text(), (published / "os-info.txt").read_text(),
                       date) == COLAB, "regenerate: python tools/colab_constraints.py ../shared/colab --date " + date


def test_the_wheel_installs_on_colabs_python(tmp_path):
    """What the install cell does on Colab, for Colab's Python: pip checks Requires-Python even with --no-deps."""
    import subprocess

    from colab_constraints import colab_python

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path),
                            str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    python = ".".join(colab_python(COLAB).split(".")[:2])
    for version, expected in [(python, 0), ("3.10", 1)]:
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--python-version",
                                 version, "--target", str(tmp_path / "target"), str(wheel)],
                                capture_output=True, text=True)
        assert result.returncode == expected, (version, result.stdout[-1000:], result.stderr[-2000:])
        if expected:
            assert "requires a different Python" in result.stderr


def test_install_check_runs_the_install_cell_from_the_checkout():
    """tools/colab_install_check.py: the GitHub requirement becomes the checkout; the cells stop at the import."""
    from colab_install_check import first_cells
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    install = 'subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "git+https://github.com/o/n@main"])'
    notebook = new_notebook(cells=[new_markdown_cell("badges"), new_code_cell(install), new_code_cell('NAME = ""'),
                                   new_code_cell("import course  # first\nimport keras"), new_code_cell("later()")])
    cells = first_cells(notebook, Path("/checkout"))
    assert cells == [install.replace("git+https://github.com/o/n@main", "/checkout"), 'NAME = ""',
                     "import course  # first\nimport keras"]
    with pytest.raises(ValueError, match="found 0"):
        first_cells(new_notebook(cells=[new_code_cell("import course")]), Path("/checkout"))
    with pytest.raises(ValueError, match="no code cell imports course"):
        first_cells(new_notebook(cells=[new_code_cell(install)]), Path("/checkout"))


README_NAMES = {"tensorflow": "TensorFlow", "keras": "Keras", "numpy": "NumPy", "scikit-learn": "scikit-learn",
                "scipy": "SciPy", "matplotlib": "matplotlib", "ipywidgets": "ipywidgets"}


def _states(text: str, name: str, version: str) -> bool:
    return re.search(rf"{re.escape(README_NAMES[name])} {re.escape(version)}(\.0)*(?![\d.]*\d)", text) is not None


def test_readme_states_the_versions_the_course_is_tested_on():
    """The README's paragraph names the pinned TensorFlow and Keras, every version of the minimum set, and Colab's."""
    readme = (ROOT / "README.md").read_text()
    paragraph = next((block for block in readme.split("\n\n") if block.startswith("**Versions tested")), "")
    assert paragraph, "README.md needs its 'Versions tested' paragraph"
    pins = dict(entry.split("==") for entry in pip_section((ROOT / "environment.yml").read_text()) if "==" in entry)
    for name in ("tensorflow", "keras"):
        assert _states(paragraph, name, pins[name]), f"the README does not say {name} {pins[name]} (pinned)"
    minimum = dict(line.split("==") for line in min_constraints(PYPROJECT))
    for name in README_NAMES:
        assert _states(paragraph, name, minimum[name]), f"the README does not say {name} {minimum[name]} (minimum)"
    from colab_constraints import HEADER_DATE, colab_pins, colab_python

    colab = colab_pins(COLAB)
    for name in ("tensorflow", "keras", "numpy", "ipywidgets"):
        assert _states(paragraph, name, colab[name]), f"the README does not say {name} {colab[name]} (Colab)"
    assert f"Python {colab_python(COLAB)}" in paragraph and HEADER_DATE.search(COLAB)[1] in paragraph, \
        "the README names Colab's Python and the date of the Colab runtime tested"


def test_course_and_notebooks_use_no_private_or_too_new_keras_api():
    """keras.src is private (it moves between releases); input_axes/output_axes appeared in Keras 3.15 only."""
    files = [*ROOT.glob("course/*.py"), *ROOT.glob("source/*/*.ipynb")]
    assert len(files) > 6
    words = ("keras.src", "input_axes=", "output_axes=")
    found = [f"{path.relative_to(ROOT)}: {word}" for path in files for word in words if word in path.read_text()]
    assert not found, found
