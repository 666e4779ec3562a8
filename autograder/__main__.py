"""Command line: ``python -m autograder COMMAND``.

selfcheck [ASSIGNMENT ...]   the solution earns full marks and the blank release zero
links                        the README's Colab and Binder badges, from [tool.course] in pyproject.toml
publish DEST                 the student edition (release/, course/, packaging, README), leak-scanned
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _selfcheck(args: argparse.Namespace) -> int:
    from autograder.selfcheck import selfcheck

    started = time.perf_counter()
    rows = selfcheck(args.assignments or None, workers=args.workers, repeat=args.repeat)
    print("notebook, solution score/max, blank score/max (autograded points only)")
    for row in rows:
        print(row)
    print(f"selfcheck took {time.perf_counter() - started:.0f} s")
    return 0 if rows and all(row.ok for row in rows) else 1


def _links(args: argparse.Namespace) -> int:
    from autograder.launch import readme_links

    print(readme_links())
    return 0


def _publish(args: argparse.Namespace) -> int:
    from autograder.publish import LeakFound, publish

    try:
        files = publish(args.dest)
    except (LeakFound, FileExistsError) as error:
        print(f"publish failed, nothing written: {error}", file=sys.stderr)
        return 1
    print(f"student edition: {len(files)} files in {args.dest} (leak scan: clean)")
    return 0


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
    check.set_defaults(run=_selfcheck)
    links = commands.add_parser("links", help="print the README's badge table (Colab, Binder)")
    links.set_defaults(run=_links)
    pub = commands.add_parser("publish", help="write the student edition to DEST after a leak scan",
                              description="Exit 1, writing nothing, if the leak scan finds anything.")
    pub.add_argument("dest", type=Path, help="a new or empty folder")
    pub.set_defaults(run=_publish)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
