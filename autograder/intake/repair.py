"""Read a student's notebook and repair what editors break before nbgrader grades it.

Colab, VS Code and old Jupyter versions drop the ``nbgrader`` cell metadata or change the
cell ids.  nbgrader then no longer knows which cell is an answer or a test: it re-adds
missing test cells (``OverwriteCells.add_missing_cells``), but fails on the whole notebook
when a missing test cell's answer cell is missing too (``KeyError`` in
``add_missing_grade_cells``) or when a cell carries a grade_id the release does not have.
:func:`repair` matches the student's cells back to the release so that neither happens.
"""

from __future__ import annotations

import ast
import builtins
import copy

from nbformat import NotebookNode
from nbformat.v4.nbbase import random_cell_id

from autograder.nbgrader.notebooks import grade_id, nbgrader_meta, normalized

# Stub lines every exercise shares: they say nothing about which exercise a cell is.
GENERIC_STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"}
PLACEHOLDER = {
    "code": "# This answer cell was missing from the submission; the grader put it back empty.",
    "markdown": "*(This answer cell was missing from the submission; the grader put it back empty.)*",
}


# ---------------------------------------------------------------------------------------------------------
# Matching a student's cells back to the release


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _defined_names(source: str) -> set[str]:
    """Top-level names a cell defines (functions, classes, variables, imports); empty if it does not parse."""
    tree = _parse(source)
    names: set[str] = set()
    for node in tree.body if tree else []:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _read_names(source: str) -> set[str]:
    """Names a cell reads."""
    tree = _parse(source)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)} if tree else set()


def _stub_line(source: str) -> str | None:
    """The first line of a release stub, when it names its exercise (not just 'YOUR CODE HERE')."""
    for line in source.splitlines():
        line = line.strip()
        if line and line not in GENERIC_STUB_LINES:
            return line
    return None


def _has_grading_meta(cell: NotebookNode) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task"))


def _is_solution(meta: dict) -> bool:
    return bool(meta.get("solution"))


def _is_grade(meta: dict) -> bool:
    return bool(meta.get("grade"))


class _Matcher:
    """Pairs release cells with student cells: ``match`` maps release index -> student index."""

    def __init__(self, student: NotebookNode, release: NotebookNode):
        self.student, self.release = student, release
        self.match: dict[int, int] = {}
        self.how: dict[int, str] = {}
        self.used: set[int] = set()
        # names the release itself defines outside its answer cells (imports, helpers, data)
        self.given = set().union(*(_defined_names(cell.source) for cell in release.cells
                                   if cell.cell_type == "code" and not _is_solution(nbgrader_meta(cell))))

    def expected_names(self, r: int) -> set[str]:
        """Names answer cell ``r`` must define: its stub's, and those its tests read that nothing defines."""
        cell = self.release.cells[r]
        names = _defined_names(cell.source) if cell.cell_type == "code" else set()
        for later in self.release.cells[r + 1:]:
            meta = nbgrader_meta(later)
            if _is_solution(meta):
                break
            if _is_grade(meta) and later.cell_type == "code":
                names |= _read_names(later.source) - self.given - set(dir(builtins))
        return names

    def take(self, r: int, s: int, how: str) -> None:
        self.match[r], self.how[r] = s, how
        self.used.add(s)

    def free(self, s: int) -> bool:
        """A student cell not yet matched and without a grade_id of its own."""
        return s not in self.used and not grade_id(self.student.cells[s])

    def window(self, r: int) -> tuple[int, int]:
        """Student indices (exclusive) between the matched release cells around release cell ``r``."""
        before = [self.match[i] for i in range(r - 1, -1, -1) if i in self.match][:1]
        after = [self.match[i] for i in range(r + 1, len(self.release.cells)) if i in self.match][:1]
        return (before[0] if before else -1), (after[0] if after else len(self.student.cells))

    def by_grade_id(self) -> None:
        cells_with = {}
        for s, cell in enumerate(self.student.cells):
            if grade_id(cell):
                cells_with.setdefault(grade_id(cell), []).append(s)
        for r, cell in enumerate(self.release.cells):
            found = cells_with.get(grade_id(cell)) if grade_id(cell) else None
            if found:
                self.take(r, found[0], "grade_id")
                self.used.update(found)  # duplicates are left to nbgrader (DeduplicateGradeIds)

    def by_cell_id(self) -> None:
        ids = {}
        for s, cell in enumerate(self.student.cells):
            if cell.get("id"):
                ids.setdefault(cell["id"], []).append(s)
        for r, cell in enumerate(self.release.cells):
            if r in self.match or not cell.get("id"):
                continue
            for s in ids.get(cell["id"], []):
                same_type = self.student.cells[s].cell_type == cell.cell_type
                if self.free(s) and (grade_id(cell) or same_type):
                    self.take(r, s, "cell id")
                    break

    def by_content(self) -> None:
        """Locked cells (tests) whose text is unchanged, and unique body cells as anchors."""
        release_count: dict[str, int] = {}
        for cell in self.release.cells:
            key = normalized(cell.source)
            release_count[key] = release_count.get(key, 0) + 1
        for r, cell in enumerate(self.release.cells):
            meta = nbgrader_meta(cell)
            if r in self.match or (grade_id(cell) and not meta.get("locked")) or _is_solution(meta):
                continue
            key = normalized(cell.source)
            if not key:
                continue
            candidates = [s for s, other in enumerate(self.student.cells) if self.free(s)
                          and other.cell_type == cell.cell_type and normalized(other.source) == key]
            if not candidates:
                continue
            if grade_id(cell):  # a locked cell: the first copy after the previous anchor, else the first
                low, _ = self.window(r)
                self.take(r, next((s for s in candidates if s > low), candidates[0]), "content")
            elif len(candidates) == 1 and release_count[key] == 1:
                self.take(r, candidates[0], "content")

    def answers(self) -> None:
        """Answer cells: the one cell of their type between their neighbours, or one defining their names."""
        for r, cell in enumerate(self.release.cells):
            if r in self.match or not grade_id(cell) or not _is_solution(nbgrader_meta(cell)):
                continue
            low, high = self.window(r)
            free = [s for s, other in enumerate(self.student.cells)
                    if self.free(s) and other.cell_type == cell.cell_type]
            between = [s for s in free if low < s < high]
            if len(between) == 1:
                self.take(r, between[0], "position")
                continue
            for pool in (between, free):
                found = self._by_stub(r, pool)
                if found is not None:
                    self.take(r, found, "content")
                    break

    def _by_stub(self, r: int, pool: list[int]) -> int | None:
        cell = self.release.cells[r]
        names = self.expected_names(r)
        if names:
            hits = [s for s in pool if names & _defined_names(self.student.cells[s].source)]
            if len(hits) == 1:
                return hits[0]
        line = _stub_line(cell.source)
        if line:
            hits = [s for s in pool if line in self.student.cells[s].source]
            if len(hits) == 1:
                return hits[0]
        return None


