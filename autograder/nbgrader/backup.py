"""A dated copy of the gradebook before a command rewrites its rows (``grade --force``, ``make release``).

An SQLite gradebook is copied with SQLite's online backup API (consistent even while the formgrader
has it open) to ``backups/gradebook-YYYYmmdd-HHMMSS.db`` in the course directory. A PostgreSQL one is
not copied: the line returned says how to dump it with ``pg_dump``.

``python -m autograder.nbgrader.backup [--course DIR] [--db-url URL]`` is the step ``make release`` runs first;
without ``--db-url`` it backs up the gradebook the course's ``nbgrader_config.py`` names.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

BACKUP_FOLDER = "backups"


def configured_db_url(course: Path) -> str:
    """The gradebook nbgrader uses in ``course`` (its config's ``CourseDirectory.db_url``)."""
    from nbgrader.coursedir import CourseDirectory

    from autograder.grade.sanitize import course_config

    course = Path(course).resolve()
    return CourseDirectory(config=course_config(course), root=str(course)).db_url


def sqlite_path(db_url: str) -> Path | None:
    """The file of an SQLite gradebook URL; None for any other database."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _holds_submissions(path: Path) -> bool:
    """Whether the SQLite gradebook at ``path`` holds any submission (else there is nothing to lose)."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        try:
            return db.execute("SELECT count(*) FROM submitted_assignment").fetchone()[0] > 0
        except sqlite3.DatabaseError:  # not a gradebook nbgrader wrote: keep a copy anyway
            return True


def backup_gradebook(db_url: str, course: Path, *, now: datetime.datetime | None = None) -> str | None:
    """Keep a dated copy of the gradebook at ``db_url`` under ``course``/backups/; a sentence saying what was done.

    None when there is nothing to keep (no SQLite file yet, or one without submissions).
    """
    path = sqlite_path(db_url)
    if path is None:
        url = make_url(db_url)
        if url.get_backend_name() != "postgresql":
            return f"the gradebook is a {url.get_backend_name()} database: no copy was made, back it up yourself"
        stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
        address = url.set(drivername="postgresql").render_as_string(hide_password=True)  # pg_dump takes no +driver
        return (f"the gradebook is a PostgreSQL database, so no copy was made: back it up first with "
                f"pg_dump '{address}' > {BACKUP_FOLDER}/gradebook-{stamp}.sql")
    if not path.is_file() or not _holds_submissions(path):
        return None
    folder = Path(course) / BACKUP_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"gradebook-{(now or datetime.datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    dest = folder / f"{stem}.db"
    number = 1
    while dest.exists():  # two backups in one second
        number += 1
        dest = folder / f"{stem}-{number}.db"
    partial = dest.with_name(dest.name + ".partial")
    with (contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as source,
          contextlib.closing(sqlite3.connect(partial)) as target):
        source.backup(target)
    partial.replace(dest)
    return f"gradebook copied to {dest} before it is changed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.nbgrader.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    parser.add_argument("--db-url", help="the gradebook (default: the one nbgrader_config.py names)")
    args = parser.parse_args(argv)
    said = backup_gradebook(args.db_url or configured_db_url(args.course), args.course)
    if said:
        print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
