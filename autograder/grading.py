"""``grade ASSIGNMENT``: autograde a class, in parallel, safely, with a reason for every failure.

Each student's submission is graded by stock ``nbgrader autograde`` in a throw-away course
directory of its own (a *shard*: the course's config, the assignment's source and release, a copy
of the submission and a SQLite gradebook made once from the course's), in a subprocess with a
wall-clock limit, while a watchdog kills any kernel whose memory passes the cap. The shard sends
back the autograded notebooks as data; only this process writes them to ``autograded/`` and their
grades to the course's gradebook (nbgrader's own ``SaveAutoGrades``), so parallel grading never has
two writers on one database, whether the shards run in local threads or as tasks on a Dask cluster.

``submitted/`` is only read. A student whose submission has not changed since it was last graded is
skipped (``force`` regrades): an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.coursedir import REPO_ROOT, _environment
from autograder.preprocessors import KERNEL_DIED

STATE_FILE = ".autograder.json"  # in autograded/<student>/<assignment>/: what was graded, and how it went
DEFAULT_TIMEOUT = 1200.0  # seconds for a whole notebook (backstop; cells have their own limit)
DEFAULT_CELL_TIMEOUT = 300  # seconds per cell (nbgrader's Execute.timeout)
DEFAULT_MEMORY_MB = 3072  # per kernel


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    memory_mb: int | None = DEFAULT_MEMORY_MB


@dataclass
class Job:
    """Everything a shard needs to grade one student, as plain data (it travels to Dask workers)."""

    assignment: str
    student: str
    course_files: dict[str, bytes]  # relative path -> content: config, source, release, gradebook.db
    submission: dict[str, bytes]  # file name -> content (notebooks already repaired)
    limits: Limits = field(default_factory=Limits)


@dataclass
class ShardResult:
    """What a shard sends back: the autograded files and how the grading went."""

    student: str
    autograded: dict[str, bytes]  # file name -> content, from autograded/<student>/<assignment>/
    problems: list[str]  # "timed out after 1200 s", "kernel died in ex1-add", "memory cap 3072 MB: ..."
    log: str
    seconds: float


# --------------------------------------------------------------------------------------------
# The shard: runs anywhere (a thread here, a process on a Dask worker). No gradebook writes.


def grade_in_shard(job: Job) -> ShardResult:
    """Grade one student's submission with ``nbgrader autograde`` in a temporary course directory."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"shard-{job.student}-") as tmp:
        root = Path(tmp)
        for relative, content in job.course_files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(content)
        folder = root / "submitted" / job.student / job.assignment
        folder.mkdir(parents=True)
        for name, content in job.submission.items():
            (folder / name).write_bytes(content)
        command = [sys.executable, "-m", "nbgrader", "autograde", job.assignment, "--student", job.student,
                   "--force", f"--Execute.timeout={job.limits.cell_timeout}"]
        log, problems = _run_limited(command, root, job.limits)
        out = root / "autograded" / job.student / job.assignment
        autograded = {path.name: path.read_bytes() for path in sorted(out.glob("*")) if path.is_file()} \
            if out.is_dir() else {}
        problems += _problems_in(autograded)
        if not any(name.endswith(".ipynb") for name in autograded) and not problems:
            problems.append("nbgrader could not grade it: " + _last_error(log))
    return ShardResult(job.student, autograded, problems, log, time.perf_counter() - started)


def _run_limited(command: list[str], cwd: Path, limits: Limits) -> tuple[str, list[str]]:
    """Run ``command`` in its own process group under the wall-clock limit and the memory watchdog."""
    problems: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                   env=_environment(), start_new_session=True)
        stop = threading.Event()
        watchdog = threading.Thread(target=_watch_memory, daemon=True,
                                    args=(process.pid, limits.memory_mb, stop, problems))
        if limits.memory_mb:
            watchdog.start()
        try:
            process.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"timed out: grading took longer than {limits.timeout:g} s and was stopped")
            _kill_group(process)
        finally:
            stop.set()
            if watchdog.is_alive():
                watchdog.join()
            _kill_group(process)  # kernels left behind by a stopped nbgrader
        output.seek(0)
        return output.read(), problems


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        children = tree.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _watch_memory(pid: int, cap_mb: int, stop: threading.Event, problems: list[str]) -> None:
    """Kill any process under ``pid`` (a kernel) whose resident memory passes ``cap_mb``."""
    while not stop.wait(0.2):
        for child in _descendants(pid):
            rss = _rss_mb(child)
            if rss > cap_mb:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                problems.append(f"memory cap: a kernel used {rss:.0f} MB (cap {cap_mb} MB) and was stopped")


def _problems_in(autograded: dict[str, bytes]) -> list[str]:
    """Cells that killed the kernel or timed out, read from the autograded notebooks."""
    problems = []
    for name, content in autograded.items():
        if not name.endswith(".ipynb"):
            continue
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        for cell in nb.cells:
            label = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id", "?")
            for output in cell.get("outputs", []):
                if output.get("output_type") != "error":
                    continue
                if output.get("ename") == KERNEL_DIED:
                    problems.append(f"{name}: the kernel died in cell {label}")
                elif output.get("ename") == "CellTimeoutError":
                    problems.append(f"{name}: cell {label} timed out")
    return problems


