"""What the grader kernel runs, read from the instructor's notebook in ``source/`` (in the coordinator).

The grader kernel never runs a line of the student's notebook: its program is the instructor's notebook, in the
instructor's order: the instructor's own cells (setup, data, helpers), after each answer cell the names its
solution defines (bound as data or proxies of the student's functions), and the test cells. An instructor cell
runs there only when a test cell needs it, directly or through another needed cell: one that defines a name a
needed cell reads, changes such a name (``model.fit(...)``, ``history["loss"] = ...``), or sets global state
(``np.set_printoptions``). The others (figures, explorers, demonstrations) run in the student's kernel only, where
the student's outputs come from; the analysis keeps a cell whenever it cannot tell.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

from nbformat import NotebookNode

from autograder.nbgrader import notebooks

INSTRUCTOR, ANSWER, TEST = "instructor", "answer", "test"
# module functions that change what later cells compute or print (seeding is left out: every test seeds itself)
GLOBAL_STATE_CALLS = frozenset({"filterwarnings", "simplefilter", "use", "set_floatx", "set_epsilon",
                                "set_printoptions", "set_image_data_format", "set_dtype_policy",
                                "enable_op_determinism", "enable_unsafe_deserialization", "rc", "rcParams"})


@dataclass(frozen=True)
class Step:
    """One code cell of the instructor's notebook, as the grader kernel sees it."""

    kind: str  # INSTRUCTOR, ANSWER or TEST
    key: str  # the cell's id (an instructor's cell) or its grade_id (an answer or test cell)
    code: str = ""  # an instructor's cell the tests need: its source; "" when the grader kernel skips it
    exports: tuple[str, ...] = ()  # an answer cell: the top-level names the instructor's solution defines


@dataclass(frozen=True)
class GraderPlan:
    """The grader kernel's program for one notebook."""

    steps: tuple[Step, ...] = ()

    def position(self, kind: str, key: str | None) -> int | None:
        """Where the cell (``kind``, ``key``) is in the instructor's order; None for a cell the instructor has not."""
        for index, step in enumerate(self.steps):
            if step.kind == kind and step.key == key:
                return index
        return None

    def exports(self, grade_id: str) -> list[str]:
        index = self.position(ANSWER, grade_id)
        return list(self.steps[index].exports) if index is not None else []


