"""Print a pip constraints file that pins each dependency of pyproject.toml to its lower bound.

CI installs the course with it (``pip install -c min-constraints.txt -e ".[dev]"``) in a second venv and runs
the unit tests and the six solution notebooks there, so that the ranges pyproject.toml declares are
tested at their oldest end, next to the pinned set of environment.yml. Standard library only: it runs
before anything is installed.

    python tools/min_constraints.py pyproject.toml > min-constraints.txt
    python tools/min_constraints.py --check-kernel min-constraints.txt executed/*.ipynb

Every dependency needs a lower bound (``>=``); the file names each one ``name==lower``. ``--check-kernel``
reads the "TensorFlow X | Keras Y" line each notebook prints first and fails unless the kernel that executed
it ran the constrained TensorFlow and Keras (a kernel from another environment would prove nothing).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def lower_bound(requirement: str) -> tuple[str, str]:
    """``("keras", "3.12")`` for ``"keras>=3.12,<4"``; ValueError when the requirement has no ``>=`` bound."""
    requirement = requirement.split(";", 1)[0]  # environment markers do not change the bound
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    name, specifiers = match.group(1), match.group(2)
    bounds = [spec.strip()[2:].strip() for spec in specifiers.split(",") if spec.strip().startswith(">=")]
    if len(bounds) != 1:
        raise ValueError(f"{requirement.strip()!r} needs exactly one lower bound (>=) to be tested at its minimum")
    return name, bounds[0]


TESTED_EXTRAS = ("lab",)  # the minimum-versions job installs JupyterLab and nbgrader too


def _release(version: str) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", version.split("+")[0])]


def min_constraints(pyproject_text: str, extras: tuple[str, ...] = TESTED_EXTRAS) -> list[str]:
    """``name==lower`` for each of ``[project].dependencies`` and the ``extras``, in their order.

    A package named on both sides (ipywidgets: from 7.7 for a student's notebook, from 8.1 for JupyterLab 4)
    is pinned to the higher of its lower bounds: the oldest version that installs with both.
    """
    project = tomllib.loads(pyproject_text)["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    lowest: dict[str, tuple[str, str]] = {}
    for name, version in map(lower_bound, requirements):
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key not in lowest or _release(version) > _release(lowest[key][1]):
            lowest[key] = (lowest.get(key, (name,))[0], version)
    return [f"{name}=={version}" for name, version in lowest.values()]


def same_version(a: str, b: str) -> bool:
    """``"2.21" == "2.21.0"`` (release numbers padded with zeros), as pip compares ``==`` pins."""
    x, y = _release(a), _release(b)
    width = max(len(x), len(y))
    return x + [0] * (width - len(x)) == y + [0] * (width - len(y))


_VERSIONS_LINE = re.compile(r"TensorFlow (\S+) \| Keras (\S+)")


def kernel_versions(notebook_text: str) -> tuple[str, str] | None:
    """(TensorFlow, Keras) versions an executed notebook printed ("TensorFlow 2.21.0 | Keras 3.12.0"), or None."""
    for cell in json.loads(notebook_text).get("cells", []):
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            match = _VERSIONS_LINE.search(text if isinstance(text, str) else "".join(text))
            if match:
                return match.group(1), match.group(2)
    return None


def check_kernel(constraints_text: str, notebooks: dict[str, str]) -> list[str]:
    """Problems: executed notebooks whose kernel did not run the constrained TensorFlow and Keras."""
    pins = dict(line.split("==", 1) for line in constraints_text.splitlines() if "==" in line
                and not line.startswith("#"))
    problems = []
    for name, text in notebooks.items():
        found = kernel_versions(text)
        if found is None:
            problems.append(f"{name}: no 'TensorFlow X | Keras Y' line in its outputs")
        elif not (same_version(found[0], pins["tensorflow"]) and same_version(found[1], pins["keras"])):
            problems.append(f"{name}: ran TensorFlow {found[0]} and Keras {found[1]}, "
                            f"expected {pins['tensorflow']} and {pins['keras']}")
    return problems


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check-kernel"]:
        constraints, *paths = sys.argv[2:]
        problems = check_kernel(Path(constraints).read_text(), {path: Path(path).read_text() for path in paths})
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems or not paths:
            sys.exit(1)
        pins = dict(line.split("==", 1) for line in Path(constraints).read_text().splitlines() if "==" in line)
        print(f"{len(paths)} notebooks executed on TensorFlow {pins['tensorflow']} and Keras {pins['keras']} "
              f"({constraints})")
        sys.exit(0)
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("# The oldest versions pyproject.toml allows (tools/min_constraints.py); CI's minimum-versions job.")
    for line in min_constraints(path.read_text()):
        print(line)
