"""Step 1 of grading, in the coordinator: nbgrader's sanitizing preprocessors, which need the gradebook.

``ClearOutput``, ``DeduplicateGradeIds``, ``OverwriteKernelspec``, ``OverwriteCells`` (the test cells
put back as the instructor wrote them, hidden tests included) and ``CheckCellMetadata``: the steps
``nbgrader autograde`` runs before executing, as the course's ``nbgrader_config.py`` configures them.
Only the sanitized notebook leaves this process, for the sandbox (:mod:`autograder.grade.runners`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


@functools.cache
def course_config(root: Path) -> Config:
    """The course's ``nbgrader_config.py``, as nbgrader itself loads it."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def _configured(config: Config, name: str) -> list[type]:
    if name in config.get("Autograde", {}):
        return list(config.Autograde[name])
    return list(Autograde.class_traits()[name].default())


def sanitize_steps(config: Config) -> list[type]:
    return _configured(config, "sanitize_preprocessors")


def record_steps(config: Config) -> list[type]:
    """The autograde preprocessors after the execution step (IgnorePattern, LimitOutput, SaveAutoGrades ...)."""
    steps = _configured(config, "autograde_preprocessors")
    executing = [index for index, step in enumerate(steps) if issubclass(step, Execute)]
    if len(executing) != 1 or executing[0] != 0:
        raise ValueError("Autograde.autograde_preprocessors must start with one Execute step (it runs in the "
                         f"sandbox), got {[step.__name__ for step in steps]}")
    return steps[1:]


def resources(db_url: str, assignment: str, notebook: str, student: str, path: Path | None = None) -> dict:
    """The resources nbgrader's preprocessors read (ids and the gradebook's address)."""
    return {"nbgrader": {"notebook": notebook, "assignment": assignment, "student": student, "db_url": db_url},
            "metadata": {"path": str(path or ".")}, "unique_key": notebook}


def run_steps(steps: list[type], config: Config, nb: NotebookNode, resources: dict) -> NotebookNode:
    for step in steps:
        nb, resources = step(config=config)(nb, resources)  # a disabled step (enabled=False) does nothing
    return nb


def sanitize(root: Path, db_url: str, assignment: str, notebook: str, student: str,
             nb: NotebookNode) -> NotebookNode:
    """The notebook as nbgrader would execute it: outputs cleared, test cells restored from the gradebook."""
    config = course_config(root)
    return run_steps(sanitize_steps(config), config, nb, resources(db_url, assignment, notebook, student))