def _last_error(log: str) -> str:
    errors = [line.split("ERROR]", 1)[-1].strip() for line in log.splitlines() if "ERROR]" in line]
    return errors[0] if errors else "no notebook came back (see the log)"


# --------------------------------------------------------------------------------------------
# The coordinator: prepares jobs, runs shards, writes results (the only gradebook writer).


@dataclass
class StudentRow:
    """One line of the grading report."""

    student: str
    status: str  # "graded", "graded with problems", "not graded", "unchanged"
    score: float = 0.0
    max_score: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why it is not (fully) graded
    repairs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # integrity: for manual review
    seconds: float = 0.0


@dataclass
class Course:
    """An nbgrader course directory and its gradebook."""

    root: Path
    db_url: str | None = None

    def __post_init__(self) -> None:
        # nbgrader's Gradebook runs `alembic` by name when it creates a database: this Python's bin first
        os.environ["PATH"] = _environment()["PATH"]
        self.root = Path(self.root).resolve()
        self.db_url = self.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    def submitted(self, assignment: str) -> list[str]:
        base = self.root / "submitted"
        return sorted(path.parent.name for path in base.glob(f"*/{assignment}") if path.is_dir())

    def release_notebooks(self, assignment: str) -> dict[str, nbformat.NotebookNode]:
        return {path.name: nbformat.read(path, as_version=4)
                for path in sorted((self.root / "release" / assignment).glob("*.ipynb"))}


