"""``grade ASSIGNMENT``: autograde a class, in parallel, in a sandbox, with a reason for every failure.

The coordinator (this module, the ``grade`` process) is the only one that sees the gradebook and
``source/``. For each student it

1. reads and repairs the submission and scans it (:mod:`autograder.intake.repair`, :mod:`autograder.integrity`);
2. sanitizes each notebook with nbgrader's own preprocessors (:mod:`autograder.grade.sanitize`);
3. reads from ``source/`` what each notebook's grader kernel runs (:mod:`autograder.grade.plan`: the
   instructor's cells the tests need, the names each answer cell exports) and hands it, the sanitized
   notebooks and the assignment's non-notebook files to a runner (:mod:`autograder.grade.runners`: local
   threads or a Dask cluster),
   which runs them with the judge (:mod:`autograder.grade.judge`: the student's cells and the tests in two
   sandboxed kernels, :mod:`autograder.grade.sandbox`) and sends back the executed notebooks;
4. records them with nbgrader's own preprocessors (:mod:`autograder.grade.record`): ``autograded/`` and the
   gradebook, written by this process only, so SQLite holds under any number of workers.

``submitted/`` is only read. A student whose submission has not changed since it was last graded is
skipped (``force`` regrades): an interrupted run resumes where it stopped. One run may grade several
assignments (:func:`grade_assignments`): their jobs share one queue, longest first
(:mod:`autograder.grade.schedule`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder import REPO_ROOT, settings
from autograder.grade import sanitize
from autograder.grade.plan import GraderPlan, plan_from_source
from autograder.grade.record import record
from autograder.grade.rows import Status, StudentRow
from autograder.grade.runners import Executed, Job, Runner, dask_runner, local_runner
from autograder.grade.schedule import STATE_FILE, longest_first, past_seconds
from autograder.nbgrader.backup import backup_gradebook
from autograder.nbgrader.course import Course
from autograder.nbgrader.gradebook import open_gradebook
from autograder.settings import Limits

if TYPE_CHECKING:
    from autograder.integrity import Flag

__all__ = ["Limits", "dask_runner", "grade", "grade_assignments", "local_runner"]


def prepare_assignment(course: Course, assignment: str, scratch: Path) -> dict[str, bytes]:
    """Make sure the gradebook knows ``assignment``; its non-notebook files from ``source/`` (data files).

    The course's gradebook learns an assignment by ``nbgrader generate_assignment`` (into a scratch
    release folder, so ``release/`` is not touched).
    """
    from autograder.nbgrader.commands import nbgrader

    if not _gradebook_knows(course, assignment):
        nbgrader(["generate_assignment", assignment, "--force",
                  f"--CourseDirectory.release_directory={scratch / 'release-for-gradebook'}",
                  f"--CourseDirectory.db_url={course.db_url}"], cwd=course.root)
    folder = course.root / "source" / assignment
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix != ".ipynb"
            and not {"__pycache__", ".ipynb_checkpoints"} & set(path.relative_to(folder).parts)}


def _gradebook_knows(course: Course, assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    with open_gradebook(course.db_url) as gradebook:
        try:
            return bool(gradebook.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


def fingerprint(files: dict[str, bytes], limits: Limits) -> str:
    """What was graded: the submission's files and the limits (a change of either regrades)."""
    numbers = {key: None if value is None else float(value) for key, value in asdict(limits).items()}
    digest = hashlib.sha256(json.dumps(numbers, sort_keys=True).encode())  # 120 and 120.0 are one limit
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


@dataclass
class Prepared:
    """A student's folder, read: what the pipeline grades and what the report says about it."""

    files: dict[str, bytes]  # notebooks (repaired) and other files
    repairs: list[str]
    flags: list[Flag]  # integrity findings, for a person to review
    reasons: list[str]  # why a notebook could not be used (it scores zero)


