"""A static scan of the code students write, for code that games the tests or reaches outside the notebook.

Nothing is executed: each cell is parsed with :mod:`ast`, after IPython's own transformer has
turned ``%`` magics and ``!`` shell lines into the ``get_ipython()`` calls they stand for (without
IPython, or when it fails, they are taken out by hand; a cell that still does not parse is matched
line by line with regular expressions).  The scan does not stop at the first trick: code hidden in
a string literal (``exec("...")``, a hex or base64 payload, the body of ``%time`` or ``%%capture``)
is scanned too, and code it cannot read (``exec`` of a computed string, ``getattr`` by a computed
name) is itself reported.  Other files a submission carries go through :func:`scan_file`.

A :class:`Flag` is a finding for a person to read, not a verdict: ``sys.exit()`` in an answer is
reported although it is only a mistake.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import difflib
import functools
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nbformat import NotebookNode

from autograder import REPO_ROOT
from autograder.notebooks import grade_id, nbgrader_meta, normalized

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
SHELL_CELL_MAGICS = {"bash", "sh", "script", "system", "sx", "perl", "ruby", "zsh",
                     "python", "python2", "python3", "pypy"}  # %%python3 runs its body in another process
SHELL_LINE_MAGICS = {"system", "sx", "pip", "conda", "mamba", "alias"}  # %pip runs pip in a process, off the network
PATH_LINE_MAGICS = {"run", "load", "cd"}
NON_PYTHON_CELL_MAGICS = {"html", "javascript", "js", "latex", "markdown", "md", "svg", "writefile", "file"}
PYTHON_LINE_MAGICS = {"time", "timeit", "prun", "debug", "capture"}  # their argument is Python code
HISTORY_MAGICS = {"history", "hist", "rerun", "recall", "save", "macro"}
URL = re.compile(r"^(https?|ftp)://", re.IGNORECASE)

# Running code the scan cannot read.
EXEC_CALLS = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"}
IMPORT_CALLS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
GETATTR_CALLS = {"getattr", "builtins.getattr"}
SETATTR_CALLS = {"setattr", "delattr", "builtins.setattr", "builtins.delattr"}
# Builtins worth following through a new name (``run = exec``).
SENSITIVE_BUILTINS = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "open", "globals",
                      "vars", "locals", "get_ipython", "breakpoint"}
# Modules in which a lookup by a computed name is ordinary (``getattr(keras.activations, name)``).
DYNAMIC_LOOKUP_MODULES = {"numpy", "keras", "tensorflow", "matplotlib", "pandas", "scipy", "sklearn", "math",
                          "operator", "random", "statistics"}
# Text that hides code: decoders (their literal argument is decoded and scanned too).
DECODE_CALLS = {"bytes.fromhex", "bytearray.fromhex", "binascii.unhexlify", "zlib.decompress", "gzip.decompress",
                "bz2.decompress", "lzma.decompress", "quopri.decodestring"}
DECODE_PREFIXES = ("binascii.a2b_",)
CODEC_CALLS = {"codecs.decode", "codecs.encode", "codecs.getdecoder", "codecs.getencoder", "codecs.lookup",
               "codecs.getreader", "codecs.iterdecode"}
HIDING_CODECS = {"rot13", "rot_13", "hex", "hex_codec", "base64", "base_64", "base64_codec", "zlib", "zip",
                 "zlib_codec", "bz2", "bz2_codec", "uu", "uu_codec", "quopri", "quotedprintable",
                 "quoted_printable", "quopri_codec"}
UNPICKLE_CALLS = {"marshal.loads", "marshal.load", "pickle.loads", "pickle.load", "pickle.Unpickler",
                  "_pickle.loads", "_pickle.load", "dill.loads", "dill.load", "cloudpickle.loads",
                  "cloudpickle.load", "shelve.open"}
MAX_DECODED = 1_000_000  # bytes of a decoded literal that are scanned
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)  # what ast.parse raises

# IPython: the shell, what it runs cells through, and the history it keeps.
IPYTHON = "get_ipython()"  # what resolve() calls the shell
IPYTHON_GETTERS = {"get_ipython", "builtins.get_ipython", "__main__.get_ipython", "IPython.get_ipython",
                   "IPython.core.getipython.get_ipython", "IPython.core.interactiveshell.InteractiveShell.instance",
                   "IPython.InteractiveShell.instance", "ipykernel.zmqshell.ZMQInteractiveShell.instance"}
IPYTHON_HOOK_ATTRS = {"input_transformers_cleanup", "input_transformers_post", "ast_transformers",
                      "input_transformer_manager"}  # only IPython has these: any use is reported
IPYTHON_HOOK_METHODS = {"register", "unregister", "set_custom_exc", "register_magic_function", "register_magics",
                        "set_hook", "define_magic", "register_post_execute", "define_macro"}
IPYTHON_EXEC_METHODS = {"run_cell", "run_cell_async", "run_code", "run_ast_nodes", "ex", "ev"}
NAMESPACE_ATTRS = {"user_ns", "user_global_ns", "user_ns_hidden", "user_module"}
NAMESPACE_METHODS = {"push", "del_var", "reset", "reset_selective", "drop_by_id"}
HISTORY_NAMES = re.compile(r"In|Out|_ih|_oh|_i|_ii|_iii|_i\d+|_\d+")
SYS_HOOKS = {"excepthook", "displayhook", "breakpointhook", "unraisablehook"}  # assigning one is a hook
SYS_IMPORT_HOOKS = {"meta_path", "path_hooks", "path_importer_cache"}  # any use is a hook

# Paths: calls that give the working folder as an absolute path, or the home folder.
ABSOLUTE_CALLS = {"pathlib.Path.cwd", "Path.cwd", "os.getcwd", "os.getcwdb", "os.path.abspath", "os.path.realpath",
                  "pathlib.Path.absolute", "pathlib.Path.resolve"}
ABSOLUTE_METHODS = {"resolve", "absolute", "cwd", "home", "expanduser"}
HOME_CALLS = {"pathlib.Path.home", "Path.home", "os.path.expanduser"}
CHDIR_CALLS = {"os.chdir", "os.fchdir"}
# Calls whose string arguments are only text (a message, a split), not a path.
TEXT_CALLS = {"print", "str", "repr", "len", "format", "display", "warnings.warn", "IPython.display.display",
              "IPython.display.Markdown", "IPython.display.HTML"}
TEXT_METHODS = {"format", "replace", "split", "rsplit", "strip", "lstrip", "rstrip", "startswith", "endswith",
                "count", "find", "rfind", "index", "rindex", "partition", "rpartition", "removeprefix",
                "removesuffix", "write", "info", "debug", "warning", "error", "critical", "exception", "log",
                "set_title", "set_xlabel", "set_ylabel", "title", "xlabel", "ylabel", "suptitle", "text",
                "annotate", "legend"}
# A file with one of these names is imported instead of the module the tests import.
SHADOWED_MODULES = GUARDED | {"sitecustomize", "usercustomize"}
PYTHON_SUFFIXES = {".py", ".pyw", ".ipy"}

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
R_EXEC = "runs code built at run time ({})"
R_IMPORT = "imports a module whose name is built at run time ({})"
R_LOOKUP = "looks up a module's attribute by a name built at run time ({})"
R_SETATTR = "changes a module's attribute by a name built at run time ({})"
R_DECODE = "decodes hidden text ({})"
R_UNPICKLE = "loads pickled or marshalled objects, which can run hidden code ({})"
R_IPYTHON = "changes how IPython runs cells ({})"
R_NAMESPACE = "reaches into the notebook's variables through IPython ({})"
R_HISTORY = "reads the cells run before ({})"
R_PATH = "builds a path that leaves the submission folder ({})"
R_CHDIR = "changes the working folder ({})"
R_LOCKOUT = "touches the lock that keeps the course's exercise helpers out of the tests ({})"
LOCKOUT = "course.lockout"
R_EXTRA = "the submission carries an extra file ({}, {} bytes): a person should look at it"
R_UNREADABLE = "the scan could not follow this code to the end (it is nested too deeply): read it"
R_MODULE_FILE = "a file named like a module the tests import ({}): it would be imported instead of it"
BY_TEXT = " (matched by text: the cell does not parse)"
COMPUTED = "<computed>"  # the name of an attribute looked up by a computed name


@dataclass(frozen=True)
class Flag:
    """One suspicious line of a student's cell."""

    notebook: str
    cell: str  # grade_id, else cell id, else "cell <index>"
    line: int  # 1-based, within the cell (0: the whole file)
    code: str  # the line, stripped
    rule: str  # what it does, in a few words

    def __str__(self) -> str:
        where = f" line {self.line}" if self.line else ""
        return f"{self.notebook} [{self.cell}]{where}: {self.rule}" + (f": {self.code}" if self.code else "")


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

        return normalized(launch.colab_setup_source(launch.publication()))
    except Exception:  # no pyproject.toml, no [tool.course]: nothing to skip
        return ""


