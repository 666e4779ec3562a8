"""The leak scan that guards the student edition: nbgrader's markers, lines of solutions or hidden tests from
``source/``, a path into ``source/``, a gradebook.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from autograder import REPO_ROOT
from autograder.nbgrader import notebooks

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME")
SOURCE_PATH = re.compile(r"(?<![\w.-])source/")
INSTRUCTOR_NAMES = {"source", "submitted", "autograded", "feedback", "nbgrader_config.py"}
SECRET_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)
MIN_LINE = 20  # shorter lines ("return x", "import numpy as np") prove nothing
BODY_LINES, BODY_SHARE = 3, 0.8  # a file with 80% of a 3+ line region's lines holds that region


@dataclass(frozen=True)
class Leak:
    path: str  # relative to the scanned folder
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class LeakFound(RuntimeError):
    def __init__(self, leaks: list[Leak]):
        self.leaks = leaks
        super().__init__(f"{len(leaks)} leak(s) in the student edition:\n" + "\n".join(map(str, leaks[:20])))


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_LINE}


@dataclass(frozen=True)
class SecretRegion:
    label: str  # "<notebook> <grade id>"
    lines: frozenset[str]

    def found_in(self, lines: set[str]) -> bool:
        """Whether ``lines`` contain this (long enough) region's code, most of it at least."""
        return len(self.lines) >= BODY_LINES and len(self.lines & lines) >= BODY_SHARE * len(self.lines)


def _split(cell) -> tuple[list[str], str]:
    """A source cell's secret texts (solution and hidden-test regions) and the rest of it."""
    secret = [match.group(2) for match in SECRET_REGION.finditer(cell.source)]
    if notebooks.nbgrader_meta(cell).get("solution") and not secret:
        return [cell.source], ""  # a solution cell without markers is replaced whole (a written answer, say)
    return secret, SECRET_REGION.sub("", cell.source)


def secret_regions(root: Path = REPO_ROOT) -> list[SecretRegion]:
    """The solution and hidden-test regions of ``source/``, as sets of (long enough) lines."""
    regions = []
    for path in sorted((root / "source").glob("*/*.ipynb")):
        for cell in notebooks.read(path).cells:
            regions += [SecretRegion(f"{path.name} {notebooks.grade_id(cell)}", frozenset(_lines(text)))
                        for text in _split(cell)[0] if _lines(text)]
    return regions


def public_lines(root: Path = REPO_ROOT) -> set[str]:
    """Lines students see anyway: outside the secret regions of source (header included), in ``course/``.

    Not the release: it is what the scan examines.
    """
    public = set()
    for path in sorted((root / "source").rglob("*.ipynb")):
        for cell in notebooks.read(path).cells:
            public |= _lines(_split(cell)[1])
    for path in sorted((root / "course").rglob("*.py")):
        public |= _lines(path.read_text(encoding="utf-8"))
    return public


def _texts(path: Path) -> list[str]:
    """The text a student could read in a file: a notebook's cell sources and outputs, or the file."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        texts = []
        for cell in nb.get("cells", []):
            texts.append("".join(cell.get("source", "")))
            for output in cell.get("outputs", []):
                texts.append(json.dumps(output))
        return texts
    try:
        return [path.read_text(encoding="utf-8")]
    except UnicodeDecodeError:
        return []  # a binary file: only its name is checked


def scan_for_leaks(folder: Path, root: Path = REPO_ROOT) -> list[Leak]:
    """Everything of the instructor's side found in ``folder``.

    A solution or hidden-test line students never see is a leak wherever it appears; a line that
    is also public (a ``for layer in model.layers:`` in ``course/``, say) counts only as part of a
    whole body: a file holding most of the lines of a secret region holds that region.
    """
    regions = secret_regions(root)
    secrets = set().union(*(region.lines for region in regions)) - public_lines(root)
    leaks = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.name in INSTRUCTOR_NAMES or path.suffix in {".db", ".db-journal"}:
            leaks.append(Leak(relative, "an instructor's file or folder"))
        if not path.is_file():
            continue
        for text in _texts(path):
            lines = _lines(text)
            leaks += [Leak(relative, f"nbgrader marker {marker!r}") for marker in MARKERS if marker in text]
            if SOURCE_PATH.search(text):
                leaks.append(Leak(relative, "a path into source/"))
            leaks += [Leak(relative, f"solution or hidden-test line {line!r}")
                      for line in sorted(lines & secrets)]
            leaks += [Leak(relative, f"most of the code of {region.label}") for region in regions
                      if region.found_in(lines)]
    return leaks
