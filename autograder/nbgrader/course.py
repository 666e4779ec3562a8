"""An nbgrader course directory (``source/``, ``release/``, ``submitted/`` ...) and the address of its gradebook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass
class Course:
    """An nbgrader course directory and its gradebook."""

    root: Path
    db_url: str | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.db_url = self.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    def submitted(self, assignment: str) -> list[str]:
        base = self.root / "submitted"
        return sorted(path.parent.name for path in base.glob(f"*/{assignment}") if path.is_dir())

    def release_notebooks(self, assignment: str) -> dict[str, nbformat.NotebookNode]:
        return {path.name: nbformat.read(path, as_version=4)
                for path in sorted((self.root / "release" / assignment).glob("*.ipynb"))}
