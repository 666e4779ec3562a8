"""autograder.integrity: the static scan flags code that games the tests, and leaves honest code alone."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.integrity import BY_TEXT, Flag, check_names, scan, scan_file

ROOT = Path(__file__).resolve().parents[3]
PRELUDE = "\n".join(["import numpy as np", "import keras", "import tensorflow as tf",
                     "from course import checks", "import os", "import sys"])
TEST_CELL = 'from course import checks\nchecks.check_close(double(2), 4, name="double(2)")'


def _nbgrader(cell, gid: str, **flags):
    meta = {"grade": False, "solution": False, "locked": False, "grade_id": gid, "schema_version": 3}
    meta.update(flags)
    cell.metadata["nbgrader"] = meta
    cell["id"] = gid
    return cell


def notebook(answer: str, prelude: str = PRELUDE):
    """A notebook like the course's: imports, an answer cell holding ``answer``, a locked test cell."""
    imports = new_code_cell(prelude)
    imports["id"] = "imports"
    return new_notebook(cells=[
        new_markdown_cell("# Exercise 1"),
        imports,
        _nbgrader(new_code_cell(answer), "ex1-double", solution=True),
        _nbgrader(new_code_cell(TEST_CELL), "ex1-tests", grade=True, locked=True, points=2),
    ])


def rules(answer: str) -> list[str]:
    return [flag.rule for flag in scan(notebook(answer), "nb.ipynb")]


