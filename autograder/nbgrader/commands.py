"""Running nbgrader's commands from Python: the environment they need, and one call per command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autograder import REPO_ROOT


def source_assignments(root: Path = REPO_ROOT) -> list[str]:
    """Assignment names: the folders of ``source/``."""
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def nbgrader_environment() -> dict[str, str]:
    """The environment for nbgrader: it runs ``alembic`` from PATH, so put this Python's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "PYTHONWARNINGS": "ignore"}


# ``python -m nbgrader``, after ``import autograder`` (which spares nbformat's schema checker a 1.2 s import)
NBGRADER_MAIN = "import autograder, runpy; runpy.run_module('nbgrader', run_name='__main__', alter_sys=True)"


def nbgrader(
    args: list[str], cwd: Path, *, timeout: float | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run an nbgrader command in a course directory; with ``check``, raise with its log when it fails."""
    result = subprocess.run(
        [sys.executable, "-c", NBGRADER_MAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=nbgrader_environment(),
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result