# ---------------------------------------------------------------------------------------------------------
# IPython syntax


def _cell_magic(source: str) -> tuple[int, str, list[str]] | None:
    """(0-based line, name, words after the name) of the ``%%magic`` line that starts a cell, if any."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return None
    words = lines[first].strip()[2:].split()
    return first, (words[0] if words else ""), words[1:]


@functools.cache
def _transformer() -> object:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _ipython_to_python(source: str) -> str | None:
    """The Python IPython runs for ``source`` (magics become ``get_ipython()`` calls); None if it fails."""
    try:
        python = _transformer().transform_cell(source)
    except Exception:  # no IPython, or it chokes on the cell: the hand-written cleanup takes over
        return None
    if python.endswith("\n") and not source.endswith("\n"):
        python = python[:-1]
    return python


def _line_map(source: str, python: str) -> list[int] | None:
    """The line of ``source`` (1-based) each line of ``python`` comes from; None when they are the same.

    IPython drops leading blank lines and joins a magic's continuation lines: the rest is matched by text.
    """
    original, transformed = source.split("\n"), python.split("\n")
    if len(original) == len(transformed):
        return None

    def blank_head(lines: list[str]) -> int:
        return next((i for i, line in enumerate(lines) if line.strip()), len(lines))

    shift = max(blank_head(original) - blank_head(transformed), 0)
    rest = original[shift:]
    if len(rest) == len(transformed):
        return [shift + j + 1 for j in range(len(transformed))]
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in rest], [line.strip() for line in transformed],
                                      autojunk=False)
    lines = [1] * len(transformed)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            lines[j] = shift + min(i1 + (j - j1), max(i2 - 1, i1), len(rest) - 1) + 1
    return lines


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
            if name == "cd":
                flags.append((index + 1, R_CHDIR.format("%cd")))
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


def _dotdot(text: str) -> bool:
    """Whether ``text`` has ``..`` as a path component (``'../x'``, ``'a/../b'``; not ``'loss...'``)."""
    return ".." in re.split(r"[\\/]", text)


def _literal(node: ast.AST | None) -> bool:
    """A string (or bytes) literal: the scan can read it."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)