POSITIVE = {
    # changing test machinery
    "patch checks": ("checks.check_close = lambda *a, **k: None",
                     "changes test machinery: course.checks.check_close"),
    "patch re-imported checks": ("from course import checks\nchecks.check_array = lambda v, **k: v",
                                 "changes test machinery: course.checks.check_array"),
    "patch np.testing": ("np.testing.assert_allclose = lambda *a, **k: None",
                         "changes test machinery: numpy.testing.assert_allclose"),
    "patch npt alias": ("import numpy.testing as npt\nnpt.assert_allclose = print",
                        "changes test machinery: numpy.testing.assert_allclose"),
    "patch via variable": ("t = np.testing\nt.assert_equal = print", "changes test machinery: numpy.testing"),
    "patch np.allclose": ("np.allclose = lambda *a, **k: True", "changes test machinery: numpy.allclose"),
    "patch keras": ("keras.layers.Dense = object", "changes test machinery: keras.layers.Dense"),
    "patch keras method": ("keras.Model.fit = lambda self, *a: None", "changes test machinery: keras.Model"),
    "patch tf": ("tf.clip_by_norm = lambda t, n: t", "changes test machinery: tensorflow.clip_by_norm"),
    "patch unittest": ("import unittest\nunittest.TestCase.assertEqual = print",
                       "changes test machinery: unittest.TestCase"),
    "patch builtins": ("import builtins\nbuiltins.AssertionError = Warning",
                       "changes test machinery: builtins.AssertionError"),
    "patch __builtins__ item": ('__builtins__["isinstance"] = lambda *a: True',
                                "changes test machinery: builtins[...]"),
    "patch __builtins__ attr": ("__builtins__.len = lambda x: 0", "changes test machinery: builtins.len"),
    "setattr": ('setattr(checks, "check_close", print)', "changes test machinery: setattr(course.checks"),
    "setattr builtins": ('import builtins\nsetattr(builtins, "len", print)', "changes test machinery: set"),
    "vars item": ('vars(checks)["check_close"] = print', "changes test machinery: vars(course.checks)"),
    "__dict__ update": ("checks.__dict__.update(check_close=print)",
                        "changes test machinery: course.checks.__dict__.update"),
    "mock.patch": ('from unittest import mock\nmock.patch.object(checks, "check_close").start()',
                   "changes test machinery: unittest.mock.patch.object"),
    "import_module": ("import importlib\nc = importlib.import_module('course.checks')\nc.check_close = print",
                      "changes test machinery: course.checks.check_close"),
    "getattr": ("getattr(checks, 'check_close').__code__ = (lambda *a, **k: None).__code__",
                "changes test machinery: course.checks.check_close.__code__"),
    "__code__": ("checks.check_close.__code__ = (lambda *a, **k: None).__code__",
                 "changes test machinery: course.checks.check_close.__code__"),
    "del attribute": ("del checks.check_close", "changes test machinery: course.checks.check_close"),
    # redefining what the tests use
    "shadow check": ("def check_close(*args, **kwargs):\n    pass", "redefines course.checks.check_close"),
    "shadow imported helper": ("from course.checks import dense_layers\ndense_layers = lambda model: []",
                               "redefines course.checks.dense_layers"),
    "shadow AssertionError": ("AssertionError = Warning", "redefines AssertionError"),
    "via globals()": ("g = globals()\ng['check_close'] = print", "redefines course.checks.check_close"),
    "globals().update": ("globals().update(AssertionError=Warning)", "redefines AssertionError"),
    "shadow np": ("np = None", "redefines np"),
    "shadow checks by import": ("import mylib as checks", "redefines checks"),
    # sys.modules, reload, hooks, frames
    "sys.modules item": ('sys.modules["course.checks"] = object()', "edits sys.modules"),
    "sys.modules del": ('del sys.modules["course"]', "edits sys.modules"),
    "sys.modules pop": ('sys.modules.pop("course.checks")', "edits sys.modules"),
    "sys.modules update": ('sys.modules.update({"course": None})', "edits sys.modules"),
    "sys.modules setdefault": ('sys.modules.setdefault("x", None)', "edits sys.modules"),
    "from sys import modules": ('from sys import modules\nmodules["course"] = None', "edits sys.modules"),
    "reload": ("import importlib\nimportlib.reload(checks)", "reloads a module"),
    "settrace": ("sys.settrace(lambda *a: None)", "installs an interpreter hook (sys.settrace)"),
    "setprofile": ("sys.setprofile(print)", "installs an interpreter hook (sys.setprofile)"),
    "gc": ("import gc\nobjects = gc.get_objects()", "looks into the grader's frames or objects (gc"),
    "inspect": ("import inspect\nframes = inspect.stack()", "looks into the grader's frames or objects"),
    "getframe": ("caller = sys._getframe(1)", "looks into the grader's frames or objects (sys._getframe)"),
    # files outside the submission
    "read /etc": ('text = open("/etc/passwd").read()', "reads files outside the submission folder (absolute"),
    "read ..": ('nb = open("../../source/01/01.ipynb").read()', "reads files outside the submission folder"),
    "read autograded": ('nb = open("autograded/bob/01/01.ipynb").read()',
                        "reads files outside the submission folder (the grader's 'autograded')"),
    "other notebook": ('t = open("alice.ipynb").read()', "reads files outside the submission folder (a note"),
    "np.load abs": ('w = np.load("/home/teacher/weights.npy")', "reads files outside the submission folder"),
    "pandas": ('import pandas as pd\ndf = pd.read_csv("../gradebook.csv")', "reads files outside"),
    "Path read_text": ('from pathlib import Path\ntext = Path("/srv/course/source/a.ipynb").read_text()',
                       "reads files outside the submission folder (absolute"),
    "Path home": ("from pathlib import Path\ntext = (Path.home() / 'x.txt').read_text()",
                  "reads files outside the submission folder (the home folder)"),
    "listdir": ('names = os.listdir("..")', "reads files outside the submission folder ('..'"),
    "gradebook": ('db = open("gradebook.db", "rb").read()', "reads files outside the submission folder"),
    # writes and deletes
    "write abs": ('open("/tmp/answers.txt", "w").write("x")', "writes files outside the submission folder"),
    "write .. mode kw": ('open("../out.txt", mode="a").write("x")', "writes files outside the submission"),
    "Path write_text": ('from pathlib import Path\nPath("/tmp/x.py").write_text("x")',
                        "writes files outside the submission folder"),
    "np.save abs": ('np.save("/tmp/w.npy", np.zeros(3))', "writes files outside the submission folder"),
    "to_csv abs": ('import pandas as pd\npd.DataFrame().to_csv("/tmp/x.csv")', "writes files outside"),
    "os.remove": ('os.remove("notes.txt")', "deletes or renames files (os.remove)"),
    "os.rename": ('os.rename("a.txt", "b.txt")', "deletes or renames files (os.rename)"),
    "rmtree": ('import shutil\nshutil.rmtree("build")', "deletes or renames files (shutil.rmtree)"),
    "move": ('import shutil\nshutil.move("a", "b")', "deletes or renames files (shutil.move)"),
    "unlink": ('from pathlib import Path\nPath("x.txt").unlink()', "deletes or renames files (.unlink())"),
    "Path rename": ('from pathlib import Path\nPath("a").rename("b")', "deletes or renames files (Path.re"),
    # processes
    "subprocess": ('import subprocess\nsubprocess.run(["ls"])', "spawns a process (subprocess.run)"),
    "subprocess import": ("import subprocess", "spawns a process (imports subprocess)"),
    "from subprocess": ('from subprocess import run as go\ngo("ls")', "spawns a process (subprocess.run)"),
    "__import__": ('__import__("subprocess").run("ls")', "spawns a process (subprocess.run)"),
    "os.system": ('os.system("ls")', "spawns a process (os.system)"),
    "os.popen": ('os.popen("ls").read()', "spawns a process (os.popen)"),
    "os.exec": ('os.execv("/bin/ls", ["ls"])', "spawns a process (os.execv)"),
    "os.spawn": ('os.spawnl(os.P_WAIT, "/bin/ls", "ls")', "spawns a process (os.spawnl)"),
    "fork": ("pid = os.fork()", "spawns a process (os.fork)"),
    "multiprocessing": ("import multiprocessing", "spawns a process (imports multiprocessing)"),
    "pty": ('import pty\npty.spawn("/bin/sh")', "spawns a process"),
    "shell line": ("x = 1\n!ls ../source", "runs a shell command"),
    "shell assignment": ("files = !ls", "runs a shell command"),
    "bash cell": ("%%bash\nls ..", "runs a shell command"),
    "sh cell": ("%%sh\nls ..", "runs a shell command"),
    "system magic": ("%system ls", "runs a shell command"),
    "pip magic": ("%pip install requests", "runs a shell command"),
    "run magic": ("%run ../../source/helpers.py", "reads files outside the submission folder ('..'"),
    "get_ipython": ('get_ipython().system("ls")', "runs a shell command"),
    # network
    "socket": ("import socket", "uses the network (imports socket)"),
    "urllib": ("import urllib.request", "uses the network (imports urllib.request)"),
    "urlopen": ("from urllib.request import urlopen", "uses the network (imports urllib.request)"),
    "urllib3": ("import urllib3", "uses the network (imports urllib3)"),
    "requests": ("import requests", "uses the network (imports requests)"),
    "http.client": ("import http.client", "uses the network (imports http.client)"),
    "from http": ("from http import client", "uses the network (imports http.client)"),
    "httpx": ("import httpx", "uses the network (imports httpx)"),
    "aiohttp": ("import aiohttp", "uses the network (imports aiohttp)"),
    "ftplib": ("import ftplib", "uses the network (imports ftplib)"),
    "smtplib": ("import smtplib", "uses the network (imports smtplib)"),
    "get_file": ('path = keras.utils.get_file("w.npy", "https://example.com/w.npy")',
                 "uses the network (keras.utils.get_file with a URL)"),
    "tf get_file": ('path = tf.keras.utils.get_file(origin="http://example.com/w.npy")',
                    "uses the network (tensorflow.keras.utils.get_file with a URL)"),
    # exiting and signals
    "sys.exit": ("sys.exit(0)", "exits the interpreter (sys.exit())"),
    "os._exit": ("os._exit(0)", "exits the interpreter (os._exit())"),
    "exit": ("exit()", "exits the interpreter (exit())"),
    "quit": ("quit()", "exits the interpreter (quit())"),
    "SystemExit": ("raise SystemExit(0)", "exits the interpreter (raise SystemExit)"),
    "os.kill": ("os.kill(os.getpid(), 9)", "sends or handles signals (os.kill)"),
    "signal": ("import signal\nsignal.signal(signal.SIGALRM, print)", "sends or handles signals (signal.sig"),
    "alarm": ("import signal\nsignal.alarm(1)", "sends or handles signals (signal.alarm)"),
    # hidden in strings, and cells that do not parse
    "exec": ('exec("import subprocess")', "spawns a process (imports subprocess)"),
    "does not parse": ("def f(:\n    subprocess.run('ls')",
                       "spawns a process (subprocess/os.system/...)" + BY_TEXT),
    "does not parse, patch": ("checks.check_close = lambda *a: None\nif x\n", "changes test machinery"),
}


