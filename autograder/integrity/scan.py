"""The scan of a submission: the cells a student wrote, and every other file it carries."""

from __future__ import annotations

import ast
import functools
from pathlib import PurePosixPath

from nbformat import NotebookNode

from autograder.integrity.cells import Parsed, parse
from autograder.integrity.fallback import scan_text
from autograder.integrity.findings import Finding, Flag
from autograder.integrity.ipython import PARSE_ERRORS
from autograder.integrity.names import DEFAULT_ALIASES, GUARDED, Names, from_checks, imports
from autograder.integrity.rules.files import R_CHDIR, R_DELETE, R_PATH, R_READ, R_WRITE
from autograder.integrity.rules.processes import R_SHELL
from autograder.integrity.visitor import Visitor
from autograder.nbgrader.notebooks import grade_id, nbgrader_meta, normalized

# A file with one of these names is imported instead of the module the tests import.
SHADOWED_MODULES = GUARDED | {"sitecustomize", "usercustomize"}
PYTHON_SUFFIXES = {".py", ".pyw", ".ipy"}
# A path already reported as read, written, deleted or run by a shell needs no second finding.
SPECIFIC = tuple(message.split("{")[0] for message in (R_READ, R_WRITE, R_DELETE, R_CHDIR, R_SHELL))
UNREADABLE = "unreadable"  # the rule id of code too deep to follow
R_UNREADABLE = "the scan could not follow this code to the end (it is nested too deeply): read it"
EXTRA_FILE, MODULE_FILE = "extra-file", "module-file"  # the rule ids of files beside the notebooks
R_EXTRA = "the submission carries an extra file ({}, {} bytes): a person should look at it"
R_MODULE_FILE = "a file named like a module the tests import ({}): it would be imported instead of it"


@functools.cache
def _launch_source() -> str:
    """Colab's install cell that every release notebook starts with (it runs pip: not the student's)."""
    try:
        from autograder.publish import links

        return normalized(links.colab_setup_source(links.publication()))
    except Exception:  # no pyproject.toml, no [tool.course]: nothing to skip
        return ""


def findings(parsed: Parsed, aliases: dict[str, str]) -> list[Finding]:
    """Everything suspicious in a parsed cell, on the cell's lines, sorted."""
    found = list(parsed.findings)
    if parsed.tree is not None:
        visitor = Visitor(Names(aliases, from_checks(aliases)))
        try:
            visitor.run(parsed.tree)
        except RecursionError:  # 1+1+...+1 twenty thousand times: what was found so far, and this
            visitor.found.append(Finding(UNREADABLE, 1, R_UNREADABLE))
        found += [Finding(each.rule, parsed.line(each.line), each.message) for each in visitor.found]
    elif parsed.text is not None:
        found += scan_text(parsed.text)
    busy = {each.line for each in found if each.message.startswith(SPECIFIC)}
    above = R_PATH.split("{")[0]
    return sorted((each for each in found if not (each.message.startswith(above) and each.line in busy)),
                  key=lambda each: (each.line, each.message, each.rule))


def _flags(found: list[Finding], source: str, name: str, label: str, seen: set[tuple[str, int, str]]) -> list[Flag]:
    """Findings as flags, each once."""
    lines = source.split("\n")
    flags = []
    for each in found:
        key = (label, each.line, each.message)
        if key in seen:
            continue
        seen.add(key)
        code = lines[each.line - 1].strip() if 0 < each.line <= len(lines) else ""
        flags.append(Flag(name, label, each.line, code, each.message, each.rule))
    return flags


def _student_cells(nb: NotebookNode, release: NotebookNode | None) -> list[int]:
    """Indices of the code cells a student wrote or may have changed."""
    if release is not None:
        given = {normalized(cell.source) for cell in release.cells if cell.cell_type == "code"}
        restored = {grade_id(cell) for cell in release.cells
                    if grade_id(cell) and (nbgrader_meta(cell).get("locked") or
                                           (nbgrader_meta(cell).get("grade") and
                                            not nbgrader_meta(cell).get("solution")))}
    else:
        given = {_launch_source()} - {""}
        restored = set()
    chosen = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or normalized(cell.source) in given:
            continue
        meta = nbgrader_meta(cell)
        if grade_id(cell) in restored:
            continue  # nbgrader puts the release's source back
        if release is None and (meta.get("locked") or (meta.get("grade") and not meta.get("solution"))):
            continue
        chosen.append(index)
    return chosen


def scan(nb: NotebookNode, notebook_name: str, release: NotebookNode | None = None) -> list[Flag]:
    """Suspicious lines in the cells a student writes.

    With ``release``, every code cell is scanned except those whose text is a release
    cell's and the test cells nbgrader restores; without it, every code cell except the
    locked and test cells (by their nbgrader metadata) and Colab's install cell.
    """
    aliases = dict(DEFAULT_ALIASES)
    parsed = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            parsed[index] = parse(cell.source)
            if parsed[index].tree is not None:
                aliases.update(imports(parsed[index].tree))

    flags: list[Flag] = []
    seen: set[tuple[str, int, str]] = set()
    for index in _student_cells(nb, release):
        cell = nb.cells[index]
        label = grade_id(cell) or cell.get("id") or f"cell {index}"
        flags += _flags(findings(parsed[index], aliases), cell.source, notebook_name, label, seen)
    return flags


def scan_file(name: str, content: bytes) -> list[Flag]:
    """Suspicious lines in a file a submission carries besides its notebooks (``helper.py``, ``data.csv``).

    Python (a ``.py`` file, or any file whose text parses as Python) is scanned like a code cell; any
    file but a ``.py`` one is also reported as an extra file, with its size, for a person to look at
    (line 0: the whole file).  A file named like a module the tests import is reported: it would be
    imported instead.  Binary content is not decoded.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    flags = []
    top = path.parts[0] if len(path.parts) > 1 else (path.stem if path.suffix in PYTHON_SUFFIXES | {".pyc"} else "")
    if top in SHADOWED_MODULES:
        flags.append(Flag(name, "file", 0, "", R_MODULE_FILE.format(top), MODULE_FILE))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" in text:
        text = None
    python = path.suffix.lower() in PYTHON_SUFFIXES
    if not python or text is None:
        flags.append(Flag(name, "file", 0, "", R_EXTRA.format(name, len(content)), EXTRA_FILE))
    if text is None:
        return flags
    if not python:
        try:
            ast.parse(text)
        except PARSE_ERRORS:
            return flags
    parsed = parse(text)
    aliases = dict(DEFAULT_ALIASES)
    if parsed.tree is not None:
        aliases.update(imports(parsed.tree))
    return flags + _flags(findings(parsed, aliases), text, name, "file", set())
