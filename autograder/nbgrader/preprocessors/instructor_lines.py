"""Feedback preprocessor: the feedback a student gets back must not quote the instructor's notebook.

The sandbox keeps ``source/`` and the gradebook out of the student's reach, but the kernel itself
runs the hidden tests: ``print(In)`` or ``_ih`` in a later cell, an object holding a test's text, or
a traceback quoting a hidden assert can put the instructor's lines into the cell outputs, and
``nbgrader generate_feedback`` would hand them to the student. RemoveInstructorLines removes every
output line that quotes a line of the source notebook which the release notebook does not show.
The autograded notebook the instructor sees keeps everything; only the feedback is cleaned.

This is a textual filter: it catches quoted lines, also inside string reprs, JSON and HTML, but
not text the student's code deliberately encodes (base64, reversed, split across lines, drawn into
an image).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable

import nbformat
from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

NOTICE = "[removed: this output quoted the instructor's notebook]"
MIN_SECRET_LENGTH = 8  # shorter lines (")", "pass", "x = 1") would remove honest output
MAX_UNESCAPE_ROUNDS = 3  # repr of a JSON text, say, is escaped twice

_MARKER = re.compile(r"#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)", re.IGNORECASE)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|N\{[^}]*\}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}
# Output data that is not text: base64 payloads a removed line would corrupt (SVG is text).
_BINARY_MIME = re.compile(r"image/(?!svg)|application/pdf|application/octet-stream")


def _source_lines(nb: NotebookNode) -> Iterable[str]:
    """Every line of every cell source, stripped."""
    for cell in nb.cells:
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        for line in source.splitlines():
            yield line.strip()


def secret_lines(source_nb: NotebookNode, release_nb: NotebookNode) -> set[str]:
    """Lines (stripped) of the source notebook that the release notebook does not show.

    nbgrader's marker lines and lines shorter than ``MIN_SECRET_LENGTH`` are left out.  A line
    that occurs anywhere in the release (also inside a longer line) is not secret: students have it.
    """
    release_text = "\n".join(_source_lines(release_nb))
    return {line for line in _source_lines(source_nb)
            if len(line) >= MIN_SECRET_LENGTH and not _MARKER.fullmatch(line) and line not in release_text}


def _unescape_match(match: re.Match[str]) -> str:
    token = match.group(0)[1:]
    if token in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[token]
    if token[0] in "uUx" and len(token) > 1:
        return chr(min(int(token[1:], 16), 0x10FFFF))
    if token.startswith("N{"):
        try:
            return f"\\{token}".encode().decode("unicode_escape")
        except UnicodeDecodeError:
            return match.group(0)
    return token  # \\ \' \" \/ and unknown escapes: the character itself


def unescape(text: str) -> str:
    """``text`` with one level of Python/JSON string escapes undone (``\\n``, ``\\'``, ``\\u00e9``...)."""
    if "\\" not in text:
        return text
    out = _ESCAPE.sub(_unescape_match, text)
    try:  # JSON writes characters outside the BMP as surrogate pairs
        return out.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        return out


def readings(line: str) -> list[str]:
    """The ways ``line`` can be read: without ANSI codes, then with string and HTML escapes undone."""
    first = _ANSI.sub("", line)
    seen = [first]
    frontier = [first]
    for _ in range(MAX_UNESCAPE_ROUNDS):
        found = []
        for text in frontier:
            for decoded in (unescape(text) if "\\" in text else text, html.unescape(text) if "&" in text else text):
                decoded = _ANSI.sub("", decoded)
                if decoded not in seen:
                    seen.append(decoded)
                    found.append(decoded)
        if not found:
            break
        frontier = found
    return seen


def _clean_text(text: str, secrets: set[str]) -> tuple[str, int]:
    """``text`` with each line that quotes a secret replaced by the notice; the number replaced."""
    lines = text.splitlines(keepends=True)
    per_line = [readings(line) for line in lines]
    everything = "\n".join(reading for line_readings in per_line for reading in line_readings)
    present = [secret for secret in secrets if secret in everything]  # few, usually none
    if not present:
        return text, 0
    removed = 0
    for index, (line, line_readings) in enumerate(zip(lines, per_line, strict=True)):
        if any(secret in reading for reading in line_readings for secret in present):
            body = line.rstrip("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
            lines[index] = NOTICE + line[len(body):]
            removed += 1
    return "".join(lines), removed


def _clean_value(value: object, secrets: set[str]) -> tuple[object, int]:
    """A text, a list of texts or a JSON value, cleaned in place where mutable; the number of lines removed."""
    if isinstance(value, str):
        return _clean_text(value, secrets)
    if isinstance(value, list):  # traceback entries, JSON arrays, a text split into lines: item by item
        total = 0
        for index, item in enumerate(value):
            value[index], removed = _clean_value(item, secrets)
            total += removed
        return value, total
    if isinstance(value, dict):
        total = 0
        for key in list(value):
            value[key], removed = _clean_value(value[key], secrets)
            total += removed
            new_key, removed = _clean_text(key, secrets)
            if removed:
                while new_key in value:
                    new_key += " "
                value[new_key] = value.pop(key)
                total += removed
        return value, total
    return value, 0


def clean_outputs(nb: NotebookNode, secrets: set[str]) -> int:
    """Replace, in every cell output of ``nb``, each line that quotes a secret by ``NOTICE``; the number replaced.

    Cell sources are left alone.  Stream text, error name, value and traceback, and every
    non-binary ``data`` entry of display_data/execute_result (JSON walked string by string) are cleaned.
    """
    if not secrets:
        return 0
    total = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                fields = ["text"]
            elif kind == "error":
                fields = ["ename", "evalue", "traceback"]
            else:
                fields = []
            for field in fields:
                if field in output:
                    output[field], removed = _clean_value(output[field], secrets)
                    total += removed
            data = output.get("data", {}) if kind in ("display_data", "execute_result") else {}
            for mime in list(data):
                if not _BINARY_MIME.match(mime):
                    data[mime], removed = _clean_value(data[mime], secrets)
                    total += removed
    return total


class RemoveInstructorLines(NbGraderPreprocessor):
    """GenerateFeedback preprocessor: remove output lines that quote the instructor's (source) notebook.

    Secret lines are the lines of ``source/<assignment>/<notebook>.ipynb`` that
    ``release/<assignment>/<notebook>.ipynb`` does not show (see :func:`secret_lines`).  A missing
    source or release notebook is an error: the feedback is not written unchecked.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        names = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        filename = f"{names['notebook']}.ipynb"
        paths = [os.path.join(coursedir.format_path(step, ".", names["assignment"]), filename)
                 for step in (coursedir.source_directory, coursedir.release_directory)]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"RemoveInstructorLines needs {path} to check the feedback "
                                        f"of {names.get('student')} for quotes of the instructor's notebook")
        source_nb, release_nb = (nbformat.read(path, as_version=4) for path in paths)
        removed = clean_outputs(nb, secret_lines(source_nb, release_nb))
        if removed:
            self.log.warning("Feedback of %s on %s/%s: removed %d output line(s) quoting the instructor's notebook",
                             names.get("student"), names["assignment"], names["notebook"], removed)
        return nb, resources