@pytest.mark.parametrize("answer, rule", POSITIVE.values(), ids=POSITIVE.keys())
def test_each_rule_flags_its_code(answer, rule):
    found = rules(answer)
    assert any(text.startswith(rule) for text in found), f"{rule!r} not in {found}"


HONEST = {
    "lambdas": "square = lambda x: x ** 2\ncompose = lambda f, g: lambda x: f(g(x))\n"
               "double = compose(lambda x: x * 2, lambda x: x)\n"
               "norms = list(map(lambda g: float(np.linalg.norm(g)), []))",
    "class": ("class Builder:\n    def __init__(self, n):\n        self.n = n\n        self.layers = []\n"
              "    def build(self):\n        model = keras.Sequential([keras.Input(shape=(self.n,))])\n"
              "        model.add(keras.layers.Dense(3, activation='softmax'))\n        self.model = model\n"
              "        return model\n\n\ndef double(x):\n    return Builder(2).n * x"),
    "functools": "import functools\nimport operator\n\n\ndef fan_in(shape):\n"
                 "    return functools.reduce(operator.mul, shape[:-1], 1)",
    "numpy tricks": "w = np.where(np.arange(5) > 2, 1.0, 0.2)\nw[w < 1] *= 2\nnp.random.seed(0)\n"
                    "np.set_printoptions(precision=3)\nx = np.einsum('ij,jk->ik', np.eye(2), np.eye(2))\n"
                    "y = np.add.reduce(w)\nz = np.lib.stride_tricks.sliding_window_view(w, 2)",
    "checks_done": "checks_done = 0\nchecks_done += 1\nmy_checks = {'a': 1}\nmy_checks['b'] = 2",
    "own sanity check": "def double(x):\n    return 2 * x\n\n\n"
                        "np.testing.assert_allclose(double(np.arange(3)), [0, 2, 4])\n"
                        "assert double(1) == 2\nchecks.check_close(double(2), 4, name='mine')",
    "notes file": 'with open("my_notes.txt", "w") as handle:\n    handle.write("notes")\n'
                  'data = open("data/small.csv").read()\nnp.save("weights.npy", np.zeros(3))',
    "docstring": 'def double(x):\n    """Unlike subprocess.run, os.system or sys.exit(), this stays.\n\n'
                 '    It never calls open("/etc/passwd") nor checks.check_close = None.\n    """\n'
                 '    return 2 * x  # not os.remove("x") either',
    "keras use": "model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3)])\n"
                 "model.layers[0].kernel.assign(np.zeros((2, 3)))\nlayer = keras.layers.Dense(4)\n"
                 "layer.trainable = False\nmodel.compile(optimizer='adam', loss='mse')\n"
                 "keras.utils.set_random_seed(0)\ntf.random.set_seed(0)",
    "strings and frames": "text = 'a/b/../c'.replace('/', '_')\nparts = 'x.ipynb'.split('.')\n"
                          "import pandas as pd\ndf = pd.DataFrame({'a': [1]}).rename(columns={'a': 'b'})",
    "plots and env": "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (4, 3)\n"
                     "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nsys.setrecursionlimit(10000)\n"
                     "path = os.path.join('data', 'x.csv')",
    "magics": "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n%run helpers.py\nx = 1\nnp.mean?",
    "time cell": "%%time\nmodel = keras.Sequential([keras.Input(shape=(2,))])",
    "helper names": "dense_layers = []\nactivation_name = 'elu'\n\n\ndef f():\n    check_close = 1\n"
                    "    AssertionError = None\n    np = None\n    return check_close",
    "re-imports": "import numpy as np\nimport keras\nfrom tensorflow import keras\n"
                  "from course import checks\n"
                  "import course\nfrom course.checks import check_close",
    "globals read": "names = sorted(globals())\nx = globals()['np']\ng = globals()\ng['my_result'] = 1",
    "getattr read": "f = getattr(checks, 'check_close')\nlayer = getattr(keras.layers, 'Dense')(3)",
    "exceptions": "try:\n    x = 1 / 0\nexcept ZeroDivisionError as error:\n"
                  "    raise ValueError('bad') from error",
}