def _restore_meta(target: NotebookNode, source: NotebookNode) -> None:
    target.metadata["nbgrader"] = copy.deepcopy(source.metadata["nbgrader"])
    for key in ("deletable", "editable"):
        if key in source.metadata:
            target.metadata[key] = source.metadata[key]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _drop_foreign_meta(nb: NotebookNode, release_ids: set[str]) -> list[str]:
    """Remove nbgrader metadata that would stop nbgrader: grade_ids not in the release, or none at all."""
    dropped = []
    for index, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        meta = cell.metadata["nbgrader"]
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or not meta or (_has_grading_meta(cell) and gid not in release_ids):
            del cell.metadata["nbgrader"]
            dropped.append(gid or f"cell {index}")
    return [f"removed nbgrader metadata of {_plural(len(dropped), 'cell')} not in the release "
            f"({', '.join(dropped)})"] if dropped else []


def _grading_key(meta: dict) -> tuple:
    """What decides how nbgrader grades a cell (absent booleans are False; points count for grade cells)."""
    try:
        points = float(meta.get("points") or 0) if meta.get("grade") else None
    except (TypeError, ValueError):
        points = -1.0
    flags = tuple(bool(meta.get(key)) for key in ("grade", "solution", "locked", "task"))
    return meta.get("grade_id"), *flags, points


def _reset_changed_meta(nb: NotebookNode, release: NotebookNode) -> list[str]:
    """A student cell whose grade_id is in the release but whose grading fields differ gets the release's."""
    by_id = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    counts: dict[str, int] = {}
    for cell in nb.cells:
        if grade_id(cell):
            counts[grade_id(cell)] = counts.get(grade_id(cell), 0) + 1
    reset = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if not gid or counts[gid] > 1:
            continue  # duplicates are nbgrader's (DeduplicateGradeIds)
        if _grading_key(nbgrader_meta(cell)) != _grading_key(nbgrader_meta(by_id[gid])):
            _restore_meta(cell, by_id[gid])
            reset.append(gid)
    if not reset:
        return []
    return [f"reset changed nbgrader metadata of {_plural(len(reset), 'cell')} ({', '.join(reset)})"]


