"""environment.yml (what Binder builds) and pyproject.toml name the same dependencies; their ranges are tested."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from min_constraints import check_kernel, lower_bound, min_constraints, same_version  # noqa: E402
from pip_section import pip_section  # noqa: E402


def test_pip_section_is_what_make_installs():
    text = (ROOT / "environment.yml").read_text()
    entries = pip_section(text)
    assert entries[-1] == "." and all("==" in entry for entry in entries[:-1]), entries
    assert pip_section("dependencies:\n  - pip\n  - pip:\n      - a==1  # why\n      - .\nother: x\n") == ["a==1", "."]


# --- The version ranges pyproject.toml declares, tested at their oldest end ----------------------------------

PYPROJECT = (ROOT / "pyproject.toml").read_text()


def test_min_constraints_pin_every_dependency_to_its_lower_bound():
    from packaging.requirements import Requirement

    dependencies = [Requirement(spec) for spec in tomllib.loads(PYPROJECT)["project"]["dependencies"]]
    constraints = min_constraints(PYPROJECT)
    assert [line.split("==")[0] for line in constraints] == [requirement.name for requirement in dependencies]
    for line, requirement in zip(constraints, dependencies, strict=True):
        assert line.split("==")[1] in requirement.specifier, f"{line} lies outside {requirement}"
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
    assert same_version(f"{tensorflow.major}.{tensorflow.minor}", bounds["tensorflow"])
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


def test_ci_runs_the_minimum_versions_job():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("make test") < script.index("tools/min_constraints.py pyproject.toml")
    for step in ["pip install --quiet -c build/min-constraints.txt", 'pytest -m "not notebooks"',
                 "nbconvert --to notebook --execute", "--check-kernel"]:
        assert step in script, step


README_NAMES = {"tensorflow": "TensorFlow", "keras": "Keras", "numpy": "NumPy", "scikit-learn": "scikit-learn",
                "scipy": "SciPy", "matplotlib": "matplotlib", "ipywidgets": "ipywidgets"}


def _states(text: str, name: str, version: str) -> bool:
    return re.search(rf"{re.escape(README_NAMES[name])} {re.escape(version)}(\.0)*(?![\d.]*\d)", text) is not None


def test_readme_states_the_versions_the_course_is_tested_on():
    """The README's paragraph names the pinned TensorFlow and Keras and every version of the minimum set."""
    readme = (ROOT / "README.md").read_text()
    paragraph = next((block for block in readme.split("\n\n") if block.startswith("**Versions tested")), "")
    assert paragraph, "README.md needs its 'Versions tested' paragraph"
    pins = dict(entry.split("==") for entry in pip_section((ROOT / "environment.yml").read_text()) if "==" in entry)
    for name in ("tensorflow", "keras"):
        assert _states(paragraph, name, pins[name]), f"the README does not say {name} {pins[name]} (pinned)"
    minimum = dict(line.split("==") for line in min_constraints(PYPROJECT))
    for name in README_NAMES:
        assert _states(paragraph, name, minimum[name]), f"the README does not say {name} {minimum[name]} (minimum)"


def test_course_and_notebooks_use_no_private_or_too_new_keras_api():
    """keras.src is private (it moves between releases); input_axes/output_axes appeared in Keras 3.15 only."""
    files = [*ROOT.glob("course/*.py"), *ROOT.glob("source/*/*.ipynb")]
    assert len(files) > 6
    words = ("keras.src", "input_axes=", "output_axes=")
    found = [f"{path.relative_to(ROOT)}: {word}" for path in files for word in words if word in path.read_text()]
    assert not found, found
