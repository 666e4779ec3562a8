"""Run each release notebook's first cells as Colab would, and check that they install and import ``course``.

CI's Colab job (.ci/colab) runs this with the Python of an environment built like Colab's runtime, in which
the course is not installed yet. For each release notebook, a kernel of that Python runs:

1. a cell that fakes Colab (``sys.modules["google.colab"]``), as Colab's own kernel has it loaded;
2. the notebook's code cells from the top, up to and including the first that imports ``course``: the
   install cell first, with its ``git+https://github.com/...`` requirement replaced by this checkout (Colab
   fetches the same files from GitHub);
3. a last cell that prints where ``course`` was imported from: it must be the environment's site-packages,
   not this checkout.

The course is uninstalled before each notebook, so every notebook's install cell is run from scratch.

    python tools/colab_install_check.py [CHECKOUT]
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

PACKAGE = "deep-networks-that-train"
GITHUB_REQUIREMENT = re.compile(r'"git\+https://github\.com/[^"]+"')
FAKE_COLAB = """\
import importlib.util, sys, types
assert importlib.util.find_spec("course") is None, "course is already installed: this check would prove nothing"
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what the install cell looks for"""
WHERE = "import course, os\nprint('course imported from', os.path.dirname(course.__file__))"


def first_cells(notebook: nbformat.NotebookNode, checkout: Path) -> list[str]:
    """The code cells a student runs first, up to the first that imports ``course``, installing from ``checkout``."""
    sources, installs = [], 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source, count = GITHUB_REQUIREMENT.subn(repr(str(checkout)).replace("'", '"'), cell.source)
        installs += count
        sources.append(source)
        if re.search(r"^\s*(import course|from course)", source, re.MULTILINE):
            break
    else:
        raise ValueError("no code cell imports course")
    if installs != 1:
        raise ValueError(f"expected one git+https://github.com requirement before the import, found {installs}")
    return sources


def check(notebook_path: Path, checkout: Path) -> str:
    """Run the first cells of ``notebook_path`` in a fresh kernel; the folder ``course`` was imported from."""
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", PACKAGE], check=True)
    cells = [FAKE_COLAB, *first_cells(nbformat.read(notebook_path, as_version=4), checkout), WHERE]
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    with tempfile.TemporaryDirectory() as folder:  # not the checkout: `import course` must find the installed one
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    where = printed.removeprefix("course imported from ").strip()
    site_packages = sysconfig.get_paths()["purelib"]
    if not where.startswith(site_packages):
        raise AssertionError(f"{notebook_path.name}: course was imported from {where}, not from {site_packages}")
    return where


def main() -> int:
    checkout = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    notebooks = sorted((checkout / "release").glob("*/*.ipynb"))
    if not notebooks:
        print(f"no release notebooks under {checkout}", file=sys.stderr)
        return 1
    for path in notebooks:
        print(f"{path.name}: install cell ran, course imported from {check(path, checkout)}", flush=True)
    print(f"{len(notebooks)} release notebooks: the Colab install cell installs the course and the next cells "
          f"import it (Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