@pytest.mark.parametrize("answer", HONEST.values(), ids=HONEST.keys())
def test_honest_but_unusual_code_is_not_flagged(answer):
    assert rules(answer) == []


def test_a_flag_names_notebook_cell_line_and_code():
    flags = scan(notebook("def double(x):\n    return 2 * x\n\n\nchecks.check_close = print  "),
                 "01_vanishing_exploding.ipynb")
    assert flags == [Flag("01_vanishing_exploding.ipynb", "ex1-double", 5, "checks.check_close = print",
                          "changes test machinery: course.checks.check_close")]
    assert str(flags[0]).startswith("01_vanishing_exploding.ipynb [ex1-double] line 5: changes test")


def test_a_shell_line_is_reported_on_its_own_line():
    flags = scan(notebook("x = 1\ny = 2\n!pip install requests"), "nb.ipynb")
    assert [(flag.line, flag.code, flag.rule) for flag in flags] == [(3, "!pip install requests",
                                                                    "runs a shell command")]


def test_cells_without_metadata_are_scanned_by_their_id():
    nb = notebook("x = 1")
    extra = new_code_cell("import socket")
    extra["id"] = "my-scratch"
    nb.cells.append(extra)
    assert [(flag.cell, flag.rule) for flag in scan(nb, "nb.ipynb")] == [("my-scratch",
                                                                         "uses the network (imports socket)")]


def test_locked_test_cells_are_not_scanned():
    nb = notebook("x = 1")
    nb.cells[3].source = "import subprocess  # a test may do anything"
    assert scan(nb, "nb.ipynb") == []


def test_with_the_release_a_fake_locked_cell_is_scanned_and_release_cells_are_not():
    stub = "# YOUR CODE HERE\nraise NotImplementedError()"
    release = notebook(stub, prelude=PRELUDE + "\nimport subprocess")
    student = notebook("x = 1", prelude=PRELUDE + "\nimport subprocess")  # the release's own cell: fine
    fake = _nbgrader(new_code_cell("import socket"), "my-hidden", grade=True, locked=True, points=0)
    student.cells.append(fake)
    # without the release: metadata decides (the fake test cell is skipped, the course's cell is not)
    assert [(flag.cell, flag.rule) for flag in scan(student, "nb.ipynb")] == [
        ("imports", "spawns a process (imports subprocess)")]
    assert [(flag.cell, flag.rule) for flag in scan(student, "nb.ipynb", release)] == [
        ("my-hidden", "uses the network (imports socket)")]


def test_check_names_come_from_course_checks():
    assert {"check_array", "check_close", "check_equal", "check_dense_stack"} <= check_names()
    assert not any(name.startswith("_") for name in check_names())