def prepare_submission(folder: Path, release: dict[str, nbformat.NotebookNode],
                       assignment_files: dict[str, bytes] | None = None) -> Prepared:
    """Read a student's folder: notebooks loaded and repaired against the release, every other file scanned.

    A file identical to one the assignment ships (``assignment_files``, its data) is not flagged.

    Returns the files to grade, the repairs made, integrity flags and the reasons a notebook
    could not be used (it then scores zero, as nbgrader scores a missing notebook).
    """
    from autograder import integrity
    from autograder.intake import read, repair

    files, repairs, flags, reasons = {}, [], [], []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix != ".ipynb":
            files[path.name] = path.read_bytes()  # data files, timestamp.txt
            if path.name != "timestamp.txt" and (assignment_files or {}).get(path.name) != files[path.name]:
                flags += integrity.scan_file(path.name, files[path.name])
    for name, release_nb in release.items():
        path = folder / name
        others = [other for other in folder.glob("*.ipynb") if other.name not in release]
        if not path.exists() and len(release) == 1 and len(others) == 1:
            path = others[0]  # the student renamed the notebook ("... -Copy1.ipynb")
            repairs.append(f"{name}: graded {path.name} (renamed by the student)")
        try:
            student_nb, notes = read.read_submission(path)
        except read.Unreadable as error:
            reasons.append(f"{name}: {error}")
            continue
        repaired, more_notes = repair.repair(student_nb, release_nb)
        repairs += [f"{name}: {note}" for note in notes + more_notes]
        flags += integrity.scan(repaired, name, release=release_nb)
        files[name] = nbformat.writes(repaired).encode("utf-8")
    return Prepared(files, repairs, flags, reasons)


def _job(course: Course, assignment: str, student: str, files: dict[str, bytes], data: dict[str, bytes],
         limits: Limits, sandbox: str, plans: dict[str, GraderPlan]) -> tuple[Job, list[str]]:
    """The sanitized notebooks and the non-notebook files (the source's data wins over a student's copy)."""
    notebooks, reasons = {}, []
    for name, content in files.items():
        if not name.endswith(".ipynb"):
            continue
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        try:
            clean = sanitize.sanitize(course.root, course.db_url, assignment, Path(name).stem, student, nb)
        except Exception as error:  # nbgrader refuses the notebook (CheckCellMetadata): it scores zero
            reasons.append(f"{name}: nbgrader could not grade it: {error}")
            continue
        notebooks[name] = nbformat.writes(clean).encode("utf-8")
    others = {name: content for name, content in files.items() if not name.endswith(".ipynb")} | data
    return Job(student, notebooks, others, limits, sandbox, assignment, plans), reasons


def assignment_plans(course: Course, assignment: str) -> dict[str, GraderPlan]:
    """notebook -> what its grader kernel runs, read from the instructor's notebook in ``source/``."""
    folder = course.root / "source" / assignment
    return {path.name: plan_from_source(nbformat.read(path, as_version=4))
            for path in sorted(folder.glob("*.ipynb"))}


def _ask_for_review(course: Course, assignment: str, student: str, flags: list[Flag]) -> None:
    """Integrity flags: mark the flagged notebooks' grades as needing a grader's look (nothing is zeroed)."""
    from autograder.nbgrader.gradebook import open_gradebook

    with open_gradebook(course.db_url) as gradebook:
        for notebook in gradebook.find_submission(assignment, student).notebooks:
            if any(flag.notebook == f"{notebook.name}.ipynb" or not flag.notebook.endswith(".ipynb")
                   for flag in flags):  # a flagged file beside the notebooks: every notebook
                for grade in notebook.grades:
                    grade.needs_manual_grade = True
        gradebook.db.commit()


def _gradebook_has(course: Course, assignment: str, student: str) -> bool:
    from nbgrader.api import MissingEntry

    with open_gradebook(course.db_url) as gradebook:
        try:
            gradebook.find_submission(assignment, student)
        except MissingEntry:
            return False
        return True


def _read_state(course: Course, assignment: str, student: str) -> dict | None:
    path = course.root / "autograded" / student / assignment / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass
