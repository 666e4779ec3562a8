"""A static scan of the code students write, for code that games the tests or reaches outside the notebook.

Nothing is executed: each cell is parsed with :mod:`ast` (IPython ``%`` magics and ``!``
shell lines are taken out first; a cell that still does not parse is matched line by line
with regular expressions).  A :class:`Flag` is a finding for a person to read, not a
verdict: ``sys.exit()`` in an answer is reported although it is only a mistake.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from autograder.notebooks import grade_id, nbgrader_meta

REPO_ROOT = Path(__file__).resolve().parent.parent

# Modules whose attributes the tests rely on: a student must not rebind them.
GUARDED = {"numpy", "unittest", "pytest", "course", "keras", "tensorflow", "builtins", "nbgrader"}
# Names the test cells use as modules, and what they must stay bound to.
PROTECTED_NAMES = {"np": {"numpy"}, "numpy": {"numpy"}, "tf": {"tensorflow"}, "tensorflow": {"tensorflow"},
                   "keras": {"keras", "tensorflow.keras"}, "course": {"course"}, "checks": {"course.checks"}}
PROTECTED_BUILTINS = {"AssertionError", "Exception", "BaseException"}
# Where names usually come from when the import is in a cell we do not scan.
DEFAULT_ALIASES = {"np": "numpy", "numpy": "numpy", "tf": "tensorflow", "keras": "keras", "course": "course",
                   "checks": "course.checks", "__builtins__": "builtins", "sys": "sys", "os": "os"}

NETWORK_MODULES = {"socket", "urllib", "urllib3", "requests", "http.client", "httpx", "aiohttp", "ftplib",
                   "smtplib", "telnetlib", "poplib", "imaplib", "xmlrpc", "websocket", "websockets",
                   "paramiko"}
PROCESS_MODULES = {"subprocess", "pty", "multiprocessing"}
PROCESS_CALLS = {"os.system", "os.popen", "os.fork", "os.forkpty", "asyncio.create_subprocess_exec",
                 "asyncio.create_subprocess_shell", "concurrent.futures.ProcessPoolExecutor"}
PROCESS_PREFIXES = ("subprocess.", "pty.", "multiprocessing.", "os.exec", "os.spawn", "os.posix_spawn")
MODULES_METHODS = {"pop", "update", "setdefault", "clear", "popitem", "__setitem__", "__delitem__"}
RELOAD_CALLS = {"importlib.reload", "imp.reload"}
TRACE_CALLS = {"sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile",
               "sys.addaudithook"}
FRAME_CALLS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "inspect.stack",
               "inspect.currentframe", "inspect.getouterframes", "inspect.trace", "sys._getframe",
               "sys._current_frames", "traceback.walk_stack"}
EXIT_CALLS = {"os._exit", "sys.exit", "exit", "quit", "os.abort"}
SIGNAL_CALLS = {"os.kill", "os.killpg"}
DELETE_CALLS = {"os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.rename", "os.renames",
                "os.replace", "os.truncate", "shutil.rmtree", "shutil.move"}
# Functions that take a path as first argument: reading (or listing) it, or writing it.
READ_CALLS = {"open", "io.open", "builtins.open", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt",
              "numpy.fromfile", "numpy.memmap", "os.listdir", "os.scandir", "os.walk", "os.chdir",
              "glob.glob", "glob.iglob", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree",
              "keras.models.load_model", "keras.saving.load_model", "tensorflow.keras.models.load_model",
              "scipy.io.loadmat", "h5py.File", "PIL.Image.open", "joblib.load"}
READ_PREFIXES = ("pandas.read_",)
WRITE_CALLS = {"numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "joblib.dump"}
PATH_READ_METHODS = {"read_text", "read_bytes", "iterdir", "glob", "rglob"}
PATH_WRITE_METHODS = {"write_text", "write_bytes", "touch", "mkdir", "savefig", "save", "save_weights",
                      "to_csv", "to_pickle", "to_json", "to_parquet", "to_excel"}
PATH_NAMES = {"pathlib.Path", "Path", "pathlib.PurePath"}
GRADER_FOLDERS = {"source", "release", "submitted", "autograded", "feedback", ".nbgrader"}
SHELL_CELL_MAGICS = {"bash", "sh", "script", "system", "sx", "perl", "ruby", "zsh"}
SHELL_LINE_MAGICS = {"system", "sx", "pip", "conda", "mamba"}  # %pip runs pip in a process, off the network
PATH_LINE_MAGICS = {"run", "load", "cd"}
NON_PYTHON_CELL_MAGICS = {"html", "javascript", "js", "latex", "markdown", "md", "svg", "writefile", "file"}
URL = re.compile(r"^(https?|ftp)://", re.IGNORECASE)

GLOBALS = "globals()"  # what resolve() calls the notebook's namespace
R_PATCH = "changes test machinery: {}"
R_SHADOW = "redefines {}, which the tests use"
R_MODULES = "edits sys.modules (swaps the modules the tests import)"
R_RELOAD = "reloads a module (importlib.reload)"
R_TRACE = "installs an interpreter hook ({})"
R_FRAMES = "looks into the grader's frames or objects ({})"
R_READ = "reads files outside the submission folder ({})"
R_WRITE = "writes files outside the submission folder ({})"
R_DELETE = "deletes or renames files ({})"
R_PROCESS = "spawns a process ({})"
R_SHELL = "runs a shell command"
R_NETWORK = "uses the network ({})"
R_EXIT = "exits the interpreter ({})"
R_SIGNAL = "sends or handles signals ({})"
BY_TEXT = " (matched by text: the cell does not parse)"


@dataclass(frozen=True)
class Flag:
    """One suspicious line of a student's cell."""

    notebook: str
    cell: str  # grade_id, else cell id, else "cell <index>"
    line: int  # 1-based, within the cell
    code: str  # the line, stripped
    rule: str  # what it does, in a few words

    def __str__(self) -> str:
        return f"{self.notebook} [{self.cell}] line {self.line}: {self.rule}: {self.code}"