def _decoded(name: str, node: ast.AST) -> str | None:
    """The text a decoder call makes of its literal argument (nothing is run; None if it is not text)."""
    if not _literal(node):
        return None
    value = node.value
    data = value.encode() if isinstance(value, str) else value
    short = name.rsplit(".", 1)[-1]
    try:
        if short in ("fromhex", "unhexlify", "a2b_hex"):
            out = binascii.unhexlify(b"".join(data.split()))
        elif short in ("b64decode", "urlsafe_b64decode", "standard_b64decode", "b32decode", "b16decode",
                       "a85decode", "b85decode", "decodebytes", "a2b_base64"):
            out = getattr(base64 if hasattr(base64, short) else binascii, short)(data)
        elif short == "decompress" and name.startswith("zlib"):
            out = zlib.decompressobj().decompress(data, MAX_DECODED)
        elif short in ("decode", "encode") and isinstance(value, str):
            return codecs.decode(value, "rot13")
        else:
            return None
        return out[:MAX_DECODED].decode("utf-8")
    except Exception:  # not what it claims to be: nothing to scan
        return None


def _python_tree(source: str) -> ast.AST | None:
    """``source`` parsed as Python, or as IPython; None if it is neither."""
    for text in (source, _ipython_to_python(source)):
        if text is None:
            continue
        try:
            return ast.parse(text)
        except PARSE_ERRORS:
            continue
    return None


def _magic_code(line: str) -> ast.AST | None:
    """The Python statement of ``%time``/``%timeit -n 1 ...``: options are skipped until it parses."""
    words = line.split(" ")
    for start in range(len(words)):
        if not all(w.startswith("-") or re.fullmatch(r"[\w.]*", w) for w in words[:start]):
            break
        try:
            return ast.parse(" ".join(words[start:]).strip())
        except PARSE_ERRORS:
            continue
    return None


# ---------------------------------------------------------------------------------------------------------
# The AST scan


def _imports(tree: ast.AST) -> dict[str, str]:
    """name -> dotted module or object it is bound to by the imports in ``tree`` (and ``ip = get_ipython()``)."""
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
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Call) and not node.value.args):
            func = node.value.func
            if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) == "get_ipython":
                aliases[node.targets[0].id] = IPYTHON
    return aliases


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name ``tree`` binds (assignments, loops, arguments, definitions, imports)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
    return bound