class _Plan:
    """One assignment of a run: its release, its data files, and each student's row and job."""

    assignment: str
    release: dict[str, nbformat.NotebookNode]
    names: list[str]  # the students asked for, in report order
    rows: dict[str, StudentRow] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)  # student -> the job that grades them
    graded_files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # what the fingerprint covers
    flags: dict[str, list[Flag]] = field(default_factory=dict)  # student -> integrity flags, as records


def _plan(course: Course, assignment: str, students: Iterable[str] | None, limits: Limits, force: bool,
          sandbox: str) -> _Plan:
    """Steps 1 and 2 for one assignment: read, repair, scan and sanitize each submission into a job."""
    release = course.release_notebooks(assignment)
    if not release:
        raise FileNotFoundError(f"no release notebooks for {assignment} in {course.root / 'release'}")
    plan = _Plan(assignment, release, sorted(students) if students is not None else course.submitted(assignment))
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        data = prepare_assignment(course, assignment, Path(scratch))
    plans = assignment_plans(course, assignment)
    for student in plan.names:
        folder = course.root / "submitted" / student / assignment
        if not folder.is_dir():
            plan.rows[student] = StudentRow(student, Status.NOT_GRADED, reasons=[f"no submission in {folder}"])
            continue
        prepared = prepare_submission(folder, release, data)
        files, repairs, flags, reasons = prepared.files, prepared.repairs, prepared.flags, prepared.reasons
        row = plan.rows[student] = StudentRow(student, Status.GRADED, repairs=repairs, flags=[str(f) for f in flags],
                                              reasons=reasons)
        plan.flags[student] = flags
        state = _read_state(course, assignment, student)
        if (not force and state and state.get("fingerprint") == fingerprint(files, limits)
                and _gradebook_has(course, assignment, student)):
            row.status, row.score, row.max_score = Status.UNCHANGED, state["score"], state["max_score"]
            row.reasons, row.sandbox = state.get("reasons", reasons), state.get("sandbox", "")
            continue
        job, more_reasons = _job(course, assignment, student, files, data, limits, sandbox, plans)
        row.reasons += more_reasons
        plan.graded_files[student] = files
        plan.jobs[student] = job
    return plan


def _regrades(course: Course, plans: dict[str, _Plan]) -> bool:
    """Whether this run rewrites grades the gradebook already holds (a submission graded before)."""
    from autograder.nbgrader.gradebook import open_gradebook

    with open_gradebook(course.db_url) as gradebook:
        return any({submission.student_id for submission in gradebook.assignment_submissions(plan.assignment)}
                   & set(plan.jobs) for plan in plans.values() if plan.jobs)