def _fill_gaps(nb: NotebookNode, release: NotebookNode, matcher: _Matcher) -> list[str]:
    """Put back what nbgrader cannot: the answer cell before a missing test cell.

    nbgrader re-adds a missing test cell after the nbgrader cell that precedes it in the
    release, and raises KeyError when that cell is an answer cell missing too (or a locked
    cell, which it does not track).  An empty answer cell (the student's code, if any, stays
    where it is) or, after a locked cell, the test cell itself, lets it grade the rest.
    """
    order = [r for r, cell in enumerate(release.cells) if grade_id(cell)]
    inserts: list[tuple[int, int, NotebookNode, str]] = []
    for k, r in enumerate(order[1:], start=1):
        meta, prev = nbgrader_meta(release.cells[r]), order[k - 1]
        if r in matcher.match or not _is_grade(meta) or _is_solution(meta):
            continue
        prev_meta = nbgrader_meta(release.cells[prev])
        if _is_grade(prev_meta) or (_is_solution(prev_meta) and prev in matcher.match):
            continue
        if _is_solution(prev_meta):
            cell, missing = copy.deepcopy(release.cells[prev]), prev
            cell.source = PLACEHOLDER.get(cell.cell_type, PLACEHOLDER["markdown"])
            note = (f"{grade_id(cell)} (an empty answer cell, so that nbgrader can put back "
                    f"{grade_id(release.cells[r])})")
        else:
            cell, missing = copy.deepcopy(release.cells[r]), r
            note = f"{grade_id(cell)} (as released: nbgrader cannot put it back after a locked cell)"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        low, _ = matcher.window(missing)
        matcher.match[missing] = low  # later gaps see it as present
        inserts.append((low + 1, len(inserts), cell, note))
    for position, _, cell, _ in sorted(inserts, key=lambda item: item[:2], reverse=True):
        nb.cells.insert(position, cell)
    notes = [note for *_, note in inserts]
    return [f"put back {_plural(len(notes), 'missing cell')}: {'; '.join(notes)}"] if notes else []


def _fix_ids(nb: NotebookNode) -> list[str]:
    """Every cell gets a unique id (nbformat 4.5)."""
    seen: set[str] = set()
    added = renamed = 0
    for cell in nb.cells:
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            new = random_cell_id()
            while new in seen:
                new = random_cell_id()
            added += not cell_id
            renamed += bool(cell_id)
            cell["id"] = cell_id = new
        seen.add(cell_id)
    if nb.nbformat == 4 and nb.get("nbformat_minor", 0) < 5:
        nb.nbformat_minor = 5
    notes = []
    if added:
        notes.append(f"added ids to {_plural(added, 'cell')}")
    if renamed:
        notes.append(f"gave new ids to {_plural(renamed, 'cell')} with a duplicate id")
    return notes


def repair(student: NotebookNode, release: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """A copy of ``student`` with its nbgrader cells matched back to ``release``, and notes on what changed.

    Each nbgrader cell of the release is found in the student's notebook by grade_id, else
    by cell id, else by content (an unchanged locked cell; an answer cell alone between its
    neighbours, or defining the names of its stub) and gets the release's nbgrader metadata
    and id.  Cells that cannot be found are left to nbgrader, which puts back missing test
    cells.  An empty list of notes means nothing needed repair.
    """
    nb = copy.deepcopy(student)
    release_ids = {grade_id(cell) for cell in release.cells if grade_id(cell)}
    notes = _drop_foreign_meta(nb, release_ids)
    notes += _reset_changed_meta(nb, release)

    matcher = _Matcher(nb, release)
    matcher.by_grade_id()
    matcher.by_cell_id()
    matcher.by_content()
    matcher.answers()

    restored = []
    ids_in_use = {cell.get("id"): s for s, cell in enumerate(nb.cells)}
    for r, s in sorted(matcher.match.items()):
        cell, source = nb.cells[s], release.cells[r]
        if not grade_id(source) or matcher.how[r] == "grade_id":
            continue
        _restore_meta(cell, source)
        restored.append(f"{grade_id(source)} by {matcher.how[r]}")
        if source.get("id") and cell.get("id") != source["id"]:
            other = ids_in_use.get(source["id"])
            if other is not None and other != s:
                nb.cells[other]["id"] = None  # gets a fresh id below
            cell["id"] = source["id"]
            ids_in_use[source["id"]] = s
    if restored:
        notes.append(f"restored nbgrader metadata of {_plural(len(restored), 'cell')} "
                     f"({', '.join(restored)})")

    missing = [grade_id(cell) for r, cell in enumerate(release.cells)
               if grade_id(cell) and r not in matcher.match]
    notes += _fill_gaps(nb, release, matcher)
    if missing:
        notes.append(f"not found in the submission: {', '.join(missing)} "
                     "(nbgrader puts back missing test cells; a missing answer scores 0)")
    notes += _fix_ids(nb)

    kernelspec = nb.metadata.get("kernelspec")
    if not (isinstance(kernelspec, dict) and kernelspec.get("name")) and "kernelspec" in release.metadata:
        nb.metadata["kernelspec"] = copy.deepcopy(release.metadata["kernelspec"])
        notes.append(f"restored the kernelspec ({release.metadata['kernelspec'].get('name')})")
    return nb, notes