class _Scanner(ast.NodeVisitor):
    """Collects (line, rule) findings of one cell."""

    def __init__(self, aliases: dict[str, str], from_checks: set[str]):
        self.aliases = dict(aliases)
        self.from_checks = from_checks
        self.found: list[tuple[int, str]] = []
        self.depth = 0  # inside a function or class
        self.parents: dict[ast.AST, ast.AST] = {}
        self.bound: set[str] = set()
        self.absolute_names: set[str] = set()  # names bound to the working folder as an absolute path

    def run(self, tree: ast.AST) -> list[tuple[int, str]]:
        """Scan ``tree``; its findings."""
        self.parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        self.bound = _bound_names(tree)
        self.visit(tree)
        return self.found

    def flag(self, node: ast.AST, rule: str) -> None:
        self.found.append((getattr(node, "lineno", 1), rule))

    def nested(self, node: ast.AST, tree: ast.AST | None) -> None:
        """Scan code hidden in a literal (``exec("...")``, a payload, a magic's body): found on ``node``'s line."""
        if tree is None:
            return
        inner = _Scanner(self.aliases, self.from_checks)
        inner.depth = self.depth
        self.found += [(node.lineno, rule) for _, rule in inner.run(tree)]

    def nested_source(self, node: ast.AST, source: str | bytes | None) -> None:
        if isinstance(source, bytes):
            source = source.decode("utf-8", errors="replace")
        if source:
            self.nested(node, _python_tree(source))

    # -- names --------------------------------------------------------------------------------------------

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for (``np.testing`` -> ``numpy.testing``), if it is one."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript) and _literal(node.slice):
            key, namespace = str(node.slice.value), self.namespace_of(node.value)
            if self.resolve(node.value) == "sys.modules":  # sys.modules["course.checks"]
                return key
            return f"{namespace}.{key}" if namespace else None  # vars(builtins)["exec"]
        if isinstance(node, ast.Call):
            called = self.resolve(node.func)
            if called in IMPORT_CALLS and node.args:
                return node.args[0].value if _literal(node.args[0]) and isinstance(node.args[0].value, str) else None
            if called in ("globals", "locals", "vars") and not node.args:
                return GLOBALS
            if called in IPYTHON_GETTERS and not node.args:
                return IPYTHON
            if called in GETATTR_CALLS and len(node.args) >= 2:  # getattr(checks, "check_close")
                base, attr = self.resolve(node.args[0]), node.args[1]
                return f"{base}.{attr.value}" if base and _literal(attr) and isinstance(attr.value, str) else None
        return None

    def guarded(self, node: ast.AST) -> str | None:
        """The dotted name of ``node`` when it is (part of) a module the tests rely on."""
        if isinstance(node, ast.Call) and self.resolve(node.func) == "vars" and node.args:
            return self.guarded(node.args[0])
        if isinstance(node, ast.Call) and self.resolve(node.func) in GETATTR_CALLS and node.args:
            base = self.guarded(node.args[0])
            if not base:
                return None
            if len(node.args) > 1 and not _literal(node.args[1]):
                return f"{base}.{COMPUTED}"
        dotted = self.resolve(node)
        if dotted and dotted.split(".")[0] in GUARDED:
            if isinstance(node, ast.Name) and node.id not in self.aliases and node.id != "builtins":
                return None  # a plain name that was never imported: the student's own variable
            return dotted
        return None

    def namespace_of(self, node: ast.AST) -> str | None:
        """The module whose namespace ``node`` is (``vars(m)``, ``m.__dict__``, ``__builtins__``), if it is."""
        if isinstance(node, ast.Call) and self.resolve(node.func) == "vars" and node.args:
            return self.resolve(node.args[0]) if self.module_like(node.args[0]) else None
        dotted = self.resolve(node)
        if dotted == "builtins":  # __builtins__ is a dict outside the notebook's own namespace
            return dotted
        if isinstance(node, ast.Attribute) and node.attr == "__dict__" and self.module_like(node.value):
            return self.resolve(node.value)
        return None

    def module_like(self, node: ast.AST) -> bool:
        """Whether ``node`` is a module (imported, ``sys.modules[...]``, ``__import__(...)``) or the shell."""
        if isinstance(node, ast.Subscript) and self.resolve(node.value) == "sys.modules":
            return True
        if isinstance(node, ast.Call) and self.resolve(node.func) in IMPORT_CALLS:
            return True
        if _is_ipython(self.resolve(node)):
            return True
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        return isinstance(root, ast.Name) and (root.id in self.aliases or root.id == "builtins")

    def sensitive(self, node: ast.AST) -> str | None:
        """The dotted name of a Name or Attribute worth following through an assignment (``run = exec``)."""
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            return None
        dotted = self.resolve(node)
        if dotted and (root.id in self.aliases or dotted in SENSITIVE_BUILTINS):
            return dotted
        return None

    def absolute(self, node: ast.AST) -> bool:
        """Whether ``node`` holds the working folder (or another place) as an absolute path."""
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                if self.resolve(child.func) in ABSOLUTE_CALLS | HOME_CALLS:
                    return True
                if isinstance(child.func, ast.Attribute) and child.func.attr in ABSOLUTE_METHODS:
                    return True
            elif isinstance(child, ast.Name) and (child.id == "__file__" or child.id in self.absolute_names):
                return True
        return False

    def goes_up(self, node: ast.AST) -> bool:
        """``Path.cwd().parent``, ``os.path.dirname(os.getcwd())``: a folder above the working folder."""
        if isinstance(node, ast.Attribute) and node.attr in ("parent", "parents"):
            return self.absolute(node.value)
        if isinstance(node, ast.Call) and self.resolve(node.func) == "os.path.dirname" and node.args:
            return self.absolute(node.args[0])
        return False

    def only_text(self, node: ast.AST) -> bool:
        """Whether a string literal is used as text (a message, a comparison, a split), not as a path."""
        child, parent = node, self.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.Expr | ast.Compare | ast.Assert | ast.Raise | ast.Subscript):
                return True
            if isinstance(parent, ast.Attribute):  # a method of the literal: 'a/../b'.replace(...)
                return parent.attr != "format"
            if isinstance(parent, ast.Call):
                if child is parent.func:
                    return False
                name = self.resolve(parent.func) or ""
                method = isinstance(parent.func, ast.Attribute) and parent.func.attr in TEXT_METHODS
                return (name in TEXT_CALLS or name.startswith("logging.")
                        or (method and not self.module_like(parent.func.value)))  # os.path.split: a path
            if not isinstance(parent, ast.keyword | ast.JoinedStr | ast.FormattedValue | ast.BinOp | ast.List
                              | ast.Tuple | ast.Set | ast.Dict | ast.Starred | ast.IfExp | ast.BoolOp):
                return False
            child, parent = parent, self.parents.get(parent)
        return False

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
            elif base == "sys" and node.attr in SYS_HOOKS:
                self.flag(node, R_TRACE.format(f"sys.{node.attr}"))
            elif self.guarded(node.value):
                self.flag(node, R_PATCH.format(f"{self.guarded(node.value)}.{node.attr}"))
            elif _is_ipython(base) and node.attr not in IPYTHON_HOOK_ATTRS:  # those: visit_Attribute
                self.flag(node, R_IPYTHON.format(f"sets {base}.{node.attr}"))
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
            elif _is_ipython(base):
                self.flag(node, R_IPYTHON.format(f"sets {base}[...]"))
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
            name = node.targets[0].id
            if isinstance(node.value, ast.Call):  # c = importlib.import_module("course.checks"); globals()
                value = self.resolve(node.value)
                value = value if value in (GLOBALS, IPYTHON) or (value and value.split(".")[0] in GUARDED) else None
            else:  # t = np.testing; run = exec
                value = self.guarded(node.value) or self.sensitive(node.value)
            if value:
                self.aliases[name] = value
            if self.absolute(node.value):  # here = Path.cwd()
                self.absolute_names.add(name)
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
        for decorator in node.decorator_list:  # @register_cell_magic (a call is visit_Call's)
            if not isinstance(decorator, ast.Call):
                self.ipython_function(decorator, self.resolve(decorator) or "")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    # -- names and attributes -------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and HISTORY_NAMES.fullmatch(node.id) and node.id not in self.bound:
            self.flag(node, R_HISTORY.format(node.id))
        if self.aliases.get(node.id, "").removeprefix("sys.") in SYS_IMPORT_HOOKS and node.id not in self.bound:
            self.flag(node, R_TRACE.format(self.aliases[node.id]))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = self.resolve(node.value)
        if node.attr in IPYTHON_HOOK_ATTRS:
            self.flag(node, R_IPYTHON.format(node.attr))
        elif node.attr in NAMESPACE_ATTRS:
            self.flag(node, R_NAMESPACE.format(f"{base}.{node.attr}" if base else node.attr))
        elif node.attr == "history_manager" or (base in ("__main__", "builtins", IPYTHON)
                                                and HISTORY_NAMES.fullmatch(node.attr)):
            self.flag(node, R_HISTORY.format(node.attr))
        elif base == "sys" and node.attr in SYS_IMPORT_HOOKS:
            self.flag(node, R_TRACE.format(f"sys.{node.attr}"))
        elif base == "course" and node.attr == "lockout":
            self.flag(node, R_LOCKOUT.format(LOCKOUT))
        elif self.goes_up(node):
            self.flag(node, R_PATH.format("a folder above the working folder"))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and self.resolve(node.value) == GLOBALS and _literal(node.slice):
            if HISTORY_NAMES.fullmatch(str(node.slice.value)):  # globals()["_ih"]
                self.flag(node, R_HISTORY.format(node.slice.value))
        elif isinstance(node.ctx, ast.Load) and not _literal(node.slice):  # vars(checks)["check_" + kind]
            module = self.namespace_of(node.value)
            if module and module.split(".")[0] not in DYNAMIC_LOOKUP_MODULES:
                self.flag(node, R_LOOKUP.format(f"vars({module})[...]"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _dotdot(node.value) and not self.only_text(node):
            self.flag(node, R_PATH.format(f"'..' in {node.value!r}"))

    # -- imports --------------------------------------------------------------------------------------------

    def imported(self, node: ast.AST, module: str) -> None:
        if module == LOCKOUT or module.startswith(LOCKOUT + "."):
            self.flag(node, R_LOCKOUT.format(f"imports {module}"))
            return
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
            self.imported(node, full if module in ("http", "course") else module)
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
        self.hidden_code(node, name)
        if isinstance(node.func, ast.Attribute):
            self.method(node, node.func)
        self.generic_visit(node)

    def call(self, node: ast.Call, name: str) -> None:
        args = list(node.args) + [keyword.value for keyword in node.keywords]
        if name in CHDIR_CALLS:
            self.flag(node, R_CHDIR.format(name))
        if name in HOME_CALLS:
            self.flag(node, R_PATH.format("the home folder"))
        if name in SETATTR_CALLS and node.args:
            self.set_attribute(node, name)
        elif name in GETATTR_CALLS and len(node.args) >= 2:
            module = self.resolve(node.args[0]) or "a module"
            if (not _literal(node.args[1]) and self.module_like(node.args[0])
                    and module.split(".")[0] not in DYNAMIC_LOOKUP_MODULES):
                self.flag(node, R_LOOKUP.format(f"{name}({module}, ...)"))
        elif name.startswith(("unittest.mock.patch", "mock.patch", "pytest.MonkeyPatch")):
            self.flag(node, R_PATCH.format(name))
        elif name in RELOAD_CALLS:
            self.flag(node, R_RELOAD)
        elif name in TRACE_CALLS or name.startswith("sys.monitoring."):
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
        elif name in IMPORT_CALLS and node.args:
            module = self.resolve(node)
            if module:
                self.imported(node, module)
            else:
                self.flag(node, R_IMPORT.format(name))
        elif name.startswith(("IPython.core.magic.", "IPython.core.history.")):
            self.ipython_function(node, name)
        elif self.goes_up(node):
            self.flag(node, R_PATH.format("a folder above the working folder"))
        elif name in READ_CALLS or name.startswith(READ_PREFIXES) or name in WRITE_CALLS:
            self.file_call(node, name)

    def set_attribute(self, node: ast.Call, name: str) -> None:
        """``setattr``/``delattr`` on a module the tests use, ``sys``, the shell, or a module by a computed name."""
        obj = node.args[0]
        target = self.guarded(obj) or ("sys" if self.resolve(obj) == "sys" else None)
        if target:
            self.flag(node, R_PATCH.format(f"{name}({target}, ...)"))
        elif _is_ipython(self.resolve(obj)):
            self.flag(node, R_IPYTHON.format(f"{name}({self.resolve(obj)}, ...)"))
        elif (len(node.args) < 2 or not _literal(node.args[1])) and self.module_like(obj):
            self.flag(node, R_SETATTR.format(f"{name}({self.resolve(obj) or 'a module'}, ...)"))

    def ipython_function(self, node: ast.AST, name: str) -> None:
        """IPython's magic registration and history reader, used directly."""
        last = name.rsplit(".", 1)[-1]
        if name.startswith("IPython.core.magic.") and (last.startswith("register") or last == "magics_class"):
            self.flag(node, R_IPYTHON.format(name))
        elif name.startswith("IPython.core.history."):
            self.flag(node, R_HISTORY.format(name))

    def hidden_code(self, node: ast.Call, name: str) -> None:
        """Code the scan cannot read (flagged), or can once decoded (scanned)."""
        first = node.args[0] if node.args else None
        if name in EXEC_CALLS and first is not None:
            if _literal(first):
                self.nested_source(node, first.value)
            else:
                self.flag(node, R_EXEC.format(f"{name} of a string the code builds"))
        elif name in DECODE_CALLS or name.startswith(DECODE_PREFIXES) or (
                name.startswith("base64.") and "decode" in name):
            self.flag(node, R_DECODE.format(name))
            if first is not None:
                self.nested_source(node, _decoded(name, first))
        elif name in CODEC_CALLS:
            index = 1 if name in ("codecs.decode", "codecs.encode", "codecs.iterdecode") else 0
            codec = node.args[index] if len(node.args) > index else next(
                (k.value for k in node.keywords if k.arg == "encoding"), None)
            if codec is None:
                return
            if not _literal(codec) or str(codec.value).lower().replace("-", "_") in HIDING_CODECS:
                self.flag(node, R_DECODE.format(f"{name} {codec.value}" if _literal(codec) else name))
                if first is not None and _literal(codec) and "rot" in str(codec.value):
                    self.nested_source(node, _decoded(name, first))
        elif name in UNPICKLE_CALLS:
            self.flag(node, R_UNPICKLE.format(name))

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
            if self.goes_up(child):
                return "a folder above the working folder"
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
        if func.attr == "get" and self.resolve(receiver) == GLOBALS and node.args and _literal(node.args[0]):
            if HISTORY_NAMES.fullmatch(str(node.args[0].value)):  # globals().get("_ih")
                self.flag(node, R_HISTORY.format(node.args[0].value))
        if func.attr == "fromhex" and self.resolve(func) not in DECODE_CALLS:  # b"".fromhex(...)
            self.flag(node, R_DECODE.format(".fromhex"))
            if node.args:
                self.nested_source(node, _decoded(".fromhex", node.args[0]))
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
        elif _is_ipython(self.resolve(receiver)):
            self.shell_method(node, f"{self.resolve(receiver)}.{func.attr}", func.attr)

    def shell_method(self, node: ast.Call, name: str, method: str) -> None:
        """A method of ``get_ipython()`` (or of something it holds): shell, magics, hooks, namespace."""
        if method in ("system", "getoutput", "system_raw", "system_piped"):
            self.flag(node, R_SHELL)
        elif method in ("run_line_magic", "run_cell_magic", "magic"):
            self.magic(node, method)
        elif method in IPYTHON_EXEC_METHODS:
            if node.args and _literal(node.args[0]):
                self.nested_source(node, node.args[0].value)
            elif node.args:
                self.flag(node, R_EXEC.format(f"{name} of a string the code builds"))
        elif method in IPYTHON_HOOK_METHODS:
            self.flag(node, R_IPYTHON.format(name))
        elif method in NAMESPACE_METHODS:
            self.flag(node, R_NAMESPACE.format(name))

    def magic(self, node: ast.Call, method: str) -> None:
        """``get_ipython().run_line_magic(name, line)`` and ``run_cell_magic(name, line, body)``: what %magics run."""
        texts = [arg.value if _literal(arg) and isinstance(arg.value, str) else None for arg in node.args]
        if not texts:
            return
        if texts[0] is None:
            self.flag(node, R_EXEC.format(f"get_ipython().{method} of a magic the code chooses"))
            return
        if method == "magic":  # get_ipython().magic("sx ls"): the old spelling
            name, _, line = texts[0].lstrip("%").partition(" ")
        else:
            name, line = texts[0], texts[1] if len(texts) > 1 else ""
        words = line.split() if line is not None else []
        if name in SHELL_LINE_MAGICS | SHELL_CELL_MAGICS:
            self.flag(node, R_SHELL)
        elif method == "run_cell_magic":
            body = texts[2] if len(texts) > 2 else ""
            if name in ("writefile", "file") and words:
                problem = _path_problem([words[-1].strip("'\"")])
                if problem:
                    self.flag(node, R_WRITE.format(problem))
                if words[-1].strip("'\"").endswith(".py"):  # a module the notebook may import next
                    self.nested_source(node, body)
            elif name not in NON_PYTHON_CELL_MAGICS:
                if body is None:
                    self.flag(node, R_EXEC.format(f"%%{name} of a body the code builds"))
                else:
                    self.nested_source(node, body)
        elif name in HISTORY_MAGICS or (name == "load" and words and re.fullmatch(r"[\d\s,:/-]+", words[-1])):
            self.flag(node, R_HISTORY.format(f"%{name}"))
        elif name in PATH_LINE_MAGICS:
            problem = _path_problem([words[-1].strip("'\"")]) if words else None
            if problem:
                self.flag(node, R_READ.format(problem))
            if name == "cd":
                self.flag(node, R_CHDIR.format("%cd"))
        elif name in PYTHON_LINE_MAGICS:
            if line is None:
                self.flag(node, R_EXEC.format(f"%{name} of code the code builds"))
            else:
                self.nested(node, _magic_code(line))

    def makes_path(self, node: ast.AST) -> bool:
        return any(isinstance(child, ast.Call) and self.resolve(child.func) in PATH_NAMES
                   for child in ast.walk(node))


def _is_ipython(dotted: str | None) -> bool:
    """Whether a resolved name is the IPython shell, something it holds, or IPython's own code."""
    return bool(dotted) and (dotted == IPYTHON or dotted.startswith(IPYTHON + ".")
                             or dotted.split(".")[0] in ("IPython", "ipykernel"))


# ---------------------------------------------------------------------------------------------------------
# When a cell does not parse


@functools.cache
def _fallback_rules() -> list[tuple[re.Pattern, str]]:
    guarded = r"(np|numpy|tf|tensorflow|keras|course|checks|builtins|__builtins__|unittest|pytest)"
    names = "|".join(sorted(check_names() | PROTECTED_BUILTINS)) or "AssertionError"
    no_literal = r"\s*\(\s*(?![rRbBuUfF]{0,2}['\"])"
    return [
        (rf"^\s*{guarded}(\.\w+)+\s*=(?!=)|\bsetattr\s*\(\s*{guarded}\b|__builtins__\s*\[.*\]\s*=(?!=)",
         R_PATCH.format("an attribute of a module the tests use")),
        (rf"^\s*(def|class)\s+({names})\b|^\s*({names})\s*=(?!=)", R_SHADOW.format("a name")),
        (r"\bsys\.modules\s*(\[.*\]\s*=(?!=)|\.\s*(pop|update|setdefault|clear|popitem)\b|=(?!=))"
         r"|\bdel\s+sys\.modules", R_MODULES),
        (r"\b(importlib|imp)\.reload\b", R_RELOAD),
        (r"\b(sys|threading)\.(settrace|setprofile)\b", R_TRACE.format("settrace/setprofile")),
        (r"\bsys\.(excepthook|displayhook)\s*=(?!=)|\bsys\.(meta_path|path_hooks)\b",
         R_TRACE.format("sys.excepthook/displayhook/meta_path")),
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
        (rf"(?<![\w.])(exec|eval|compile){no_literal}", R_EXEC.format("exec/eval/compile")),
        (rf"(?<![\w.])__import__{no_literal}|\bimport_module{no_literal}", R_IMPORT.format("__import__")),
        (r"\.fromhex\s*\(|\bunhexlify\b|\ba2b_\w+\s*\(|\b(b64|b32|b16|a85|b85)decode\b|\bdecodebytes\b"
         r"|\bzlib\.decompress\b|['\"]rot_?13['\"]", R_DECODE.format("hex/base64/rot13/zlib")),
        (r"\b(marshal|pickle)\.loads?\s*\(", R_UNPICKLE.format("pickle/marshal")),
        (r"\b(input_transformers_\w+|ast_transformers)\b|\.events\.register\b|\bset_custom_exc\b"
         r"|\bregister_magic_function\b|\bset_hook\b", R_IPYTHON.format("transformers/events/hooks")),
        (r"(?<![\w.])(_ih|_oh|_i\d+)\b|\bhistory_manager\b", R_HISTORY.format("_ih/_oh/history_manager")),
        (r"\b(cwd|getcwd|resolve|absolute)\(\)\s*\.parents?\b", R_PATH.format("a folder above the working folder")),
        (r"\bos\.chdir\s*\(", R_CHDIR.format("os.chdir")),
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


@dataclass
class _Parsed:
    """A cell, parsed: a tree (or, when it does not parse, the text to match), and flags found on the way."""

    tree: ast.AST | None = None
    text: str | None = None  # without a tree: the source matched line by line
    flags: list[tuple[int, str]] = field(default_factory=list)  # on the cell's own lines
    lines: list[int] | None = None  # the cell's line of each line of the tree's source (None: the same)

    def line(self, number: int) -> int:
        """The cell's line of line ``number`` of the tree's source."""
        return self.lines[number - 1] if self.lines and 0 < number <= len(self.lines) else number


def _parse(source: str) -> _Parsed:
    """A cell as Python: as it is, else with IPython's syntax turned into Python, else cleaned by hand."""
    try:
        return _Parsed(ast.parse(source))
    except PARSE_ERRORS:
        pass
    magic = _cell_magic(source)
    if magic is not None:
        first, name, words = magic
        if name in SHELL_CELL_MAGICS:
            return _Parsed(flags=[(first + 1, R_SHELL)])
        lines = source.split("\n")
        lines[first] = ""  # the body, on its own lines
        body = "\n".join(lines)
        if name in NON_PYTHON_CELL_MAGICS:
            flags = []
            target = words[-1].strip("'\"") if name in ("writefile", "file") and words else ""
            problem = _path_problem([target]) if target else None
            if problem:
                flags.append((first + 1, R_WRITE.format(problem)))
            if not target.endswith(".py"):
                return _Parsed(flags=flags)
            parsed = _parse(body)  # %%writefile helper.py: a module the notebook may import next
            parsed.flags[:0] = flags
            return parsed
        return _parse(body)
    python = _ipython_to_python(source)
    if python is not None:
        try:
            return _Parsed(ast.parse(python), lines=_line_map(source, python))
        except PARSE_ERRORS:
            pass
    cleaned, flags = _clean(source)
    if cleaned is None:
        return _Parsed(flags=flags)
    try:
        return _Parsed(ast.parse(cleaned), flags=flags)
    except PARSE_ERRORS:
        return _Parsed(text=cleaned, flags=flags)


def _findings(parsed: _Parsed, aliases: dict[str, str], from_checks: set[str]) -> list[tuple[int, str]]:
    """(line of the cell, rule) of everything suspicious in a parsed cell, sorted."""
    found = list(parsed.flags)
    if parsed.tree is not None:
        scanner = _Scanner(aliases, from_checks)
        try:
            scanner.run(parsed.tree)
        except RecursionError:  # 1+1+...+1 twenty thousand times: what was found so far, and this
            scanner.found.append((1, R_UNREADABLE))
        found += [(parsed.line(line), rule) for line, rule in scanner.found]
    elif parsed.text is not None:
        found += _scan_text(parsed.text)
    # A path already reported as read, written, deleted or run by a shell needs no second flag.
    specific = tuple(rule.split("{")[0] for rule in (R_READ, R_WRITE, R_DELETE, R_CHDIR, R_SHELL))
    busy = {line for line, rule in found if rule.startswith(specific)}
    return sorted((line, rule) for line, rule in found
                  if not (rule.startswith(R_PATH.split("{")[0]) and line in busy))


def _flags(found: list[tuple[int, str]], source: str, name: str, label: str,
           seen: set[tuple[str, int, str]]) -> list[Flag]:
    """Findings as flags, each once."""
    lines = source.split("\n")
    flags = []
    for line, rule in found:
        key = (label, line, rule)
        if key in seen:
            continue
        seen.add(key)
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        flags.append(Flag(name, label, line, code, rule))
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
            parsed[index] = _parse(cell.source)
            if parsed[index].tree is not None:
                aliases.update(_imports(parsed[index].tree))
    from_checks = {name for name, target in aliases.items() if target == f"course.checks.{name}"}

    flags: list[Flag] = []
    seen: set[tuple[str, int, str]] = set()
    for index in _student_cells(nb, release):
        cell = nb.cells[index]
        label = grade_id(cell) or cell.get("id") or f"cell {index}"
        flags += _flags(_findings(parsed[index], aliases, from_checks), cell.source, notebook_name, label, seen)
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
        flags.append(Flag(name, "file", 0, "", R_MODULE_FILE.format(top)))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" in text:
        text = None
    python = path.suffix.lower() in PYTHON_SUFFIXES
    if not python or text is None:
        flags.append(Flag(name, "file", 0, "", R_EXTRA.format(name, len(content))))
    if text is None:
        return flags
    if not python:
        try:
            ast.parse(text)
        except PARSE_ERRORS:
            return flags
    parsed = _parse(text)
    aliases = dict(DEFAULT_ALIASES)
    if parsed.tree is not None:
        aliases.update(_imports(parsed.tree))
    from_checks = {alias for alias, target in aliases.items() if target == f"course.checks.{alias}"}
    return flags + _flags(_findings(parsed, aliases, from_checks), text, name, "file", set())
