"""Command line: ``python -m autograder COMMAND``.

selfcheck [ASSIGNMENT ...]   the solution earns full marks and the blank release zero
grade ASSIGNMENT [...]       autograde a class: parallel (or on Dask), limits, repairs, report, feedback
collect ZIP_OR_FOLDER        an LMS download -> submitted/<student>/<assignment>/ (times, late flags, LMS ids)
handback ASSIGNMENT DEST     the feedback files laid out for the LMS's bulk upload (Moodle, Canvas) or by LMS id
links                        the README's Colab and Binder badges, from [tool.course] in pyproject.toml
publish DEST                 the student edition (release/, course/, packaging, README), leak-scanned;
                             --repository URL: the edition's own repository, which its links name
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from autograder import settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "selfcheck", help="autograde the solution and the blank release of each assignment",
        description="Exit 0 only if every solution earns full marks (manually graded points excluded) "
                    "and every blank release earns zero.",
    )
    check.add_argument("assignments", nargs="*", help="assignment names (default: every folder of source/)")
    check.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                       help="notebooks graded in parallel (default: %(default)s)")
    check.add_argument("--repeat", type=int, default=1, metavar="N",
                       help="grade the solution N times; every run must earn full marks (default: 1)")
    check.add_argument("--course", type=Path,
                       help="the course directory (default: the repository this package lives in)")
    check.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                       help="run the notebooks in bubblewrap (auto: where it works) (default: %(default)s)")
    check.set_defaults(run="autograder.selfcheck.check")
    cores = len(os.sched_getaffinity(0))
    grade = commands.add_parser(
        "grade", help="autograde every submission of one or more assignments (parallel, limited, reported)",
        description="Grades submitted/<student>/<assignment>/ with nbgrader, each student in a throw-away "
                    "course directory, and writes grades to the gradebook, autograded/ and feedback/.")
    grade.add_argument("assignments", nargs="+", metavar="ASSIGNMENT",
                       help="one or more assignments: their notebooks share one queue, longest first")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--workers", type=int, default=cores, help="parallel gradings (default: %(default)s)")
    grade.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): grade on that cluster")
    grade.add_argument("--timeout", type=float, default=settings.DEFAULT_TIMEOUT,
                       help="seconds per notebook (default: %(default)s)")
    grade.add_argument("--cell-timeout", type=int,
                       help="seconds per cell (default: Execute.timeout of the course's nbgrader_config.py, else "
                            f"{settings.DEFAULT_CELL_TIMEOUT})")
    grade.add_argument("--memory-mb", type=int, default=settings.DEFAULT_MEMORY_MB,
                       help="memory cap in MB of each process of a notebook, and of all of them together with "
                            "their files (--memory-mb plus --disk-mb); 0 for none (default: %(default)s)")
    grade.add_argument("--disk-mb", type=int, default=settings.DEFAULT_DISK_MB,
                       help="disk cap in MB of a notebook's working folder, /tmp and /dev/shm together "
                            "(default: %(default)s)")
    grade.add_argument("--db-url", help="gradebook URL (default: sqlite:///<course>/gradebook.db); "
                                        "postgresql://... for a large class")
    grade.add_argument("--course", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    grade.add_argument("--report", type=Path, help="folder for the CSV and HTML report (default: reports/)")
    grade.add_argument("--force", action="store_true",
                       help="regrade submissions already graded unchanged (written scores stay; an SQLite "
                            "gradebook is first copied to backups/)")
    grade.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    grade.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                       help="bwrap: student code runs in a bubblewrap sandbox (refuse to grade without it); "
                            "none: no sandbox; auto: bubblewrap where it works, else none, said in the "
                            "report (default: %(default)s)")
    grade.set_defaults(run="autograder.grade.coordinator")
    collect = commands.add_parser("collect", help="place an LMS download into submitted/")
    collect.add_argument("source", type=Path, help="a .zip file or a folder")
    collect.add_argument("--assignment", action="append", help="only notebooks of this assignment")
    collect.add_argument("--course", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    collect.add_argument("--report", type=Path, help="write the placement report as CSV here")
    collect.add_argument("--worksheet", type=Path, action="append", default=[],
                         help="Moodle's grading worksheet (CSV): each submission's time (repeatable; one inside "
                              "the download is read too)")
    collect.add_argument("--timezone", help="the zone of the LMS's times, e.g. Europe/Berlin (default: UTC, the zone "
                                            "nbgrader gives a due date written without one)")
    collect.set_defaults(run="autograder.intake.collect")
    back = commands.add_parser(
        "handback", help="lay out feedback/ for the LMS: Moodle's feedback zip, Canvas's re-upload zip, or files",
        description="Reads feedback/<student>/ASSIGNMENT/*.html (nbgrader generate_feedback) and the LMS identities "
                    "collect kept in submitted/lms.json.")
    back.add_argument("assignment", metavar="ASSIGNMENT")
    back.add_argument("dest", type=Path, metavar="DEST", help="a .zip file to upload, or a new folder")
    back.add_argument("--format", choices=("moodle", "canvas", "files"), default="files",
                      help="moodle: folders named as Moodle's download (upload as 'feedback files in a zip'); "
                           "canvas: files named <name>_<user id>_<attachment id>_... ('Re-Upload Submissions'); "
                           "files: one file per student named by their LMS id (default: %(default)s)")
    back.add_argument("--course", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    back.add_argument("--db-url", help="gradebook URL (default: sqlite:///<course>/gradebook.db)")
    back.set_defaults(run="autograder.report.handback")
    links = commands.add_parser("links", help="print the README's badge table (Colab, Binder)")
    links.add_argument("--write", type=Path, metavar="README", help="rewrite the links block of this README")
    links.set_defaults(run="autograder.publish.links")
    pub = commands.add_parser("publish", help="write the student edition to DEST after a leak scan",
                              description="Exit 1, writing nothing, if the leak scan finds anything.")
    pub.add_argument("dest", type=Path, help="a new or empty folder")
    pub.add_argument("--repository", metavar="URL",
                     help="the edition's own public repository, https://github.com/OWNER/NAME: its badges and "
                          "Colab's install cell point there (default: [tool.course] repository, the course's)")
    pub.add_argument("--branch", help="the edition repository's branch (default: main with --repository, "
                                      "else [tool.course] branch)")
    pub.set_defaults(run="autograder.publish.edition")
    args = parser.parse_args(argv)
    return importlib.import_module(args.run).main(args)  # imported here: `--help` stays fast


if __name__ == "__main__":
    sys.exit(main())
