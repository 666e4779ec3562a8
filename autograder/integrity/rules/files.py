"""Files: reading, writing or deleting outside the submission folder, paths that leave it, ``chdir``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.ipython import PATH_LINE_MAGICS, WRITE_CELL_MAGICS
from autograder.integrity.names import string_parts
from autograder.integrity.paths import dotdot, path_problem
from autograder.integrity.rules.base import Rule, Scope, magic, text_of, words_of

CHDIR_CALLS = {"os.chdir", "os.fchdir"}
DELETE_CALLS = {"os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.rename", "os.renames",
                "os.replace", "os.truncate", "shutil.rmtree", "shutil.move"}
DELETE_METHODS = {"unlink", "rmdir"}  # of a path, whatever it is
RENAME_METHODS = {"rename", "replace"}  # of something built with Path(...)
# Functions that take a path as first argument: reading (or listing) it, or writing it.
READ_CALLS = {"open", "io.open", "builtins.open", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt",
              "numpy.fromfile", "numpy.memmap", "os.listdir", "os.scandir", "os.walk", "os.chdir",
              "glob.glob", "glob.iglob", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree",
              "keras.models.load_model", "keras.saving.load_model", "tensorflow.keras.models.load_model",
              "scipy.io.loadmat", "h5py.File", "PIL.Image.open", "joblib.load"}
READ_PREFIXES = ("pandas.read_",)
WRITE_CALLS = {"numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "joblib.dump"}
OPEN_CALLS = {"open", "io.open", "builtins.open"}  # their second argument is the mode
PATH_KEYWORDS = ("file", "fname", "path", "filepath", "src", "name")
PATH_READ_METHODS = {"read_text", "read_bytes", "iterdir", "glob", "rglob"}
PATH_WRITE_METHODS = {"write_text", "write_bytes", "touch", "mkdir", "savefig", "save", "save_weights",
                      "to_csv", "to_pickle", "to_json", "to_parquet", "to_excel"}
PATH_NAMES = {"pathlib.Path", "Path", "pathlib.PurePath"}
# Calls that give the working folder as an absolute path, or the home folder.
ABSOLUTE_CALLS = {"pathlib.Path.cwd", "Path.cwd", "os.getcwd", "os.getcwdb", "os.path.abspath", "os.path.realpath",
                  "pathlib.Path.absolute", "pathlib.Path.resolve"}
ABSOLUTE_METHODS = {"resolve", "absolute", "cwd", "home", "expanduser"}
HOME_CALLS = {"pathlib.Path.home", "Path.home", "os.path.expanduser"}
ENVIRONMENT_CALLS = HOME_CALLS | {"os.getenv"}  # a path built from them is the home folder's, or anyone's
# Calls whose string arguments are only text (a message, a split), not a path.
TEXT_CALLS = {"print", "str", "repr", "len", "format", "display", "warnings.warn", "IPython.display.display",
              "IPython.display.Markdown", "IPython.display.HTML"}
TEXT_METHODS = {"format", "replace", "split", "rsplit", "strip", "lstrip", "rstrip", "startswith", "endswith",
                "count", "find", "rfind", "index", "rindex", "partition", "rpartition", "removeprefix",
                "removesuffix", "write", "info", "debug", "warning", "error", "critical", "exception", "log",
                "set_title", "set_xlabel", "set_ylabel", "title", "xlabel", "ylabel", "suptitle", "text",
                "annotate", "legend"}
# A literal inside one of these is still part of the expression around it.
PASS_THROUGH = (ast.keyword, ast.JoinedStr, ast.FormattedValue, ast.BinOp, ast.List, ast.Tuple, ast.Set, ast.Dict,
                ast.Starred, ast.IfExp, ast.BoolOp)

R_READ = "reads files outside the submission folder ({})"
R_WRITE = "writes files outside the submission folder ({})"
R_DELETE = "deletes or renames files ({})"
R_PATH = "builds a path that leaves the submission folder ({})"
R_CHDIR = "changes the working folder ({})"
ABOVE = "a folder above the working folder"


class Files(Rule):
    """Reads, writes and deletes, paths above the working folder or in the home folder, ``..``, ``chdir``."""

    id = "files"
    reads = (ast.Assign, ast.Attribute, ast.Constant, ast.Call)

    def __init__(self, scope: Scope):
        super().__init__(scope)
        self.absolute_names: set[str] = set()  # names bound to the working folder as an absolute path

    def check(self, node: ast.AST) -> Iterator[Finding]:
        if isinstance(node, ast.Assign):  # here = Path.cwd()
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and self.absolute(node.value):
                self.absolute_names.add(node.targets[0].id)
        elif isinstance(node, ast.Attribute):
            if self.goes_up(node):
                yield self.found(node, R_PATH.format(ABOVE))
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and dotdot(node.value) and not self.only_text(node):
                yield self.found(node, R_PATH.format(f"'..' in {node.value!r}"))
        else:
            yield from self.call(node)
            if isinstance(node.func, ast.Attribute):
                yield from self.method(node, node.func)
            yield from self.magic(node)

    def call(self, node: ast.Call) -> Iterator[Finding]:
        name = self.names.called(node)
        if name in CHDIR_CALLS:
            yield self.found(node, R_CHDIR.format(name))
        if name in HOME_CALLS:
            yield self.found(node, R_PATH.format("the home folder"))
        if name in DELETE_CALLS:
            yield self.found(node, R_DELETE.format(name))
        elif self.goes_up(node):
            yield self.found(node, R_PATH.format(ABOVE))
        elif name in READ_CALLS or name.startswith(READ_PREFIXES) or name in WRITE_CALLS:
            yield from self.file_call(node, name)

    def file_call(self, node: ast.Call, name: str) -> Iterator[Finding]:
        first = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg in PATH_KEYWORDS), None)
        if first is None:
            return
        mode = node.args[1] if len(node.args) > 1 and name in OPEN_CALLS else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        writes = name in WRITE_CALLS
        if mode is not None:
            writes = writes or any(c in "".join(string_parts(mode)) for c in "wax+")
        problem = self.path_problem(first)
        if problem:
            yield self.found(node, (R_WRITE if writes else R_READ).format(problem))
        if name.startswith("shutil.copy") and len(node.args) > 1:
            problem = self.path_problem(node.args[1])
            if problem:
                yield self.found(node, R_WRITE.format(problem))

    def method(self, node: ast.Call, func: ast.Attribute) -> Iterator[Finding]:
        receiver = func.value
        if func.attr in DELETE_METHODS:
            yield self.found(node, R_DELETE.format(f".{func.attr}()"))
        elif func.attr in RENAME_METHODS and self.makes_path(receiver):
            yield self.found(node, R_DELETE.format(f"Path.{func.attr}()"))
        elif func.attr in PATH_READ_METHODS | PATH_WRITE_METHODS:
            target = receiver if func.attr in PATH_READ_METHODS or self.makes_path(receiver) else None
            problem = self.path_problem(target) if target is not None else None
            if problem is None and func.attr in PATH_WRITE_METHODS and node.args:
                problem = self.path_problem(node.args[0])
            if problem:
                yield self.found(node, (R_READ if func.attr in PATH_READ_METHODS else R_WRITE).format(problem))

    def magic(self, node: ast.Call) -> Iterator[Finding]:
        """``%%writefile /tmp/x``, ``%run ../x.py``, ``%cd``."""
        run = magic(self.names, node)
        if run is None or run.name is None or run.shell or run.reads_history:
            return
        words = run.words
        target = words[-1].strip("'\"") if words else ""
        if run.cell and run.name in WRITE_CELL_MAGICS and target:
            problem = path_problem([target])
            if problem:
                yield self.found(node, R_WRITE.format(problem))
        elif not run.cell and run.name in PATH_LINE_MAGICS:
            problem = path_problem([target]) if target else None
            if problem:
                yield self.found(node, R_READ.format(problem))
            if run.name == "cd":
                yield self.found(node, R_CHDIR.format("%cd"))

    # -- where a path leads ---------------------------------------------------------------------------------

    def path_problem(self, node: ast.AST) -> str | None:
        for child in ast.walk(node):
            if isinstance(child, ast.Call) and self.names.resolve(child.func) in ENVIRONMENT_CALLS:
                return "the home folder"
            if isinstance(child, ast.Subscript) and self.names.resolve(child.value) == "os.environ":
                return "a path from the environment"
            if self.goes_up(child):
                return ABOVE
        return path_problem(string_parts(node))

    def absolute(self, node: ast.AST) -> bool:
        """Whether ``node`` holds the working folder (or another place) as an absolute path."""
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                if self.names.resolve(child.func) in ABSOLUTE_CALLS | HOME_CALLS:
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
        if isinstance(node, ast.Call) and self.names.resolve(node.func) == "os.path.dirname" and node.args:
            return self.absolute(node.args[0])
        return False

    def makes_path(self, node: ast.AST) -> bool:
        return any(isinstance(child, ast.Call) and self.names.resolve(child.func) in PATH_NAMES
                   for child in ast.walk(node))

    def only_text(self, node: ast.AST) -> bool:
        """Whether a string literal is used as text (a message, a comparison, a split), not as a path."""
        names = self.names
        child, parent = node, names.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.Expr | ast.Compare | ast.Assert | ast.Raise | ast.Subscript):
                return True
            if isinstance(parent, ast.Attribute):  # a method of the literal: 'a/../b'.replace(...)
                return parent.attr != "format"
            if isinstance(parent, ast.Call):
                if child is parent.func:
                    return False
                name = names.resolve(parent.func) or ""
                method = isinstance(parent.func, ast.Attribute) and parent.func.attr in TEXT_METHODS
                return (name in TEXT_CALLS or name.startswith("logging.")
                        or (method and not names.module_like(parent.func.value)))  # os.path.split: a path
            if not isinstance(parent, PASS_THROUGH):
                return False
            child, parent = parent, names.parents.get(parent)
        return False

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        absolute = {name.rsplit(".", 1)[-1] for name in ABSOLUTE_CALLS} | ABSOLUTE_METHODS
        return [
            (text_of(DELETE_CALLS) + rf"|\.({words_of(DELETE_METHODS)})\s*\(",
             R_DELETE.format("os.remove/shutil.rmtree/...")),
            (r"\bopen\s*\(\s*[rRbBuUfF]{0,2}['\"](/|~|\.\.|[A-Za-z]:\\)", R_READ.format("a path outside the "
                                                                                        "submission folder")),
            (rf"\b({words_of(absolute)})\(\)\s*\.parents?\b", R_PATH.format(ABOVE)),
            (text_of(CHDIR_CALLS), R_CHDIR.format("os.chdir")),
        ]
