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

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder import REPO_ROOT
from autograder.nbgrader import notebooks
from autograder.publish.leaks import LeakFound, scan_for_leaks
from autograder.publish.links import Publication, publication, release_notebooks, with_launch_cells

# Binder runs `start` (with tools/jupyter-student) so that students get nbgrader's student tools only
STUDENT_FILES = ("release", "course", "pyproject.toml", "environment.yml", "LICENSE", "start",
                 "tools/jupyter-student")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


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


def main(args: argparse.Namespace) -> int:
    """The command, with the arguments :mod:`autograder.cli` parsed."""
    from autograder.publish.leaks import LeakFound
    from autograder.publish.links import Publication, publication

    try:
        course = publication()
        edition = Publication(args.repository or course.repository,
                              args.branch or (course.branch if not args.repository else "main"))
        files = publish(args.dest, edition=edition)
    except (LeakFound, FileExistsError, ValueError) as error:
        print(f"publish failed, nothing written: {error}", file=sys.stderr)
        return 1
    print(f"student edition: {len(files)} files in {args.dest} (leak scan: clean); push it to "
          f"{edition.repository} (branch {edition.branch}): its badges and Colab's install cell point there")
    if not args.repository:
        print("no --repository given: that is the course repository itself, which must then be public "
              "(and with it source/, the solutions)")
    return 0