def course_files(course: Course, assignment: str, scratch: Path) -> dict[str, bytes]:
    """The files every shard needs: config, header, source and release of ``assignment``, and a gradebook.

    The gradebook is made once here, by ``nbgrader generate_assignment`` in a scratch copy, and
    the course's own gradebook learns the assignment the same way if it does not know it yet.
    """
    from autograder.coursedir import nbgrader

    shard = scratch / "template"
    (shard / "source").mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", shard / "nbgrader_config.py")
    header = course.root / "source" / "header.ipynb"
    if header.exists():
        shutil.copy(header, shard / "source" / "header.ipynb")
    shutil.copytree(course.root / "source" / assignment, shard / "source" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nbgrader(["generate_assignment", assignment, "--force"], cwd=shard)
    if not _gradebook_knows(course, assignment):
        nbgrader(["generate_assignment", assignment, "--force",
                  f"--CourseDirectory.release_directory={scratch / 'release-for-gradebook'}",
                  f"--CourseDirectory.db_url={course.db_url}"], cwd=course.root)
    return {path.relative_to(shard).as_posix(): path.read_bytes()
            for path in sorted(shard.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def _gradebook_knows(course: Course, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gradebook:
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


Prepared = tuple[dict[str, bytes], list[str], list[str], list[str]]  # files, repairs, flags, reasons


def prepare_submission(folder: Path, release: dict[str, nbformat.NotebookNode]) -> Prepared:
    """Read a student's folder: notebooks loaded and repaired against the release, cells scanned.

    Returns the files to grade, the repairs made, integrity flags and the reasons a notebook
    could not be used (it then scores zero, as nbgrader scores a missing notebook).
    """
    from autograder import integrity, repair

    files, repairs, flags, reasons = {}, [], [], []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix != ".ipynb":
            files[path.name] = path.read_bytes()  # data files, timestamp.txt
    for name, release_nb in release.items():
        path = folder / name
        others = [other for other in folder.glob("*.ipynb") if other.name not in release]
        if not path.exists() and len(release) == 1 and len(others) == 1:
            path = others[0]  # the student renamed the notebook ("... -Copy1.ipynb")
            repairs.append(f"{name}: graded {path.name} (renamed by the student)")
        try:
            student_nb, notes = repair.read_submission(path)
        except repair.Unreadable as error:
            reasons.append(f"{name}: {error}")
            continue
        repaired, more_notes = repair.repair(student_nb, release_nb)
        repairs += [f"{name}: {note}" for note in notes + more_notes]
        flags += [str(flag) for flag in integrity.scan(repaired, name, release=release_nb)]
        files[name] = nbformat.writes(repaired).encode("utf-8")
    return files, repairs, flags, reasons


def _write_back(course: Course, assignment: str, student: str, result: ShardResult,
                release: dict[str, nbformat.NotebookNode]) -> tuple[float, float]:
    """Put a shard's autograded files in ``autograded/`` and their grades in the gradebook; (score, max)."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades
    from nbgrader.utils import parse_utc

    out = course.root / "autograded" / student / assignment
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, content in result.autograded.items():
        (out / name).write_bytes(content)
    timestamp_file = course.root / "submitted" / student / assignment / "timestamp.txt"
    timestamp = parse_utc(timestamp_file.read_text().strip()) if timestamp_file.exists() else None
    with Gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_student(student)
        if timestamp:
            gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
        else:
            gradebook.update_or_create_submission(assignment, student)
    for name in release:
        notebook_id = Path(name).stem
        if name in result.autograded:
            nb = nbformat.reads(result.autograded[name].decode("utf-8"), as_version=4)
            resources = {"nbgrader": {"notebook": notebook_id, "assignment": assignment, "student": student,
                                      "db_url": course.db_url}}
            SaveAutoGrades().preprocess(nb, resources)
        else:  # not graded: zero, as nbgrader gives a missing notebook
            with Gradebook(course.db_url) as gradebook:
                for grade in gradebook.find_submission_notebook(notebook_id, assignment, student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                gradebook.db.commit()
    with Gradebook(course.db_url) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return float(submission.code_score), float(submission.max_code_score)


def _ask_for_review(course: Course, assignment: str, student: str, flags: list[str]) -> None:
    """Integrity flags: mark the flagged notebooks' grades as needing a grader's look (nothing is zeroed)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        for notebook in gradebook.find_submission(assignment, student).notebooks:
            if any(flag.startswith(f"{notebook.name}.ipynb ") for flag in flags):
                for grade in notebook.grades:
                    grade.needs_manual_grade = True
        gradebook.db.commit()


def _gradebook_has(course: Course, assignment: str, student: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gradebook:
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


Runner = Callable[[list[Job]], Iterator[ShardResult]]


def local_runner(workers: int) -> Runner:
    """Shards in ``workers`` threads of this process (each shard is a subprocess: threads only wait)."""
    def run(jobs: list[Job]) -> Iterator[ShardResult]:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = [pool.submit(grade_in_shard, job) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
    return run


def dask_runner(scheduler: str) -> Runner:
    """Shards as tasks on a Dask distributed cluster (the workers need this package installed)."""
    def run(jobs: list[Job]) -> Iterator[ShardResult]:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = [client.submit(grade_in_shard, job, key=f"grade-{job.assignment}-{job.student}",
                                     pure=False, retries=0) for job in jobs]
            for future in dask_completed(futures):
                yield future.result()
    return run


def grade(course: Course, assignment: str, *, students: Iterable[str] | None = None,
          limits: Limits = Limits(), runner: Runner | None = None, force: bool = False,
          log: Callable[[str], None] = print) -> list[StudentRow]:
    """Grade ``students`` (default: everyone in ``submitted/``); one row per student, in order."""
    runner = runner or local_runner(len(os.sched_getaffinity(0)))
    release = course.release_notebooks(assignment)
    if not release:
        raise FileNotFoundError(f"no release notebooks for {assignment} in {course.root / 'release'}")
    names = sorted(students) if students is not None else course.submitted(assignment)
    rows: dict[str, StudentRow] = {}
    jobs: list[Job] = []
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        shared = course_files(course, assignment, Path(scratch))
        for student in names:
            folder = course.root / "submitted" / student / assignment
            if not folder.is_dir():
                rows[student] = StudentRow(student, "not graded", reasons=[f"no submission in {folder}"])
                continue
            files, repairs, flags, reasons = prepare_submission(folder, release)
            row = rows[student] = StudentRow(student, "graded", repairs=repairs, flags=flags, reasons=reasons)
            state = _read_state(course, assignment, student)
            if (not force and state and state.get("fingerprint") == fingerprint(files, limits)
                    and _gradebook_has(course, assignment, student)):
                row.status, row.score, row.max_score = "unchanged", state["score"], state["max_score"]
                row.reasons = state.get("reasons", reasons)
                continue
            jobs.append(Job(assignment, student, shared, files, limits))
        started = time.perf_counter()
        # A submission without a single usable notebook needs no kernel: it scores zero at once.
        empty = [job for job in jobs if not any(name.endswith(".ipynb") for name in job.submission)]
        results = (ShardResult(job.student, {}, [], "", 0.0) for job in empty)
        for result in itertools.chain(results, runner([job for job in jobs if job not in empty])):
            row = rows[result.student]
            row.score, row.max_score = _write_back(course, assignment, result.student, result, release)
            if row.flags:
                _ask_for_review(course, assignment, result.student, row.flags)
            row.reasons += result.problems
            row.seconds = result.seconds
            if row.reasons:
                row.status = "graded with problems" if result.autograded else "not graded"
            job = next(job for job in jobs if job.student == result.student)
            state = {"fingerprint": fingerprint(job.submission, limits), "score": row.score,
                     "max_score": row.max_score, "reasons": row.reasons}
            state_file = course.root / "autograded" / result.student / assignment / STATE_FILE
            state_file.write_text(json.dumps(state))
            log(f"{result.student}: {row.score:g}/{row.max_score:g} {row.status}"
                + (f" ({'; '.join(row.reasons)})" if row.reasons else "") + f" [{result.seconds:.0f} s]")
        if jobs:
            log(f"graded {len(jobs)} submissions in {time.perf_counter() - started:.0f} s")
    return [rows[student] for student in names]


def default_course() -> Course:
    return Course(REPO_ROOT)
