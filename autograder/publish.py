"""``publish DEST --repository URL``: the student edition of the course, and the leak scan that guards it.

The student edition is what students get: the release notebooks, the ``course`` helper package,
the packaging and environment files, Binder's start script and a README written for them; nothing
else. It stands alone: its badges, Colab's install cell (the first two cells of each notebook), its
README and its ``[tool.course]`` name the edition's own public repository (``--repository``), not the
course repository that holds ``source/``. Before it is moved into place, a scan looks for anything of
the instructor's side in it: nbgrader's solution and hidden-test markers, lines of solution or
hidden-test code from ``source/``, a path into ``source/``, a gradebook. Any finding fails the export
and nothing is written to DEST.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import notebooks
from autograder.launch import Publication, publication, release_notebooks, with_launch_cells

REPO_ROOT = Path(__file__).resolve().parent.parent
# Binder runs `start` (with tools/jupyter-student) so that students get nbgrader's student tools only
STUDENT_FILES = ("release", "course", "pyproject.toml", "environment.yml", "LICENSE", "start",
                 "tools/jupyter-student")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
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


def student_readme(root: Path = REPO_ROOT, edition: Publication | None = None) -> str:
    """The README of the student edition, with its Colab and Binder links (to ``edition``'s repository)."""
    pub = edition or publication(root)
    rows = "\n".join(f"| [{Path(path).stem}]({path}) | {pub.badges(path)} |"
                     for path in release_notebooks(root))
    return f"""# Deep networks that train

A Jupyter course on why deep networks stop learning and how to fix it: vanishing and exploding gradients,
weight initialization, activation functions, Batch Normalization and gradient clipping.

| notebook | open it online |
|---|---|
{rows}

## On your own computer

```bash
python -m venv .venv && . .venv/bin/activate   # Python 3.11 to 3.13
pip install -e ".[lab]"                        # the course helpers, TensorFlow, JupyterLab, ipywidgets
jupyter lab release/
```

(or `conda env create -f environment.yml && conda activate deep-networks-that-train`).

## Working on a notebook

Run it from the top; write your code in the cells marked `YOUR CODE HERE` and your answers in the cells
marked `YOUR ANSWER HERE`. The test cell under each exercise tells you what was expected and what your code
gave; the grader also runs hidden tests on other inputs. Before you hand in: *Kernel → Restart Kernel and Run
All Cells*.

## If something goes wrong

- **"Fashion-MNIST could not be downloaded"**: without internet, notebooks 04 and 05 use scikit-learn's
  handwritten digits instead and say so; the numbers in the text will differ from yours.
- **Binder stops or restarts the kernel**: Binder gives about 2 GB of memory; close the notebooks you are not
  using (*Kernel → Shut Down Kernel*).
- **Colab**: the first code cell installs the course helpers; run it first. Colab keeps its own TensorFlow.
"""


def point_at(edition_root: Path, edition: Publication) -> None:
    """Make the edition at ``edition_root`` name ``edition``: notebooks' launch cells, ``[tool.course]``."""
    for path in release_notebooks(edition_root):
        nbformat.write(with_launch_cells(notebooks.read(edition_root / path), edition, path), edition_root / path)
    pyproject = edition_root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").rstrip("\n") + "\n"
    table = f'[tool.course]\nrepository = "{edition.repository}"\nbranch = "{edition.branch}"\n'
    found = re.search(r"^\[tool\.course\]\n(?:(?!\[).*\n)*", text, re.M)  # the table, up to the next one
    text = text[:found.start()] + table + "\n" + text[found.end():] if found else text + "\n" + table
    pyproject.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def publish(dest: Path, root: Path = REPO_ROOT, edition: Publication | None = None) -> list[Path]:
    """Write the student edition to ``dest`` (new or empty) after a clean leak scan; the files written.

    ``edition``: the edition's own repository, which its links and Colab's install cell name (default:
    the course's ``[tool.course]``, right only where the course repository itself is public).
    """
    dest = Path(dest)
    edition = edition or publication(root)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; give a new or empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".publish-", dir=dest.parent) as tmp:
        staged = Path(tmp) / "edition"
        staged.mkdir()
        for name in STUDENT_FILES:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, staged / name, ignore=SKIPPED)
            else:
                (staged / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, staged / name)
        point_at(staged, edition)
        (staged / "README.md").write_text(student_readme(root, edition), encoding="utf-8")
        leaks = scan_for_leaks(staged, root)
        if leaks:
            raise LeakFound(leaks)
        if dest.exists():
            dest.rmdir()
        shutil.move(staged, dest)
    return sorted(path for path in dest.rglob("*") if path.is_file())
