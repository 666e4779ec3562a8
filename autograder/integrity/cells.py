"""A cell as Python: as it is, else with IPython's syntax turned into Python, else cleaned by hand, else text."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from autograder.integrity.findings import Finding
from autograder.integrity.ipython import (
    NON_PYTHON_CELL_MAGICS,
    PARSE_ERRORS,
    PATH_LINE_MAGICS,
    SHELL_CELL_MAGICS,
    SHELL_LINE_MAGICS,
    WRITE_CELL_MAGICS,
    cell_magic,
    line_map,
    to_python,
)
from autograder.integrity.paths import path_problem
from autograder.integrity.rules import Files, Processes
from autograder.integrity.rules.files import R_CHDIR, R_READ, R_WRITE
from autograder.integrity.rules.processes import R_SHELL


@dataclass
class Parsed:
    """A cell, parsed: a tree (or, when it does not parse, the text to match), and findings made on the way."""

    tree: ast.AST | None = None
    text: str | None = None  # without a tree: the source matched line by line
    findings: list[Finding] = field(default_factory=list)  # on the cell's own lines
    lines: list[int] | None = None  # the cell's line of each line of the tree's source (None: the same)

    def line(self, number: int) -> int:
        """The cell's line of line ``number`` of the tree's source."""
        return self.lines[number - 1] if self.lines and 0 < number <= len(self.lines) else number


def _shell(line: int) -> Finding:
    return Finding(Processes.id, line, R_SHELL)


def _written(line: int, target: str) -> list[Finding]:
    """``%%writefile target``: a finding when the target is outside the submission folder."""
    problem = path_problem([target]) if target else None
    return [Finding(Files.id, line, R_WRITE.format(problem))] if problem else []


def parse(source: str) -> Parsed:
    """A cell as Python: as it is, else with IPython's syntax turned into Python, else cleaned by hand."""
    try:
        return Parsed(ast.parse(source))
    except PARSE_ERRORS:
        pass
    magic = cell_magic(source)
    if magic is not None:
        first, name, words = magic
        if name in SHELL_CELL_MAGICS:
            return Parsed(findings=[_shell(first + 1)])
        lines = source.split("\n")
        lines[first] = ""  # the body, on its own lines
        body = "\n".join(lines)
        if name in NON_PYTHON_CELL_MAGICS:
            target = words[-1].strip("'\"") if name in WRITE_CELL_MAGICS and words else ""
            findings = _written(first + 1, target)
            if not target.endswith(".py"):
                return Parsed(findings=findings)
            parsed = parse(body)  # %%writefile helper.py: a module the notebook may import next
            parsed.findings[:0] = findings
            return parsed
        return parse(body)
    python = to_python(source)
    if python is not None:
        try:
            return Parsed(ast.parse(python), lines=line_map(source, python))
        except PARSE_ERRORS:
            pass
    cleaned, findings = clean(source)
    if cleaned is None:
        return Parsed(findings=findings)
    try:
        return Parsed(ast.parse(cleaned), findings=findings)
    except PARSE_ERRORS:
        return Parsed(text=cleaned, findings=findings)


def clean(source: str) -> tuple[str | None, list[Finding]]:
    """Python source with IPython magics and shell lines replaced by ``pass``, and their findings.

    Returns None for the source of a cell that is not Python (``%%bash``, ``%%html``, ...).
    Line numbers are kept.
    """
    lines = source.split("\n")
    findings: list[Finding] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        words = lines[first].strip()[2:].split()
        magic = words[0] if words else ""
        if magic in SHELL_CELL_MAGICS:
            return None, [_shell(first + 1)]
        if magic in NON_PYTHON_CELL_MAGICS:
            if magic in WRITE_CELL_MAGICS and len(words) > 1:
                findings += _written(first + 1, words[-1])
            return None, findings
        lines[first] = ""
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        assigned = re.match(r"[A-Za-z_][\w.]*\s*=\s*([!%])", stripped)
        marker = assigned.group(1) if assigned else stripped[:1]
        if marker == "!":
            findings.append(_shell(index + 1))
        elif marker == "%":
            magic = (stripped[assigned.end():] if assigned else stripped.lstrip("%")).split()
            name = magic[0].lstrip("%") if magic else ""
            if name in SHELL_LINE_MAGICS:
                findings.append(_shell(index + 1))
            elif name in PATH_LINE_MAGICS and len(magic) > 1:
                problem = path_problem([magic[-1].strip("'\"")])
                if problem:
                    findings.append(Finding(Files.id, index + 1, R_READ.format(problem)))
            if name == "cd":
                findings.append(Finding(Files.id, index + 1, R_CHDIR.format("%cd")))
        elif re.fullmatch(r"[\w.]+\?{1,2}\s*", stripped):  # obj? help
            pass
        else:
            continue
        lines[index] = indent + "pass"
    return "\n".join(lines), findings