def grade_assignments(course: Course, assignments: dict[str, Iterable[str] | None], *,
                      limits: Limits | None = None, runner: Runner | None = None, force: bool = False,
                      sandbox: str = "auto", log: Callable[[str], None] = print) -> dict[str, list[StudentRow]]:
    """Grade several assignments in one run: ``{assignment: students or None (everyone submitted)}``.

    Every job of every assignment goes into one queue, longest first (:mod:`autograder.grade.schedule`), so
    no worker idles while another finishes a long notebook. Before it rewrites a grade the gradebook already
    holds, a dated copy of the gradebook is kept (:mod:`autograder.nbgrader.backup`). Returns each assignment's rows,
    in order.
    """
    limits = limits or Limits(cell_timeout=settings.cell_timeout(course.root))
    runner = runner or local_runner(len(os.sched_getaffinity(0)))
    plans = {assignment: _plan(course, assignment, students, limits, force, sandbox)
             for assignment, students in assignments.items()}
    jobs = [job for plan in plans.values() for job in plan.jobs.values()]
    if _regrades(course, plans):
        said = backup_gradebook(course.db_url, course.root)
        if said:
            log(said)
    started = time.perf_counter()
    # A submission without a single usable notebook needs no kernel: it scores zero at once.
    results = [Executed(job.student, {}, [], "", "", 0.0, job.assignment) for job in jobs if not job.notebooks]
    queue = longest_first([job for job in jobs if job.notebooks], past_seconds(course.root, plans))
    for result in [*results, *runner(queue)]:
        plan = plans[result.assignment]
        row, job = plan.rows[result.student], plan.jobs[result.student]
        row.score, row.max_score = record(course.root, course.db_url, plan.assignment, result.student, result,
                                          list(plan.release), job.files)
        row.reasons += result.problems
        if plan.flags.get(result.student):
            _ask_for_review(course, plan.assignment, result.student, plan.flags[result.student])
        row.seconds, row.sandbox = result.seconds, result.sandbox
        if row.reasons:
            row.status = Status.GRADED_WITH_PROBLEMS if result.notebooks else Status.NOT_GRADED
        state = {"fingerprint": fingerprint(plan.graded_files[result.student], limits), "score": row.score,
                 "max_score": row.max_score, "reasons": row.reasons, "sandbox": row.sandbox,
                 "seconds": round(result.seconds, 1)}
        state_file = course.root / "autograded" / result.student / plan.assignment / STATE_FILE
        state_file.write_text(json.dumps(state))
        who = f"{plan.assignment}/{result.student}" if len(plans) > 1 else result.student
        log(f"{who}: {row.score:g}/{row.max_score:g} {row.status}"
            + (f" ({'; '.join(row.reasons)})" if row.reasons else "") + f" [{result.seconds:.0f} s]")
    if jobs:
        log(f"graded {len(jobs)} submission{'s' * (len(jobs) != 1)} in {time.perf_counter() - started:.0f} s")
    return {assignment: [plan.rows[student] for student in plan.names] for assignment, plan in plans.items()}


def grade(course: Course, assignment: str, *, students: Iterable[str] | None = None,
          limits: Limits | None = None, runner: Runner | None = None, force: bool = False,
          sandbox: str = "auto", log: Callable[[str], None] = print) -> list[StudentRow]:
    """Grade ``students`` (default: everyone in ``submitted/``); one row per student, in order."""
    return grade_assignments(course, {assignment: students}, limits=limits, runner=runner, force=force,
                             sandbox=sandbox, log=log)[assignment]


def default_course() -> Course:
    return Course(REPO_ROOT)


def main(args: argparse.Namespace) -> int:
    """The command, with the arguments :mod:`autograder.cli` parsed."""
    from autograder.nbgrader.commands import nbgrader
    from autograder.report.grades import write_report

    course = Course(args.course, args.db_url)
    limits = Limits(timeout=args.timeout, cell_timeout=args.cell_timeout or settings.cell_timeout(course.root),
                    memory_mb=args.memory_mb or None, disk_mb=args.disk_mb)
    runner = dask_runner(args.scheduler) if args.scheduler else local_runner(args.workers)
    started = time.perf_counter()
    try:
        graded = grade_assignments(course, dict.fromkeys(args.assignments, args.student or None), limits=limits,
                                   runner=runner, force=args.force, sandbox=args.sandbox)
    except RuntimeError as error:  # --sandbox bwrap where bubblewrap cannot run
        print(f"grade: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    for assignment, rows in graded.items():
        if not args.no_feedback and any(row.status != Status.NOT_GRADED for row in rows):
            feedback = ["generate_feedback", assignment, "--force", f"--CourseDirectory.db_url={course.db_url}"]
            # nbgrader takes one --student (the last one given): one run per named student, else one for all
            for student in args.student or [None]:
                nbgrader(feedback + (["--student", student] if student else []), cwd=course.root, check=False)
        report = write_report(course, assignment, rows, args.report or course.root / "reports", seconds)
        print(report.summary)
        print(f"report: {report.html}, {report.grades_csv} and what the class got wrong in "
              f"{report.failures_csv}; feedback in {course.root / 'feedback'}")
    return 0
