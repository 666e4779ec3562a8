"""Reading a submitted file as a notebook: what it is (a notebook, a zip, an image), its size, its encoding, and
outputs too large to keep.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MB = 1024 * 1024
MAX_BYTES = 20 * MB  # a notebook without its outputs may not be larger than this
READ_LIMIT = 200 * MB  # files larger than this are not even read
NOTE_OUTPUTS_FROM = 1 * MB  # dropped outputs smaller than this are not worth a note

MAGIC_BYTES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
)


class Unreadable(Exception):
    """A submitted file that cannot be graded as a notebook; ``str(error)`` says why, briefly."""


def _megabytes(size: int) -> str:
    return f"{max(1, round(size / MB))} MB"


def _sniff(data: bytes) -> str | None:
    """What a non-JSON file is, from its first bytes (None: not a known binary type)."""
    for magic, kind in MAGIC_BYTES:
        if data.startswith(magic):
            return kind
    return None


def _decode(data: bytes) -> str:
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable("not a notebook: binary data (not UTF-8 text)") from error


def _raw_cells(data: dict) -> list:
    """The cell dicts of a notebook's JSON, any nbformat version (v3 keeps them in worksheets)."""
    if isinstance(data.get("cells"), list):
        return data["cells"]
    return [cell for sheet in data.get("worksheets") or [] if isinstance(sheet, dict)
            for cell in sheet.get("cells") or []]


def _complete(raw: dict) -> None:
    """Fill in the fields some editors leave out (metadata, outputs, execution_count, source)."""
    if not isinstance(raw.get("metadata"), dict):
        raw["metadata"] = {}
    if raw.get("nbformat") == 4:
        raw.setdefault("nbformat_minor", 0)
    for cell in _raw_cells(raw):
        if not isinstance(cell, dict):
            continue
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        if raw.get("nbformat") == 4:
            cell.setdefault("source", "")
            if cell.get("cell_type") == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)


def read_submission(path: Path, max_bytes: int = MAX_BYTES) -> tuple[NotebookNode, list[str]]:
    """A submitted notebook as nbformat 4, without outputs, and notes on what reading it changed.

    Outputs are dropped (nbgrader clears them anyway), so a notebook made huge by one
    output is still gradable; ``max_bytes`` applies to what is left.  Raises
    :class:`Unreadable` for a file that cannot be graded.
    """
    path = Path(path)
    if not path.exists():
        raise Unreadable("missing notebook")
    if path.is_dir():
        raise Unreadable("not a notebook: a folder")
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("empty file")
    if size > READ_LIMIT:
        raise Unreadable(f"file too large: {_megabytes(size)}")
    data = path.read_bytes()
    kind = _sniff(data)
    if kind:
        raise Unreadable(f"not a notebook: {kind}")
    text = _decode(data)
    if text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        raise Unreadable("not a notebook: an HTML page")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise Unreadable(f"corrupt JSON: {error.msg} (line {error.lineno}, column {error.colno})") from error
    except RecursionError as error:
        raise Unreadable("corrupt JSON: nested too deeply") from error
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        raise Unreadable("not a notebook: JSON without cells")

    notes = []
    _complete(raw)
    dropped = 0
    for cell in _raw_cells(raw):
        if isinstance(cell, dict) and cell.get("outputs"):
            dropped += len(json.dumps(cell["outputs"], ensure_ascii=False).encode())
            cell["outputs"] = []
    if dropped >= NOTE_OUTPUTS_FROM:
        notes.append(f"outputs dropped ({_megabytes(dropped)})")
    rest = json.dumps(raw, ensure_ascii=False)
    if len(rest.encode()) > max_bytes:
        raise Unreadable(f"file too large: {_megabytes(len(rest.encode()))}")

    try:
        nb = nbformat.reader.reads(rest)
        version = nb.get("nbformat")
        if version != 4:
            nb = nbformat.convert(nb, 4)
            notes.append(f"upgraded from nbformat {version} to 4")
    except Exception as error:  # nbformat raises several types for notebooks it cannot read
        raise Unreadable(f"not a notebook: {type(error).__name__}: {str(error)[:80]}") from error
    if not isinstance(nb.get("cells"), list):
        raise Unreadable("not a notebook: JSON without cells")
    if any(not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw")
           for cell in nb.cells):
        raise Unreadable("not a notebook: a cell without a valid cell_type")
    if not any(cell.source.strip() for cell in nb.cells):
        raise Unreadable("empty notebook")
    return nb, notes


def load_submission(path: Path, max_bytes: int = MAX_BYTES) -> NotebookNode:
    """A submitted notebook as nbformat 4 without outputs; raises :class:`Unreadable` (see above)."""
    return read_submission(path, max_bytes)[0]
