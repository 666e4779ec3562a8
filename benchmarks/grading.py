"""Benchmark (not a test): grading throughput, the sandbox's cost, and what a student's whole course costs.

Part 1, one synthetic class graded five ways, wall times, ratios, the sandbox's cost and the caps' cost.

The class: N students (default 8) handing in notebook 01 (half the solution, half the blank
release). Graded by

1. stock nbgrader, sequentially: ``nbgrader autograde 01_vanishing_exploding`` in one course;
2. ``grade --workers W`` (default 2): each notebook executed in bubblewrap, one gradebook writer;
3. the same with ``--sandbox none`` (the sandbox's overhead is the difference);
4. the same as 2 with no control groups and no tmpfs of its own per sandbox (the overhead of the
   memory, process and disk caps of issue 27 is the difference);
5. ``grade --scheduler`` on a local Dask cluster of W worker processes.

Prints the wall times, the speed-ups over stock nbgrader, the sandbox's overhead, the caps' overhead,
and whether the gradebooks agree. Then the ceiling any W-worker grader has on this machine: the notebooks stock
nbgrader executed (hidden tests included), run again with plain ``jupyter nbconvert --execute``, one
at a time and then W at a time (longest first); the ratio of the two. A notebook alone uses more than
one core at moments (TensorFlow's thread pools, the kernel and its client), so W notebooks at once
each run slower than alone: no grader that runs each notebook in a process of its own beats stock
nbgrader by more than the second ratio printed.

Part 2, a student's course: the six solution notebooks, each graded by ``grade`` as one student of
its class, all in one run. First one student on one worker: each notebook's grading seconds and
their total (budget 180 s). Then two such students on W workers (one longest-first queue): the wall
time per student, what a class costs per student (budget 90 s on 2 workers).

Nothing is asserted.

    .venv/bin/python benchmarks/grading.py [--students 8] [--workers 2] [--assignment 01_vanishing_exploding]
                                           [--skip-class] [--skip-course]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.grade import cgroups  # noqa: E402
from autograder.grade import sandbox as sandbox_module  # noqa: E402
from autograder.grade.coordinator import dask_runner, grade, grade_assignments, local_runner  # noqa: E402
from autograder.nbgrader import notebooks  # noqa: E402
from autograder.nbgrader.commands import nbgrader, nbgrader_environment, source_assignments  # noqa: E402
from autograder.nbgrader.course import Course  # noqa: E402
from autograder.nbgrader.gradebook import read_scores, totals  # noqa: E402
from autograder.selfcheck.courses import new_course, submit  # noqa: E402

COURSE_SECONDS, CLASS_SECONDS_PER_STUDENT = 180.0, 90.0  # the budgets of issue 15


@contextmanager
def caps_off() -> Iterator[None]:
    """Sandboxes without a control group or a tmpfs of their own, as where they cannot be made."""
    off = "off for the benchmark"
    with mock.patch.object(cgroups, "create", side_effect=cgroups.Unavailable(off)), \
            mock.patch.object(sandbox_module, "_mount_tmpfs", return_value=off):
        yield


def make_class(root: Path, assignment: str, students: int) -> Path:
    course = new_course(root, [assignment])
    for release_path in sorted((course / "release" / assignment).glob("*.ipynb")):
        blank = notebooks.read(release_path)
        solution = notebooks.solved(blank, notebooks.read(course / "source" / assignment / release_path.name))
        for index in range(students):
            submit(course, assignment, f"student{index:02d}",
                   {release_path.name: solution if index % 2 == 0 else blank})
    return course


def execute_plainly(path: Path) -> float:
    """Wall seconds of ``jupyter nbconvert --execute`` on ``path`` (errors allowed, output to /dev/null)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
                    "--ExecutePreprocessor.timeout=900", "--stdout", str(path)], cwd=path.parent,
                   env=nbgrader_environment(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def parallel_ceiling(paths: list[Path], workers: int) -> tuple[float, float]:
    """Seconds to execute ``paths`` one at a time, and ``workers`` at a time (longest first)."""
    alone = {path: execute_plainly(path) for path in paths}
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(execute_plainly, sorted(paths, key=alone.get, reverse=True)))
    return sum(alone.values()), time.perf_counter() - started