def exports_of(code: str) -> list[str]:
    """The top-level names a solution defines (functions, classes, assigned names), in order."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


@dataclass
class _Uses:
    """What one cell does with names: defines, reads, changes in place; whether it sets global state."""

    defines: set[str]
    reads: set[str]
    changes: set[str]
    imports: set[str]
    global_state: bool


def _python(code: str) -> str:
    """The cell as plain Python (IPython's magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _stored(node: ast.AST | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)} \
        if node is not None else set()


def _reads(node: ast.AST, bound: set[str]) -> set[str]:
    """The names an expression or simple statement reads that ``bound`` does not hold (function and class bodies
    excluded: they are read when called, see :func:`_read_when_called`)."""
    found: set[str] = set()

    def walk(n: ast.AST, local: frozenset[str]) -> None:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            if n.id not in local:
                found.add(n.id)
            return
        if isinstance(n, _SCOPES):  # only what is evaluated where it is defined
            parts = list(getattr(n, "decorator_list", [])) + list(getattr(n, "bases", []))
            parts += [k.value for k in getattr(n, "keywords", [])]
            arguments = n.args if not isinstance(n, ast.ClassDef) else None
            if arguments is not None:
                parts += [d for d in arguments.defaults + arguments.kw_defaults if d is not None]
            for part in parts:
                walk(part, local)
            return
        if isinstance(n, _COMPREHENSIONS):
            inner = local | {name for generator in n.generators for name in _stored(generator.target)}
            for child in ast.iter_child_nodes(n):
                walk(child, inner)
            return
        for child in ast.iter_child_nodes(n):
            walk(child, local)

    walk(node, frozenset(bound))
    return found


def _read_when_called(source: str) -> set[str]:
    """The global names the cell's functions, lambdas and classes read (Python's own symbol tables)."""
    found: set[str] = set()
    tables = list(symtable.symtable(source, "<cell>", "exec").get_children())
    while tables:
        table = tables.pop()
        tables += table.get_children()
        found |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
    return found


def _flow(body: list[ast.stmt], bound: set[str], free: set[str]) -> None:
    """Top-level statements in order: what each reads before the cell binds it goes to ``free``."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            free |= _reads(stmt, bound)
            bound.add(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            bound |= {alias.asname or alias.name.split(".")[0] for alias in stmt.names}
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            free |= _reads(stmt.iter, bound)
            bound |= _stored(stmt.target)
            _flow(stmt.body + stmt.orelse, bound, free)
        elif isinstance(stmt, ast.While | ast.If):
            free |= _reads(stmt.test, bound)
            _flow(stmt.body + stmt.orelse, bound, free)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                free |= _reads(item.context_expr, bound)
                bound |= _stored(item.optional_vars)
            _flow(stmt.body, bound, free)
        elif isinstance(stmt, ast.Try | getattr(ast, "TryStar", ast.Try)):
            _flow(stmt.body, bound, free)
            for handler in stmt.handlers:
                if handler.type is not None:
                    free |= _reads(handler.type, bound)
                if handler.name:
                    bound.add(handler.name)
                _flow(handler.body, bound, free)
            _flow(stmt.orelse + stmt.finalbody, bound, free)
        else:
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) \
                    and stmt.target.id not in bound:
                free.add(stmt.target.id)
            free |= _reads(stmt, bound)
            bound |= _stored(stmt)


def _changed_roots(tree: ast.AST) -> set[str]:
    """Names whose object the code may change in place (``a.fit(...)``, ``a[0] = 1``, ``a.b = 2``), leaving out
    a function's own parameters and locals."""
    found: set[str] = set()

    def walk(node: ast.AST, local: frozenset[str]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            arguments = node.args
            params = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
            params |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
            body = node.body if isinstance(node.body, list) else [node.body]
            declared = {name for part in body for n in ast.walk(part) if isinstance(n, ast.Global) for name in n.names}
            assigned = {n.id for part in body for n in ast.walk(part)
                        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            inner = local | params | (assigned - declared)
            for part in body:
                walk(part, inner)
            return
        root = None
        if isinstance(node, ast.Attribute | ast.Subscript) and not isinstance(node.ctx, ast.Load):
            root = _root(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _root(node.func)
        if root and root not in local:
            found.add(root)
        for child in ast.iter_child_nodes(node):
            walk(child, local)

    walk(tree, frozenset())
    return found


def uses(code: str) -> _Uses | None:
    """How a cell uses names; None when it does not parse (the caller then keeps it and everything before it)."""
    try:
        source = _python(code)
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = _Uses(set(), set(), set(), set(), False)
    _flow(tree.body, found.defines, found.reads)
    found.reads |= _read_when_called(source) - found.defines
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.defines.update(node.names)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None
            found.imports |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in GLOBAL_STATE_CALLS:
            found.global_state = True
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr in GLOBAL_STATE_CALLS:
            found.global_state = True
    # what the cell changes in place: not the objects it made itself, nor a function's own locals
    found.changes = _changed_roots(tree) - found.defines
    found.changes.discard("")
    return found


def needed_instructor_cells(cells: list[tuple[str, str]]) -> set[int]:
    """Of ``cells`` (kind, code) in the instructor's order, the indexes of the instructor cells the tests need."""
    analysed = [uses(code) for _, code in cells]
    modules = set().union(*(found.imports for found in analysed if found is not None))
    needed: set[str] = set()
    keep: set[int] = set()
    while True:  # again until nothing changes: a function may read a name a later cell defines
        before = (len(needed), len(keep))
        for index in reversed(range(len(cells))):
            kind, found = cells[index][0], analysed[index]
            if kind == ANSWER:
                continue
            if found is None:  # unreadable: keep it and every instructor cell before it
                return keep | {i for i, (k, _) in enumerate(cells[:index + 1]) if k == INSTRUCTOR}
            if kind == INSTRUCTOR:
                changed = found.changes - modules
                if not (found.global_state or found.defines & needed or changed & needed):
                    continue
                keep.add(index)
            needed |= found.reads | found.changes
        if (len(needed), len(keep)) == before:
            return keep


def plan_from_source(source_nb: NotebookNode) -> GraderPlan:
    """The grader kernel's program, from the instructor's (source) notebook."""
    cells = []
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        meta = notebooks.nbgrader_meta(cell)
        if notebooks.is_autograded_test(cell):
            cells.append((TEST, notebooks.grade_id(cell), cell.source))
        elif meta.get("solution"):
            if meta.get("grade_id"):
                cells.append((ANSWER, meta["grade_id"], cell.source))
        else:
            cells.append((INSTRUCTOR, cell.get("id") or "", cell.source))
    keep = needed_instructor_cells([(kind, code) for kind, _, code in cells])
    steps = []
    for index, (kind, key, code) in enumerate(cells):
        if kind == INSTRUCTOR:
            steps.append(Step(kind, key, code if index in keep else ""))
        elif kind == ANSWER:
            steps.append(Step(kind, key, exports=tuple(exports_of(code))))
        else:
            steps.append(Step(kind, key))
    return GraderPlan(tuple(steps))
