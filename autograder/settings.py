"""One home for the grading limits: what ``grade``, ``selfcheck`` and the tests use unless told otherwise.

The time limit of one cell is nbgrader's own setting, ``Execute.timeout`` in the course's ``nbgrader_config.py``
(:func:`cell_timeout`); ``grade --cell-timeout`` overrides it. The others have no nbgrader setting: they are
here, and ``grade``'s options (``--timeout``, ``--memory-mb``, ``--disk-mb``) override them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT = 1200.0  # seconds for a whole notebook (backstop; cells have their own limit)
DEFAULT_CELL_TIMEOUT = 300  # seconds per cell (nbgrader's Execute.timeout)
DEFAULT_MEMORY_MB = 3072  # per kernel
DEFAULT_DISK_MB = 2048  # the working folder, /tmp and /dev/shm together
DEFAULT_PROCESSES = 1024  # processes and threads (TensorFlow starts many threads)
DEFAULT_FILE_MB = 1024  # largest file the student's code may write


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    memory_mb: int | None = DEFAULT_MEMORY_MB  # each process, and the sandbox's processes with disk_mb
    processes: int = DEFAULT_PROCESSES
    file_mb: int = DEFAULT_FILE_MB
    disk_mb: int = DEFAULT_DISK_MB


def cell_timeout(course_root: Path) -> int:
    """Seconds per cell: the course's ``Execute.timeout`` (nbgrader_config.py), else :data:`DEFAULT_CELL_TIMEOUT`."""
    from autograder.grade.sanitize import course_config

    configured = course_config(course_root).get("Execute", {}).get("timeout")
    return int(configured) if isinstance(configured, int | float) and configured > 0 else DEFAULT_CELL_TIMEOUT
