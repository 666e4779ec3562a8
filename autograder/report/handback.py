"""``handback ASSIGNMENT DEST``: the feedback files laid out for the LMS the submissions came from.

``nbgrader generate_feedback`` writes ``feedback/<student>/<assignment>/<notebook>.html``. An LMS
takes feedback back in bulk only in its own layout:

* ``moodle`` ("Upload multiple feedback files in a zip"): a folder per participant, named as in
  Moodle's download, ``<Full Name>_<participant id>_assignsubmission_file_/<notebook>.html``;
* ``canvas`` ("Re-Upload Submissions"): files named ``<name>_<user id>_<attachment id>_<notebook>.html``;
  Canvas reads the user and the submitted file from the first two numbers and attaches each file to
  that submission as a comment;
* ``files`` (Blackboard and any other LMS): one file per student and notebook,
  ``<LMS id>_<notebook>.html`` (the Blackboard username, Canvas user id, Moodle participant id, or the
  student's folder name), to hand back one by one.

Who each student is in the LMS comes from ``submitted/lms.json``, which ``collect`` writes.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.intake.lms import lms_identities

FORMATS = ("moodle", "canvas", "files")


@dataclass
class Handback:
    """What :func:`handback` wrote, whom it left out and why, and the written answers still to grade."""

    dest: Path
    written: dict[str, list[str]] = field(default_factory=dict)  # student -> paths inside dest
    skipped: dict[str, str] = field(default_factory=dict)  # student -> why no feedback was laid out
    pending: dict[str, float] = field(default_factory=dict)  # student -> hand-graded points not scored yet

    def __str__(self) -> str:
        files = sum(len(paths) for paths in self.written.values())
        students = len(self.written)
        text = (f"{files} feedback file{'s' * (files != 1)} of {students} student{'s' * (students != 1)} "
                f"in {self.dest}")
        if self.skipped:
            text += "; left out: " + "; ".join(f"{student} ({why})" for student, why in sorted(self.skipped.items()))
        if self.pending:
            points = sum(self.pending.values())
            text += (f"; WARNING: {points:g} hand-graded point{'s' * (points != 1)} not scored yet for "
                     f"{len(self.pending)} student{'s' * (len(self.pending) != 1)} "
                     f"({', '.join(sorted(self.pending))}): score them in the formgrader and run "
                     "nbgrader generate_feedback again first")
        return text


def _safe(name: str) -> str:
    """A file or folder name every LMS and file system accepts (no separators, no reserved characters)."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip() or "_"


def _target(style: str, identity: dict | None, student: str, notebook: str) -> str | tuple[None, str]:
    """The path of one feedback file inside the upload, or (None, why not)."""
    lms = (identity or {}).get("lms", "")
    if style == "moodle":
        if lms != "moodle":
            return None, "not collected from a Moodle download: no participant id"
        return f"{_safe(identity['folder'])}/{_safe(notebook)}.html"
    if style == "canvas":
        if lms != "canvas":
            return None, "not collected from a Canvas download: no user and attachment ids"
        return f"{_safe(identity['name'])}_{identity['user_id']}_{identity['attachment_id']}_{_safe(notebook)}.html"
    lms_id = (identity or {}).get("lms_id") or student
    return f"{_safe(lms_id)}_{_safe(notebook)}.html"


def handback(course: Path, assignment: str, style: str, dest: Path, db_url: str | None = None) -> Handback:
    """Lay out ``feedback/*/<assignment>/*.html`` in ``dest`` (a ``.zip`` file, or a new folder) for ``style``.

    ``db_url``: the gradebook (default: the course's SQLite one), read for the written answers still to score.
    """
    from autograder.nbgrader.course import Course
    from autograder.report.grades import submission_details

    if style not in FORMATS:
        raise ValueError(f"unknown format {style!r} (one of {', '.join(FORMATS)})")
    course_dir, dest = Path(course).resolve(), Path(dest)
    if dest.exists() and (dest.is_file() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists: give a new .zip file or a new or empty folder")
    identities = lms_identities(course_dir, assignment)
    feedback = {path.parent.parent.name: sorted(path.parent.glob("*.html"))
                for path in sorted((course_dir / "feedback").glob(f"*/{assignment}/*.html"))}
    if not feedback:
        raise ValueError(f"no feedback for {assignment} in {course_dir / 'feedback'} "
                         f"(run nbgrader generate_feedback {assignment} first)")
    result = Handback(dest)
    for student in sorted(set(identities) - set(feedback)):
        result.skipped[student] = "no feedback file (not graded, or generate_feedback not run)"
    layout: dict[str, Path] = {}
    for student, pages in feedback.items():
        for page in pages:
            target = _target(style, identities.get(student), student, page.stem)
            if isinstance(target, tuple):
                result.skipped[student] = target[1]
                break
            if target in layout:
                raise ValueError(f"two students' feedback would both be {target}: "
                                 f"{layout[target].parent.parent.name} and {student}")
            layout[target] = page
            result.written.setdefault(student, []).append(target)
    if dest.suffix.lower() == ".zip":
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for target, page in sorted(layout.items()):
                archive.write(page, target)
    else:
        for target, page in sorted(layout.items()):
            (dest / target).parent.mkdir(parents=True, exist_ok=True)
            (dest / target).write_bytes(page.read_bytes())
    details = submission_details(Course(course_dir, db_url), assignment)
    result.pending = {student: info.pending_points for student, info in details.items()
                      if info.pending_points and student in result.written}
    return result


def main(args: argparse.Namespace) -> int:
    """The command, with the arguments :mod:`autograder.cli` parsed."""

    try:
        result = handback(args.course, args.assignment, args.format, args.dest, args.db_url)
    except (ValueError, FileExistsError) as error:
        print(f"handback: {error}", file=sys.stderr)
        return 2
    print(result)
    return 0 if result.written else 1
