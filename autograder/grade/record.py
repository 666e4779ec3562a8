"""Step 3 of grading, in the coordinator: record what the sandbox sent back.

nbgrader's own autograde steps after execution (``IgnorePattern``, ``LimitOutput``, ``SaveAutoGrades``,
``AssignLatePenalties``, ``CheckCellMetadata``, as the course configures them) run on each executed
notebook here, the only process that writes the gradebook and ``autograded/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbgrader.utils import parse_utc

from autograder.grade import sanitize
from autograder.grade.runners import Executed
from autograder.nbgrader.gradebook import open_gradebook


def record(root: Path, db_url: str, assignment: str, student: str, executed: Executed,
           expected: list[str], files: dict[str, bytes]) -> tuple[float, float]:
    """Write ``autograded/<student>/<assignment>/`` and the grades; returns the submission's (score, max).

    ``expected`` are the assignment's notebook names: one the sandbox did not send back scores zero,
    as nbgrader scores a missing notebook.
    """
    out = root / "autograded" / student / assignment
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, content in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)
    timestamp_file = root / "submitted" / student / assignment / "timestamp.txt"
    timestamp = parse_utc(timestamp_file.read_text().strip()) if timestamp_file.exists() else None
    with open_gradebook(db_url) as gradebook:
        gradebook.update_or_create_student(student)
        # nbgrader's add_submission reads the assignment's notebooks while it builds the new rows; an autoflush
        # there warns (SAWarning "... not in session") about rows it adds and commits right after
        with gradebook.db.no_autoflush:
            if timestamp:
                gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
            else:
                gradebook.update_or_create_submission(assignment, student)
    config = sanitize.course_config(root)
    steps = sanitize.record_steps(config)
    for name in expected:
        notebook_id = Path(name).stem
        if name in executed.notebooks:
            nb = nbformat.reads(executed.notebooks[name].decode("utf-8"), as_version=4)
            nb = sanitize.run_steps(steps, config, nb,
                                    sanitize.resources(db_url, assignment, notebook_id, student, out))
            nbformat.write(nb, out / name)
        else:
            with open_gradebook(db_url) as gradebook:
                for grade in gradebook.find_submission_notebook(notebook_id, assignment, student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                gradebook.db.commit()
    with open_gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return float(submission.code_score), float(submission.max_code_score)