@functools.cache
def check_names(checks_file: Path = REPO_ROOT / "course" / "checks.py") -> frozenset[str]:
    """The public functions of ``course/checks.py`` (read with ast, not imported: no Keras start-up)."""
    try:
        tree = ast.parse(checks_file.read_text())
    except (OSError, SyntaxError):
        return frozenset()
    return frozenset(node.name for node in tree.body
                     if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"))


@functools.cache
def _launch_source() -> str:
    """Colab's install cell that every release notebook starts with (it runs pip: not the student's)."""
    try:
        from autograder import launch

        return _normalized(launch.colab_setup_source(launch.publication()))
    except Exception:  # no pyproject.toml, no [tool.course]: nothing to skip
        return ""


def _normalized(source: str) -> str:
    return " ".join(source.split())


# ---------------------------------------------------------------------------------------------------------
# IPython syntax


def _clean(source: str) -> tuple[str | None, list[tuple[int, str]]]:
    """Python source with IPython magics and shell lines replaced by ``pass``, and their flags.

    Returns None for the source of a cell that is not Python (``%%bash``, ``%%html``, ...).
    Line numbers are kept.
    """
    lines = source.split("\n")
    flags: list[tuple[int, str]] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        words = lines[first].strip()[2:].split()
        magic = words[0] if words else ""
        if magic in SHELL_CELL_MAGICS:
            return None, [(first + 1, R_SHELL)]
        if magic in NON_PYTHON_CELL_MAGICS:
            if magic in ("writefile", "file") and len(words) > 1:
                problem = _path_problem([words[-1]])
                if problem:
                    flags.append((first + 1, R_WRITE.format(problem)))
            return None, flags
        lines[first] = ""
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        assigned = re.match(r"[A-Za-z_][\w.]*\s*=\s*([!%])", stripped)
        marker = assigned.group(1) if assigned else stripped[:1]
        if marker == "!":
            flags.append((index + 1, R_SHELL))
        elif marker == "%":
            magic = (stripped[assigned.end():] if assigned else stripped.lstrip("%")).split()
            name = magic[0].lstrip("%") if magic else ""
            if name in SHELL_LINE_MAGICS:
                flags.append((index + 1, R_SHELL))
            elif name in PATH_LINE_MAGICS and len(magic) > 1:
                problem = _path_problem([magic[-1].strip("'\"")])
                if problem:
                    flags.append((index + 1, R_READ.format(problem)))
        elif re.fullmatch(r"[\w.]+\?{1,2}\s*", stripped):  # obj? help
            marker = "?"
        else:
            continue
        lines[index] = indent + "pass"
    return "\n".join(lines), flags


# ---------------------------------------------------------------------------------------------------------
# Paths


def _string_parts(node: ast.AST) -> list[str]:
    """The string literals of an expression, in source order (f-strings: their literal parts)."""
    parts = []
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            parts.append((child.lineno, child.col_offset, child.value))
    return [text for *_, text in sorted(parts)]


def _path_problem(parts: list[str]) -> str | None:
    """Why a path made of these literals is outside the submission folder (None: not as far as we see)."""
    if not parts:
        return None
    head = parts[0]
    if head.startswith(("/", "~", "\\\\")) or re.match(r"^[A-Za-z]:[\\/]", head):
        return f"absolute path {head!r}"
    for part in parts:
        if URL.match(part):
            return None  # a URL is the network rule's business
        components = [c for c in re.split(r"[\\/]", part) if c]
        if ".." in components:
            return f"'..' in {part!r}"
        for component in components:
            low = component.lower()
            if low in GRADER_FOLDERS or "gradebook" in low or low == "nbgrader_config.py":
                return f"the grader's {component!r}"
            if low.endswith(".ipynb"):
                return f"a notebook {component!r}"
    return None


# ---------------------------------------------------------------------------------------------------------
# The AST scan


def _imports(tree: ast.AST) -> dict[str, str]:
    """name -> dotted module or object it is bound to by the imports in ``tree``."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


class _Scanner(ast.NodeVisitor):
    """Collects (line, rule) findings of one cell."""

    def __init__(self, aliases: dict[str, str], from_checks: set[str]):
        self.aliases = dict(aliases)
        self.from_checks = from_checks
        self.found: list[tuple[int, str]] = []
        self.depth = 0  # inside a function or class

    def flag(self, node: ast.AST, rule: str) -> None:
        self.found.append((getattr(node, "lineno", 1), rule))

    # -- names --------------------------------------------------------------------------------------------

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for (``np.testing`` -> ``numpy.testing``), if it is one."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            called = self.resolve(node.func)
            if called in ("__import__", "importlib.import_module") and node.args:
                parts = _string_parts(node.args[0])
                return parts[0] if parts else None
            if called == "globals" and not node.args:
                return GLOBALS
            if called == "getattr" and len(node.args) >= 2:  # getattr(checks, "check_close")
                base, attr = self.resolve(node.args[0]), _string_parts(node.args[1])
                return f"{base}.{attr[0]}" if base and attr else None
        return None

    def guarded(self, node: ast.AST) -> str | None:
        """The dotted name of ``node`` when it is (part of) a module the tests rely on."""
        if isinstance(node, ast.Call) and self.resolve(node.func) == "vars" and node.args:
            return self.guarded(node.args[0])
        if isinstance(node, ast.Call) and self.resolve(node.func) == "getattr" and node.args:
            if not self.guarded(node.args[0]):
                return None
        dotted = self.resolve(node)
        if dotted and dotted.split(".")[0] in GUARDED:
            if isinstance(node, ast.Name) and node.id not in self.aliases and node.id != "builtins":
                return None  # a plain name that was never imported: the student's own variable
            return dotted
        return None

    # -- assignments ----------------------------------------------------------------------------------------

    def target(self, node: ast.AST, deleting: bool = False) -> None:
        if isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.target(element, deleting)
        elif isinstance(node, ast.Starred):
            self.target(node.value, deleting)
        elif isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base == "sys" and node.attr == "modules":
                self.flag(node, R_MODULES)
            elif self.guarded(node.value):
                self.flag(node, R_PATCH.format(f"{self.guarded(node.value)}.{node.attr}"))
        elif isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            key = _string_parts(node.slice)
            if base == "sys.modules":
                self.flag(node, R_MODULES)
            elif base == GLOBALS and key:
                self.binding(node, key[0], None)
            elif base == "builtins" or ((base or "").endswith(".__dict__") and self.guarded(node.value)):
                self.flag(node, R_PATCH.format(f"{base}[...]"))
            elif isinstance(node.value, ast.Call) and self.guarded(node.value):
                self.flag(node, R_PATCH.format(f"vars({self.guarded(node.value)})[...]"))
        elif isinstance(node, ast.Name) and not deleting and self.depth == 0:
            self.binding(node, node.id, None)

    def binding(self, node: ast.AST, name: str, bound_to: str | None) -> None:
        """A top-level name bound in a student cell (``bound_to``: the module an import binds it to)."""
        if name in PROTECTED_BUILTINS:
            self.flag(node, R_SHADOW.format(name))
        elif name in PROTECTED_NAMES and bound_to not in PROTECTED_NAMES[name]:
            self.flag(node, R_SHADOW.format(name))
        elif name in check_names() and (name.startswith("check") or name in self.from_checks):
            if bound_to != f"course.checks.{name}":
                self.flag(node, R_SHADOW.format(f"course.checks.{name}"))

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self.target(target)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, ast.Call):  # c = importlib.import_module("course.checks"); globals()
                value = self.resolve(node.value)
                value = value if value == GLOBALS or (value and value.split(".")[0] in GUARDED) else None
            else:  # t = np.testing
                value = self.guarded(node.value)
            if value:
                self.aliases[node.targets[0].id] = value
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.target(target, deleting=True)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        if self.depth == 0:
            self.binding(node, node.name, None)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    # -- imports --------------------------------------------------------------------------------------------

    def imported(self, node: ast.AST, module: str) -> None:
        for network in NETWORK_MODULES:
            if module == network or module.startswith(network + "."):
                self.flag(node, R_NETWORK.format(f"imports {module}"))
                return
        if module in ("http", "http.client") or module.startswith("http.client"):
            self.flag(node, R_NETWORK.format(f"imports {module}"))
        elif module.split(".")[0] in PROCESS_MODULES:
            self.flag(node, R_PROCESS.format(f"imports {module}"))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported(node, alias.name)
            if self.depth == 0:
                bound = alias.name if alias.asname else alias.name.split(".")[0]
                self.binding(node, alias.asname or alias.name.split(".")[0], bound)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}"
            self.imported(node, full if module == "http" else module)
            if self.depth == 0 and alias.name != "*":
                self.binding(node, alias.asname or alias.name, full)

    # -- calls ----------------------------------------------------------------------------------------------

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if exc is not None and self.resolve(exc) == "SystemExit":
            self.flag(node, R_EXIT.format("raise SystemExit"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.resolve(node.func) or ""
        self.call(node, name)
        if isinstance(node.func, ast.Attribute):
            self.method(node, node.func)
        self.generic_visit(node)

    def call(self, node: ast.Call, name: str) -> None:
        args = list(node.args) + [keyword.value for keyword in node.keywords]
        if name in ("setattr", "delattr", "builtins.setattr", "builtins.delattr") and node.args:
            target = self.guarded(node.args[0])
            if target or self.resolve(node.args[0]) == "sys":
                self.flag(node, R_PATCH.format(f"{name}({target or 'sys'}, ...)"))
        elif name.startswith(("unittest.mock.patch", "mock.patch", "pytest.MonkeyPatch")):
            self.flag(node, R_PATCH.format(name))
        elif name in RELOAD_CALLS:
            self.flag(node, R_RELOAD)
        elif name in TRACE_CALLS:
            self.flag(node, R_TRACE.format(name))
        elif name in FRAME_CALLS:
            self.flag(node, R_FRAMES.format(name))
        elif name in PROCESS_CALLS or name.startswith(PROCESS_PREFIXES):
            self.flag(node, R_PROCESS.format(name))
        elif name in EXIT_CALLS:
            self.flag(node, R_EXIT.format(f"{name}()"))
        elif name in SIGNAL_CALLS or name.startswith("signal."):
            self.flag(node, R_SIGNAL.format(name))
        elif name in DELETE_CALLS:
            self.flag(node, R_DELETE.format(name))
        elif name.endswith("get_file") and any(URL.match(s) for arg in args for s in _string_parts(arg)):
            self.flag(node, R_NETWORK.format(f"{name} with a URL"))
        elif any(name == m or name.startswith(m + ".") for m in NETWORK_MODULES):
            self.flag(node, R_NETWORK.format(name))
        elif name in ("exec", "eval", "compile") and node.args:
            self.nested(node)
        elif name in ("__import__", "importlib.import_module") and node.args:
            module = self.resolve(node)
            if module:
                self.imported(node, module)
        elif name in READ_CALLS or name.startswith(READ_PREFIXES) or name in WRITE_CALLS:
            self.file_call(node, name)

    def file_call(self, node: ast.Call, name: str) -> None:
        first = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg in ("file", "fname", "path", "filepath", "src", "name")),
            None)
        if first is None:
            return
        mode = node.args[1] if len(node.args) > 1 and name in ("open", "io.open", "builtins.open") else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        writes = name in WRITE_CALLS
        if mode is not None:
            writes = writes or any(c in "".join(_string_parts(mode)) for c in "wax+")
        problem = self.path_problem(first)
        if problem:
            self.flag(node, (R_WRITE if writes else R_READ).format(problem))
        if name.startswith("shutil.copy") and len(node.args) > 1:
            problem = self.path_problem(node.args[1])
            if problem:
                self.flag(node, R_WRITE.format(problem))

    def path_problem(self, node: ast.AST) -> str | None:
        for child in ast.walk(node):
            if isinstance(child, ast.Call) and self.resolve(child.func) in (
                    "pathlib.Path.home", "Path.home", "os.path.expanduser", "os.getenv"):
                return "the home folder"
            if isinstance(child, ast.Subscript) and self.resolve(child.value) == "os.environ":
                return "a path from the environment"
        return _path_problem(_string_parts(node))

    def method(self, node: ast.Call, func: ast.Attribute) -> None:
        receiver = func.value
        if func.attr in MODULES_METHODS:
            if self.resolve(receiver) == "sys.modules":
                self.flag(node, R_MODULES)
            elif self.resolve(receiver) == GLOBALS:
                for keyword in node.keywords:
                    if keyword.arg:
                        self.binding(node, keyword.arg, None)
            elif (self.resolve(receiver) or "").endswith(".__dict__") and self.guarded(receiver):
                self.flag(node, R_PATCH.format(f"{self.resolve(receiver)}.{func.attr}"))
            elif isinstance(receiver, ast.Call) and self.guarded(receiver):
                self.flag(node, R_PATCH.format(f"vars({self.guarded(receiver)}).{func.attr}"))
        if func.attr in ("unlink", "rmdir"):
            self.flag(node, R_DELETE.format(f".{func.attr}()"))
        elif func.attr in ("rename", "replace") and self.makes_path(receiver):
            self.flag(node, R_DELETE.format(f"Path.{func.attr}()"))
        elif func.attr in PATH_READ_METHODS | PATH_WRITE_METHODS:
            target = receiver if func.attr in PATH_READ_METHODS or self.makes_path(receiver) else None
            problem = self.path_problem(target) if target is not None else None
            if problem is None and func.attr in PATH_WRITE_METHODS and node.args:
                problem = self.path_problem(node.args[0])
            if problem:
                rule = R_READ if func.attr in PATH_READ_METHODS else R_WRITE
                self.flag(node, rule.format(problem))
        elif isinstance(receiver, ast.Call) and self.resolve(receiver.func) == "get_ipython":
            if func.attr in ("system", "getoutput", "system_raw", "system_piped"):
                self.flag(node, R_SHELL)
            elif func.attr in ("run_cell_magic", "run_line_magic") and node.args:
                magic = _string_parts(node.args[0])
                if magic and magic[0] in SHELL_CELL_MAGICS:
                    self.flag(node, R_SHELL)

    def makes_path(self, node: ast.AST) -> bool:
        return any(isinstance(child, ast.Call) and self.resolve(child.func) in PATH_NAMES
                   for child in ast.walk(node))

    def nested(self, node: ast.Call) -> None:
        """``exec("...")``: scan the literal code too, reported on the exec line."""
        parts = _string_parts(node.args[0]) if isinstance(node.args[0], ast.Constant) else []
        try:
            tree = ast.parse(parts[0]) if parts else None
        except SyntaxError:
            tree = None
        if tree is None:
            return
        inner = _Scanner(self.aliases, self.from_checks)
        inner.depth = self.depth
        inner.visit(tree)
        self.found += [(node.lineno, rule) for _, rule in inner.found]


# ---------------------------------------------------------------------------------------------------------
# When a cell does not parse


@functools.cache
def _fallback_rules() -> list[tuple[re.Pattern, str]]:
    guarded = r"(np|numpy|tf|tensorflow|keras|course|checks|builtins|__builtins__|unittest|pytest)"
    names = "|".join(sorted(check_names() | PROTECTED_BUILTINS)) or "AssertionError"
    return [
        (rf"^\s*{guarded}(\.\w+)+\s*=(?!=)|\bsetattr\s*\(\s*{guarded}\b|__builtins__\s*\[.*\]\s*=(?!=)",
         R_PATCH.format("an attribute of a module the tests use")),
        (rf"^\s*(def|class)\s+({names})\b|^\s*({names})\s*=(?!=)", R_SHADOW.format("a name")),
        (r"\bsys\.modules\s*(\[.*\]\s*=(?!=)|\.\s*(pop|update|setdefault|clear|popitem)\b|=(?!=))"
         r"|\bdel\s+sys\.modules", R_MODULES),
        (r"\b(importlib|imp)\.reload\b", R_RELOAD),
        (r"\b(sys|threading)\.(settrace|setprofile)\b", R_TRACE.format("settrace/setprofile")),
        (r"\bgc\.get_(objects|referrers|referents)\b|\binspect\.(stack|currentframe|getouterframes|trace)\b"
         r"|\bsys\._(getframe|current_frames)\b", R_FRAMES.format("gc/inspect/sys._getframe")),
        (r"\bsubprocess\b|\bos\.(system|popen|fork|exec\w*|spawn\w*|posix_spawn\w*)\s*\(|\bmultiprocessing\b"
         r"|\bpty\.", R_PROCESS.format("subprocess/os.system/...")),
        (r"^\s*(import|from)\s+(socket|urllib3?|requests|httpx|aiohttp|ftplib|smtplib|http)\b"
         r"|get_file\s*\(.*['\"](https?|ftp)://", R_NETWORK.format("network module or download")),
        (r"\bos\._exit\b|\bsys\.exit\b|(?<![\w.])(exit|quit)\s*\(|\braise\s+SystemExit\b",
         R_EXIT.format("exit")),
        (r"\bos\.kill(pg)?\b|\bsignal\.\w+\s*\(", R_SIGNAL.format("os.kill/signal")),
        (r"\bos\.(remove|unlink|rmdir|removedirs|rename|renames|replace)\s*\(|\bshutil\.(rmtree|move)\b"
         r"|\.(unlink|rmdir)\s*\(", R_DELETE.format("os.remove/shutil.rmtree/...")),
        (r"\bopen\s*\(\s*[rRbBuUfF]{0,2}['\"](/|~|\.\.|[A-Za-z]:\\)",
         R_READ.format("a path outside the submission folder")),
    ]


def _scan_text(source: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(source.split("\n"), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        for pattern, rule in _fallback_rules():
            if re.search(pattern, code):
                found.append((number, rule + BY_TEXT))
    return found


# ---------------------------------------------------------------------------------------------------------
# Notebooks


def _parse(source: str) -> tuple[ast.AST | None, str | None, list[tuple[int, str]]]:
    """(tree or None, the cleaned source, flags from IPython syntax) of a cell."""
    try:
        return ast.parse(source), source, []
    except (SyntaxError, ValueError):
        pass
    cleaned, flags = _clean(source)
    if cleaned is None:
        return None, None, flags
    try:
        return ast.parse(cleaned), cleaned, flags
    except (SyntaxError, ValueError):
        return None, cleaned, flags


def _student_cells(nb: NotebookNode, release: NotebookNode | None) -> list[int]:
    """Indices of the code cells a student wrote or may have changed."""
    if release is not None:
        given = {_normalized(cell.source) for cell in release.cells if cell.cell_type == "code"}
        restored = {grade_id(cell) for cell in release.cells
                    if grade_id(cell) and (nbgrader_meta(cell).get("locked") or
                                           (nbgrader_meta(cell).get("grade") and
                                            not nbgrader_meta(cell).get("solution")))}
    else:
        given = {_launch_source()} - {""}
        restored = set()
    chosen = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _normalized(cell.source) in given:
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
            parsed[index] = _parse(cell.source)
            if parsed[index][0] is not None:
                aliases.update(_imports(parsed[index][0]))
    from_checks = {name for name, target in aliases.items() if target == f"course.checks.{name}"}

    flags: list[Flag] = []
    seen: set[tuple[str, int, str]] = set()
    for index in _student_cells(nb, release):
        cell = nb.cells[index]
        tree, cleaned, found = parsed[index]
        found = list(found)
        if tree is not None:
            scanner = _Scanner(aliases, from_checks)
            scanner.visit(tree)
            found += scanner.found
        elif cleaned is not None:
            found += _scan_text(cleaned)
        label = grade_id(cell) or cell.get("id") or f"cell {index}"
        lines = cell.source.split("\n")
        for line, rule in sorted(found):
            key = (label, line, rule)
            if key in seen:
                continue
            seen.add(key)
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            flags.append(Flag(notebook_name, label, line, code, rule))
    return flags
