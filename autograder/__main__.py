"""Command line: ``python -m autograder selfcheck [ASSIGNMENT ...]``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from autograder.selfcheck import selfcheck


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "selfcheck", help="autograde the solution and the blank release of each assignment",
        description="Exit 0 only if every solution earns full marks (manually graded points excluded) "
                    "and every blank release earns zero.",
    )
    check.add_argument("assignments", nargs="*", help="assignment names (default: every folder of source/)")
    check.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                       help="notebooks graded in parallel (default: %(default)s)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rows = selfcheck(args.assignments or None, workers=args.workers)
    print("notebook, solution score/max, blank score/max (autograded points only)")
    for row in rows:
        print(row)
    print(f"selfcheck took {time.perf_counter() - started:.0f} s")
    return 0 if rows and all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
