"""Benchmark (not a test): one synthetic class graded four ways, wall times, ratios and the sandbox's cost.

The class: N students (default 8) handing in notebook 01 (half the solution, half the blank
release). Graded by

1. stock nbgrader, sequentially: ``nbgrader autograde 01_vanishing_exploding`` in one course;
2. ``grade --workers W`` (default 2): each notebook executed in bubblewrap, one gradebook writer;
3. the same with ``--sandbox none`` (the sandbox's overhead is the difference);
4. ``grade --scheduler`` on a local Dask cluster of W worker processes.

Prints the wall times, the speed-ups over stock nbgrader, the sandbox's overhead, and whether the
gradebooks agree. Nothing is asserted.

    .venv/bin/python benchmarks/grading.py [--students 8] [--workers 2] [--assignment 01_vanishing_exploding]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import notebooks  # noqa: E402
from autograder.coursedir import nbgrader, new_course, read_scores, submit, totals  # noqa: E402
from autograder.grading import Course, dask_runner, grade, local_runner  # noqa: E402


def make_class(root: Path, assignment: str, students: int) -> Path:
    course = new_course(root, [assignment])
    for release_path in sorted((course / "release" / assignment).glob("*.ipynb")):
        blank = notebooks.read(release_path)
        solution = notebooks.solved(blank, notebooks.read(course / "source" / assignment / release_path.name))
        for index in range(students):
            submit(course, assignment, f"student{index:02d}",
                   {release_path.name: solution if index % 2 == 0 else blank})
    return course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--assignment", default="01_vanishing_exploding")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        base = make_class(Path(tmp) / "base", args.assignment, args.students)
        courses = {name: Path(tmp) / name for name in ("stock", "workers", "unsandboxed", "dask")}
        for course in courses.values():
            shutil.copytree(base, course)
        times, scores = {}, {}

        started = time.perf_counter()
        nbgrader(["autograde", args.assignment, "--force"], cwd=courses["stock"], check=False)
        times["stock"] = time.perf_counter() - started
        scores["stock"] = totals(read_scores(courses["stock"], args.assignment))

        for name, mode in (("workers", "auto"), ("unsandboxed", "none")):
            started = time.perf_counter()
            rows = grade(Course(courses[name]), args.assignment, runner=local_runner(args.workers), sandbox=mode,
                         log=lambda _: None)
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
                        ("dask", f"grade --scheduler (local Dask, {args.workers} processes)")):
        print(f"{label:<42} {times[name]:7.1f} s   {times['stock'] / times[name]:.2f}x")
    overhead = 100 * (times["workers"] - times["unsandboxed"]) / times["unsandboxed"]
    print(f"sandbox overhead: {overhead:+.1f} % of grading time (sandbox used: {', '.join(sandboxes)})")
    agree = scores["stock"] == scores["workers"] == scores["unsandboxed"] == scores["dask"]
    print(f"the four gradebooks agree: {agree}")
    if not agree:
        print(scores)


if __name__ == "__main__":
    main()