@pytest.mark.parametrize("path", sorted((ROOT / "source").glob("*/*.ipynb")), ids=lambda path: path.stem)
def test_the_reference_solutions_are_not_flagged(path):
    source = nbformat.read(str(path), as_version=4)
    solutions = [cell for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    assert any(cell.cell_type == "code" for cell in solutions)
    assert scan(source, path.name) == []  # every code cell but the tests: the solutions and the body
    release_path = ROOT / "release" / path.parent.name / path.name
    if release_path.exists():  # a notebook being written has no release yet
        assert scan(source, path.name, nbformat.read(str(release_path), as_version=4)) == []


@pytest.mark.parametrize("path", sorted((ROOT / "release").glob("*/*.ipynb")), ids=lambda path: path.stem)
def test_the_release_notebooks_are_not_flagged(path):
    """Their first code cell runs pip on Colab (subprocess): it is the course's, not the student's."""
    release = nbformat.read(str(path), as_version=4)
    assert "import subprocess" in "".join(cell.source for cell in release.cells)
    assert scan(release, path.name) == []
    assert scan(release, path.name, release) == []


# ---------------------------------------------------------------------------------------------------------
# Tricks that hide the code from a scan that stops at the first look: each must still be flagged.

HOOK_B64 = "Z2V0X2lweXRob24oKS5pbnB1dF90cmFuc2Zvcm1lcnNfcG9zdC5hcHBlbmQobGFtYmRhIGxpbmVzOiBbJ3Bhc3NcbiddKQ=="
TRICKS = {
    # exec, eval, compile of code built at run time
    "exec hex": ("exec(bytes.fromhex('7072696e74283129').decode())", "runs code built at run time (exec"),
    "exec variable": ("code = 'x = 1'\nexec(code)", "runs code built at run time (exec"),
    "eval f-string": ("name = 'check_close'\nf = eval(f'checks.{name}')", "runs code built at run time (eval"),
    "compile joined": ("c = compile('import sub' + 'process', '<x>', 'exec')",
                       "runs code built at run time (compile"),
    "exec base64 hook": (f"import base64\nexec(base64.b64decode('{HOOK_B64}'))", "runs code built at run time"),
    "builtins.exec": ("import builtins\nbuiltins.exec(open('notes.txt').read())",
                      "runs code built at run time (builtins.exec"),
    "exec renamed": ("run = exec\nrun(source)", "runs code built at run time (exec"),
    "ipython run_cell": ("get_ipython().run_cell(source)", "runs code built at run time"),
    "computed magic": ("get_ipython().run_line_magic(name, 'ls')", "runs code built at run time"),
    # imports of computed names
    "__import__ computed": ("m = __import__('sub' + 'process')", "imports a module whose name is built at run time"),
    "import_module computed": ("import importlib\nm = importlib.import_module(''.join(['so', 'cket']))",
                               "imports a module whose name is built at run time"),
    "importlib.__import__": ("import importlib\nm = importlib.__import__(name)",
                             "imports a module whose name is built at run time"),
    # module attributes by computed names
    "getattr computed": ("f = getattr(checks, 'check_' + 'close')",
                         "looks up a module's attribute by a name built at run time (getattr(course.checks"),
    "getattr os computed": ("getattr(os, 'sys' + 'tem')('ls')", "looks up a module's attribute by a name built"),
    "getattr __builtins__": ("f = getattr(__builtins__, ''.join(['ex', 'ec']))",
                             "looks up a module's attribute by a name built"),
    "getattr sys.modules": ("f = getattr(sys.modules['course.checks'], name)",
                            "looks up a module's attribute by a name built"),
    "vars computed": ("f = vars(checks)['check_' + kind]",
                      "looks up a module's attribute by a name built at run time (vars(course.checks)[...])"),
    "__dict__ computed": ("f = __builtins__.__dict__[name]", "looks up a module's attribute by a name built"),
    "vars exec": ("import builtins\nvars(builtins)['exec'](source)", "runs code built at run time (builtins.exec"),
    "vars patch": ("vars(checks)['check_close'].__code__ = print.__code__",
                   "changes test machinery: course.checks.check_close.__code__"),
    "getattr computed patch": ("getattr(checks, 'check_' + kind).__code__ = print.__code__",
                               "changes test machinery: course.checks"),
    "setattr sys.modules": ("setattr(sys.modules['course.checks'], name, f)",
                            "changes test machinery: setattr(course.checks"),
    "sys.modules attribute": ("sys.modules['course.checks'].check_close = print",
                              "changes test machinery: course.checks.check_close"),
    "setattr computed": ("import math\nsetattr(math, name, f)",
                         "changes a module's attribute by a name built at run time (setattr(math"),
    "delattr computed": ("delattr(sys.modules[module], name)", "changes a module's attribute by a name built"),
    # decoding hidden text
    "fromhex": ("src = bytes.fromhex('696d706f7274206f73').decode()", "decodes hidden text (bytes.fromhex)"),
    "fromhex method": ("src = b''.fromhex('6f73')", "decodes hidden text (.fromhex)"),
    "base64 hook": (f"import base64\nexec(base64.b64decode('{HOOK_B64}'))", "decodes hidden text (base64.b64decode)"),
    "b64decode renamed": ("from base64 import b64decode as d\nsrc = d(blob)", "decodes hidden text (base64.b64de"),
    "urlsafe base64": ("import base64\nsrc = base64.urlsafe_b64decode(blob)", "decodes hidden text (base64.url"),
    "unhexlify": ("import binascii\nsrc = binascii.unhexlify('696d706f7274206f73')",
                  "decodes hidden text (binascii.unhexlify)"),
    "a2b_base64": ("import binascii\nsrc = binascii.a2b_base64(blob)", "decodes hidden text (binascii.a2b_base64)"),
    "rot13": ("import codecs\nsrc = codecs.decode('vzcbeg bf', 'rot13')", "decodes hidden text (codecs.decode"),
    "rot_13 encode": ("import codecs\nsrc = codecs.encode(text, 'rot_13')", "decodes hidden text (codecs.encode"),
    "codecs hex": ("import codecs\nsrc = codecs.decode(blob, 'hex')", "decodes hidden text (codecs.decode"),
    "zlib": ("import zlib\nsrc = zlib.decompress(blob)", "decodes hidden text (zlib.decompress)"),
    "marshal": ("import marshal\ncode = marshal.loads(blob)", "loads pickled or marshalled objects"),
    "pickle": ("import pickle\nobj = pickle.loads(blob)", "loads pickled or marshalled objects"),
    # IPython hooks
    "input_transformers_post": ("get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
                                "changes how IPython runs cells (input_transformers_post)"),
    "input_transformers_cleanup": ("ip = get_ipython()\nip.input_transformers_cleanup.insert(0, f)",
                                   "changes how IPython runs cells (input_transformers_cleanup)"),
    "ast_transformers": ("get_ipython().ast_transformers = [t]", "changes how IPython runs cells (ast_transf"),
    "events.register": ("ip = get_ipython()\nip.events.register('pre_run_cell', f)",
                        "changes how IPython runs cells (get_ipython().events.register)"),
    "set_custom_exc": ("get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)",
                       "changes how IPython runs cells (get_ipython().set_custom_exc)"),
    "register_magic_function": ("get_ipython().register_magic_function(f, 'cell', 'skip')",
                                "changes how IPython runs cells"),
    "set_hook": ("get_ipython().set_hook('pre_run_code_hook', f)", "changes how IPython runs cells"),
    "ipython attribute": ("shell = get_ipython()\nshell.showtraceback = lambda *a, **k: None",
                          "changes how IPython runs cells (sets get_ipython().showtraceback)"),
    "IPython.get_ipython": ("from IPython import get_ipython\nget_ipython().run_cell = f",
                            "changes how IPython runs cells"),
    "IPython.core": ("import IPython\nIPython.core.interactiveshell.InteractiveShell.run_cell = f",
                     "changes how IPython runs cells"),
    "register_cell_magic": ("from IPython.core.magic import register_cell_magic\n\n\n@register_cell_magic\n"
                            "def skip(line, cell):\n    pass", "changes how IPython runs cells"),
    "getattr ipython": ("getattr(get_ipython(), 'ev' + 'ents').register('post_run_cell', f)",
                        "looks up a module's attribute by a name built"),
    "sys.excepthook": ("sys.excepthook = lambda *a: None", "installs an interpreter hook (sys.excepthook)"),
    "sys.displayhook": ("sys.displayhook = print", "installs an interpreter hook (sys.displayhook)"),
    "sys.meta_path": ("sys.meta_path.insert(0, Finder())", "installs an interpreter hook (sys.meta_path)"),
    "ipython push": ("get_ipython().push({'check_close': print})", "reaches into the notebook's variables"),
    "user_ns": ("ns = get_ipython().user_ns", "reaches into the notebook's variables"),
    # IPython history
    "In": ("print(In)", "reads the cells run before (In)"),
    "_ih": ("print(_ih[-2])", "reads the cells run before (_ih)"),
    "Out": ("answer = Out[3]", "reads the cells run before (Out)"),
    "_oh": ("answer = _oh[3]", "reads the cells run before (_oh)"),
    "_i12": ("src = _i12", "reads the cells run before (_i12)"),
    "_ii": ("src = _ii + _iii + _i", "reads the cells run before (_ii)"),
    "_5": ("value = _5", "reads the cells run before (_5)"),
    "globals _ih": ("src = globals()['_ih']", "reads the cells run before (_ih)"),
    "history_manager": ("h = get_ipython().history_manager", "reads the cells run before (history_manager)"),
    "%history": ("%history -n 1-5", "reads the cells run before (%history)"),
    "%hist assigned": ("x = %hist", "reads the cells run before (%hist)"),
    # paths that leave the submission folder
    "parents read": ("from pathlib import Path\ntext = (Path.cwd().parents[2] / 'answers.txt').read_text()",
                     "reads files outside the submission folder (a folder above the working folder"),
    "parent variable": ("from pathlib import Path\nhere = Path.cwd()\nroot = here.parent.parent",
                        "builds a path that leaves the submission folder (a folder above the working folder"),
    "resolve parent": ("from pathlib import Path\nup = Path('.').resolve().parent",
                       "builds a path that leaves the submission folder"),
    "dirname chain": ("root = os.path.dirname(os.path.dirname(os.getcwd()))",
                      "builds a path that leaves the submission folder"),
    "dirname abspath": ("root = os.path.dirname(os.path.abspath('.'))", "builds a path that leaves"),
    "listdir parent": ("from pathlib import Path\nnames = os.listdir(Path.cwd().parent)",
                       "reads files outside the submission folder"),
    "dotdot variable": ("base = '../source'\nnb = open(os.path.join(base, 'x.txt'))",
                        "builds a path that leaves the submission folder ('..' in '../source')"),
    "join dotdot": ("p = os.path.join(os.getcwd(), '..', 'x.txt')", "builds a path that leaves the submission"),
    "Path dotdot": ("from pathlib import Path\np = Path('..') / 'secret'", "builds a path that leaves"),
    "a/../b": ("p = 'data/../../x'", "builds a path that leaves the submission folder ('..' in 'data/../../x')"),
    "sys.path dotdot": ("sys.path.insert(0, '../..')", "builds a path that leaves the submission folder"),
    "home folder": ("from pathlib import Path\nhome = Path.home()", "builds a path that leaves the submission fo"),
    "walk root": ("for root, dirs, files in os.walk('/'):\n    pass", "reads files outside the submission folder"),
    "glob absolute": ("import glob\nnames = glob.glob('/home/*/*.ipynb')", "reads files outside the submission"),
    "chdir": ("os.chdir(folder)", "changes the working folder (os.chdir)"),
    "%cd": ("%cd data", "changes the working folder (%cd)"),
    # IPython syntax: what the magics really run
    "%time hides code": ("%time import socket", "uses the network (imports socket)"),
    "%timeit hides code": ("%timeit -n 1 -r 1 __import__('socket')", "uses the network (imports socket)"),
    "%%writefile a module": ("%%writefile helper.py\nimport subprocess\n", "spawns a process (imports subprocess)"),
    "%%python3": ("%%python3\nprint(1)", "runs a shell command"),
    "%alias": ("%alias ll ls -l", "runs a shell command"),
    "%pip explicit": ("get_ipython().run_line_magic('pip', 'install requests')", "runs a shell command"),
    "%load history": ("%load 1-3", "reads the cells run before (%load)"),
    # the lock that keeps a course helper out of the test of the exercise it implements
    "unlock helpers": ("from course import lockout\nlockout._locked.clear()", "touches the lock"),
    "unlock by module": ("import course.lockout as lock\nlock._locked.clear()", "touches the lock"),
    "unlock by name": ("from course.lockout import _locked\n_locked.clear()", "touches the lock"),
    "unlock through course": ("course.lockout._locked.clear()", "touches the lock"),
}


@pytest.mark.parametrize("answer, rule", TRICKS.values(), ids=TRICKS.keys())
def test_each_trick_is_flagged(answer, rule):
    found = rules(answer)
    assert any(text.startswith(rule) for text in found), f"{rule!r} not in {found}"


HONEST_LOOKALIKES = {
    "no eval": "x = np.mean(np.arange(3))\nlayer = keras.layers.Dense(2)\nact = getattr(layer, 'activation')\n"
               "model = keras.Sequential([keras.Input(shape=(2,)), layer])\nlast = model.layers[-1]\n"
               "name = 'relu'\nkind = getattr(layer, name, None)",
    "namespaces": "row = {'a': 1}\nkey = 'a'\nvalue = row[key]\nw = vars(np)['mean']\nlayers = model.__dict__[key]\n"
                  "d = vars(keras.activations)[key]",
    "literal exec": "exec('x = 1')\ny = eval('1 + 2')\ncode = compile('z = 3', '<cell>', 'exec')",
    "dynamic keras lookups": "for name in ['relu', 'elu']:\n    f = getattr(keras.activations, name)\n"
                             "init = getattr(keras.initializers, 'HeNormal')()\n"
                             "opt = getattr(keras.optimizers, name.title())\nz = getattr(np, 'me' + 'an')",
    "data files": "from pathlib import Path\ntext = Path('data.csv').read_text() if Path('data.csv').exists() else ''\n"
                  "out = Path('results/model.keras')\nout.parent.mkdir(parents=True, exist_ok=True)\n"
                  "here = Path.cwd()\nprint(here)\nfiles = sorted(os.listdir('.'))\n"
                  "p = os.path.join('data', 'x.csv')\nfolder = os.path.dirname(p)\n"
                  "name = os.path.basename('data/x.csv')",
    "dots in messages": "print('loss...')\nprint('training... done')\nprint(f'epoch {1}/{3}...')\n"
                        "assert True, 'see ../README'\nprint('see ../README')\nellipsis = '...'\n"
                        "label = '..'.join(['a', 'b'])\nsafe = [p for p in ['a'] if p != '..']",
    "text codecs": "s = b'abc'.decode('utf-8')\nt = 'abc'.encode()\nimport codecs\nu = codecs.decode(b'abc', 'utf-8')\n"
                   "v = bytes([1, 2]).hex()\nw = int('ff', 16)",
    "underscore names": "for _i in range(3):\n    print(_i)\n_ = 1\nIn_ = 2\nresults = {'Out': 1}\n"
                        "for i, _ in enumerate([1]):\n    pass\nIndex = 3",
    "line magics": "%timeit -n 1 -r 1 np.mean(np.ones(3))\n%time y = np.ones(2)\n%load_ext autoreload\n"
                   "%config InlineBackend.figure_format = 'retina'",
    "capture cell": "%%capture captured\nmodel = keras.Sequential([keras.Input(shape=(2,))])\nprint('done')",
    "writefile notes": "%%writefile notes.txt\nimport subprocess is not run: these are notes\n",
    "ipython display": "from IPython.display import display, Markdown\ndisplay(Markdown('**done**'))\n"
                       "ip = get_ipython()\nip.run_line_magic('matplotlib', 'inline')",
    "shell-free help": "np.mean?\nkeras.layers.Dense??",
}


@pytest.mark.parametrize("answer", HONEST_LOOKALIKES.values(), ids=HONEST_LOOKALIKES.keys())
def test_honest_lookalikes_are_not_flagged(answer):
    assert rules(answer) == []


def test_ipython_syntax_keeps_line_numbers():
    flags = scan(notebook("x = 1\n\n%time import socket\n!ls -la \\\n  ..\nimport requests"), "nb.ipynb")
    assert [(flag.line, flag.rule) for flag in flags] == [(3, "uses the network (imports socket)"),
                                                          (4, "runs a shell command"),
                                                          (6, "uses the network (imports requests)")]
    flags = scan(notebook("\n\n%%time\nx = 1\nimport socket"), "nb.ipynb")
    assert [(flag.line, flag.code) for flag in flags] == [(5, "import socket")]
    flags = scan(notebook("%%capture\n\n!ls\nimport socket"), "nb.ipynb")
    assert [(flag.line, flag.code) for flag in flags] == [(3, "!ls"), (4, "import socket")]


def test_code_nested_too_deeply_to_follow_is_flagged_not_a_crash():
    flags = scan(notebook("import socket\nx = " + "+".join(["1"] * 2000)), "nb.ipynb")  # parses; too deep to walk
    assert sorted(flag.rule for flag in flags) == [
        "the scan could not follow this code to the end (it is nested too deeply): read it",
        "uses the network (imports socket)"]
    flags = scan(notebook("import socket\nx = " + "+".join(["1"] * 20000)), "nb.ipynb")  # too deep to parse
    assert [flag.rule for flag in flags] == ["uses the network (network module or download)" + BY_TEXT]


def test_without_the_ipython_transformer_the_text_cleanup_is_used(monkeypatch):
    from IPython.core import inputtransformer2

    def broken(self, cell):
        raise RuntimeError("no")

    monkeypatch.setattr(inputtransformer2.TransformerManager, "transform_cell", broken)
    flags = scan(notebook("x = 1\n!ls\n%run ../x.py\nimport socket"), "nb.ipynb")
    assert [(flag.line, flag.rule) for flag in flags] == [
        (2, "runs a shell command"), (3, "reads files outside the submission folder ('..' in '../x.py')"),
        (4, "uses the network (imports socket)")]


# ---------------------------------------------------------------------------------------------------------
# Other files a submission carries


def test_a_python_file_is_scanned_like_a_cell():
    flags = scan_file("helper.py", b"import os\n\n\ndef run():\n    os.system('ls')\n")
    assert flags == [Flag("helper.py", "file", 5, "os.system('ls')", "spawns a process (os.system)")]
    assert scan_file("helper.py", b"import numpy as np\n\n\ndef double(x):\n    return 2 * np.asarray(x)\n") == []


def test_a_python_file_that_does_not_parse_is_matched_by_text():
    assert [flag.rule for flag in scan_file("broken.py", b"def f(:\n    os.system('ls')\n")] == [
        "spawns a process (subprocess/os.system/...)" + BY_TEXT]


def test_any_other_file_is_reported_with_its_name_and_size():
    flags = scan_file("data.csv", b"a,b\n1,2\n")
    assert len(flags) == 1 and flags[0].notebook == "data.csv"
    assert "extra file" in flags[0].rule and "data.csv" in flags[0].rule and "8 bytes" in flags[0].rule
    assert str(flags[0]) == ("data.csv [file]: the submission carries an extra file (data.csv, 8 bytes): "
                             "a person should look at it")


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xfe\x00x", b"import os\x00",
                                     b"", bytes(range(256))], ids=["png", "utf16", "null", "empty", "all bytes"])
def test_binary_files_do_not_crash_the_scan(content):
    flags = scan_file("blob.bin", content)
    assert len(flags) == 1 and "extra file" in flags[0].rule
    assert all(isinstance(flag, Flag) for flag in scan_file("blob.py", content))


def test_code_hidden_in_a_text_file_is_scanned_too():
    rules_found = [flag.rule for flag in scan_file("notes.txt", b"import socket\n")]
    assert any("extra file" in rule for rule in rules_found)
    assert "uses the network (imports socket)" in rules_found


@pytest.mark.parametrize("name", ["numpy.py", "course/checks.py", "course/__init__.py", "sitecustomize.py"])
def test_a_file_named_like_a_module_the_tests_import_is_flagged(name):
    assert any(flag.rule.startswith("a file named like a module the tests import")
               for flag in scan_file(name, b"x = 1\n"))