def grade_class(args: argparse.Namespace) -> None:
    """Part 1: one class, five ways."""
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        base = make_class(Path(tmp) / "base", args.assignment, args.students)
        courses = {name: Path(tmp) / name for name in ("stock", "workers", "unsandboxed", "uncapped", "dask")}
        for course in courses.values():
            shutil.copytree(base, course)
        times, scores = {}, {}

        started = time.perf_counter()
        nbgrader(["autograde", args.assignment, "--force"], cwd=courses["stock"], check=False)
        times["stock"] = time.perf_counter() - started
        scores["stock"] = totals(read_scores(courses["stock"], args.assignment))
        sequential, parallel = parallel_ceiling(
            sorted((courses["stock"] / "autograded").glob(f"*/{args.assignment}/*.ipynb")), args.workers)

        for name, mode in (("workers", "auto"), ("unsandboxed", "none"), ("uncapped", "auto")):
            started = time.perf_counter()
            with caps_off() if name == "uncapped" else nullcontext():
                rows = grade(Course(courses[name]), args.assignment, runner=local_runner(args.workers),
                             sandbox=mode, log=lambda _: None)
            times[name] = time.perf_counter() - started
            scores[name] = totals(read_scores(courses[name], args.assignment))
            if name == "workers":
                sandboxes = sorted({row.sandbox for row in rows})

        from distributed import LocalCluster

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            started = time.perf_counter()
            grade(Course(courses["dask"]), args.assignment, runner=dask_runner(cluster.scheduler_address),
                  log=lambda _: None)
            times["dask"] = time.perf_counter() - started
        scores["dask"] = totals(read_scores(courses["dask"], args.assignment))

    print(f"{args.students} students x {args.assignment}, {args.workers} workers")
    print(f"{'stock nbgrader autograde (sequential)':<42} {times['stock']:7.1f} s   1.00x")
    for name, label in (("workers", f"grade --workers {args.workers}"),
                        ("unsandboxed", f"grade --workers {args.workers} --sandbox none"),
                        ("uncapped", f"grade --workers {args.workers}, no cgroups/tmpfs"),
                        ("dask", f"grade --scheduler (local Dask, {args.workers} processes)")):
        print(f"{label:<42} {times[name]:7.1f} s   {times['stock'] / times[name]:.2f}x")
    overhead = 100 * (times["workers"] - times["unsandboxed"]) / times["unsandboxed"]
    print(f"sandbox overhead: {overhead:+.1f} % of grading time (sandbox used: {', '.join(sandboxes)})")
    caps = 100 * (times["workers"] - times["uncapped"]) / times["uncapped"]
    print(f"cgroups and disk cap overhead: {caps:+.1f} % of grading time (each sandbox's memory and pids "
          f"control groups and its own tmpfs, against the same sandbox without them)")
    print(f"ceiling on this machine: the notebooks stock nbgrader executed, run by plain nbconvert one at a time "
          f"{sequential:.1f} s, {args.workers} at a time {parallel:.1f} s ({sequential / parallel:.2f}x; "
          f"{times['stock'] / parallel:.2f}x stock nbgrader)")
    agree = scores["stock"] == scores["workers"] == scores["unsandboxed"] == scores["uncapped"] == scores["dask"]
    print(f"the five gradebooks agree: {agree}")
    if not agree:
        print(scores)




def solutions(course: Path, assignment: str) -> dict:
    """The solution of every notebook of ``assignment``, as a student would hand it in."""
    source = course / "source" / assignment
    return {path.name: notebooks.solved(notebooks.read(path), notebooks.read(source / path.name))
            for path in sorted((course / "release" / assignment).glob("*.ipynb"))}


def grade_course(args: argparse.Namespace) -> None:
    """Part 2: a student's six notebooks, alone on one worker, then two students on ``args.workers``."""
    assignments = source_assignments(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-course-") as tmp:
        course = new_course(Path(tmp) / "course", assignments)
        for assignment in assignments:
            for student in ("alone", "pair-1", "pair-2"):
                submit(course, assignment, student, solutions(course, assignment))
        graded = grade_assignments(Course(course), dict.fromkeys(assignments, ["alone"]), runner=local_runner(1),
                                   log=lambda _: None)
        started = time.perf_counter()
        grade_assignments(Course(course), dict.fromkeys(assignments, ["pair-1", "pair-2"]),
                          runner=local_runner(args.workers), log=lambda _: None)
        pair_wall = time.perf_counter() - started
    print(f"\na student's course: the {len(assignments)} solution notebooks graded by grade")
    total = 0.0
    for assignment, rows in graded.items():
        row = rows[0]
        total += row.seconds
        print(f"  {assignment:<40} {row.seconds:6.1f} s   {row.score:g}/{row.max_score:g}")
    verdict = "within" if total <= COURSE_SECONDS else "OVER"
    print(f"  {'total grading time (1 worker)':<40} {total:6.1f} s   {verdict} the {COURSE_SECONDS:g} s budget")
    per_student = pair_wall / 2
    verdict = "within" if per_student <= CLASS_SECONDS_PER_STUDENT else "OVER"
    print(f"two students' courses on {args.workers} workers (one queue): {pair_wall:.1f} s wall, "
          f"{per_student:.1f} s per student, {verdict} the {CLASS_SECONDS_PER_STUDENT:g} s budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--assignment", default="01_vanishing_exploding")
    parser.add_argument("--skip-class", action="store_true", help="skip part 1 (one class, four ways)")
    parser.add_argument("--skip-course", action="store_true", help="skip part 2 (a student's six notebooks)")
    args = parser.parse_args()
    if not args.skip_class:
        grade_class(args)
    if not args.skip_course:
        grade_course(args)


if __name__ == "__main__":
    main()
