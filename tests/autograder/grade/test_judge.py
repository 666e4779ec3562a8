"""The judge (autograder.grade.judge): tests run in a kernel where student code never ran.

Each attack is a student's answer cell; the judge runs a small notebook whose test cell checks ``add``. A
defence holds when the attack's test cell fails (or the value it stole is nowhere in what comes back).
"""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.grade import sandbox as sandboxes
from autograder.grade.judge import judge_notebook, role
from autograder.grade.plan import plan_from_source
from autograder.grade.runners import Limits
from autograder.nbgrader import notebooks
from tests.tiny_course import GRADING_SANDBOX

HIDDEN_INPUT = 917_331  # appears only in the hidden test
GIVEN_TEST = "assert GIVEN == 3, f'GIVEN should be 3, got {GIVEN}'\n"  # a test that reads the setup cell


def _cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "points": nbgrader.pop("points", 0),
                                     "task": False, **nbgrader}
    return cell


SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = ("assert add(2, 3) == 5, f'add(2, 3) should be 5, got {add(2, 3)!r}'\n"
         "### BEGIN HIDDEN TESTS\n"
         f"assert add({HIDDEN_INPUT}, 1) == {HIDDEN_INPUT + 1}, 'the hidden case failed'\n"
         "### END HIDDEN TESTS\n"
         "print('tests passed')\n")


def notebook(answer: str, *, extra_tests: str = "") -> nbformat.NotebookNode:
    cells = [
        _cell("import numpy as np\nGIVEN = 3"),
        _cell(answer, solution=True, grade=False, grade_id="ex1"),
        _cell(TESTS + extra_tests, solution=False, grade=True, grade_id="ex1-tests", points=2),
        _cell("print('after the tests')"),
    ]
    for cell, cell_id in zip(cells, ["setup", "answer", "tests", "after"], strict=True):
        cell.id = cell_id
    return new_notebook(cells=cells)


def judge(answer: str, *, cell_timeout: float = 60, memory_mb: int | None = 3072, **kwargs):
    nb = notebook(answer, **kwargs)
    return judge_this(nb, cell_timeout=cell_timeout, memory_mb=memory_mb, source=notebook(SOLUTION, **kwargs))


def judge_this(nb, *, cell_timeout: float = 60, memory_mb: int | None = 3072, source=None):
    """Judge a student's notebook ``nb`` against the instructor's notebook (by default, :data:`SOLUTION`'s)."""
    box = sandboxes.choose(GRADING_SANDBOX)
    limits = Limits(timeout=600, cell_timeout=cell_timeout, memory_mb=memory_mb)
    plan = plan_from_source(source or notebook(SOLUTION))
    judged = judge_notebook(nbformat.writes(nb).encode(), {}, plan, box=box, limits=limits)
    test_cell = next(cell for cell in judged.notebook.cells if notebooks.grade_id(cell) == "ex1-tests")
    errors = [output for output in test_cell.outputs if output.get("output_type") == "error"]
    return judged, test_cell, errors


def everything(judged) -> str:
    """Every output of the executed notebook and every problem: what can reach feedback and the report."""
    return str([cell.get("outputs", []) for cell in judged.notebook.cells]) + "\n".join(judged.problems)


pytestmark = pytest.mark.notebooks


def test_roles_and_exports_come_from_the_instructors_cells():
    nb = notebook("def add(a, b):\n    return 0\nnp = None\nchecks = 1\n")
    assert [role(cell) for cell in nb.cells] == ["student", "student", "grader", "student"]
    plan = plan_from_source(notebook(SOLUTION + "LIMIT: int = 3\nx, (y, z) = 1, (2, 3)\n"))
    assert plan.exports("ex1") == ["add", "LIMIT", "x", "y", "z"]
    assert [(step.kind, step.key) for step in plan.steps] == [
        ("instructor", "setup"), ("answer", "ex1"), ("test", "ex1-tests"), ("instructor", "after")]
    # the grader kernel runs an instructor's cell only where a test reads what it defines
    assert [bool(step.code) for step in plan.steps if step.kind == "instructor"] == [False, False]
    plan = plan_from_source(notebook(SOLUTION, extra_tests=GIVEN_TEST))
    assert [step.code for step in plan.steps if step.kind == "instructor"] == ["import numpy as np\nGIVEN = 3", ""]


@pytest.mark.parametrize("edit", [
    # an input transformer in the grader kernel would turn every later test cell into `pass`
    "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])",
    # so would a test helper or a builtin replaced there
    "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
    "import sys\nsys.excepthook = lambda *a: None",
])
def test_an_instructor_cell_the_student_edited_runs_in_the_students_kernel_only(edit):
    """The student edits an instructor's cell (they are not locked): the grader kernel runs source/'s version."""
    nb = notebook("def add(a, b):\n    return a - b\n", extra_tests=GIVEN_TEST)
    nb.cells[0].source += "\nGIVEN = 4\n" + edit
    _, test_cell, errors = judge_this(nb, source=notebook(SOLUTION, extra_tests=GIVEN_TEST))
    assert errors and "tests passed" not in str(test_cell.outputs), test_cell.outputs
    assert "GIVEN should be" not in errors[0]["evalue"]  # the grader's GIVEN is the instructor's


def test_a_notebook_whose_cell_ids_were_lost_is_graded_in_full():
    """A notebook saved by a tool that drops cell ids (nbformat 4.4): the grader kernel still runs the
    instructor's cells, before the first answer or test cell that follows them."""
    nb = notebook(SOLUTION, extra_tests=GIVEN_TEST)
    for cell in nb.cells:
        del cell["id"]
    nb.nbformat_minor = 4
    judged, test_cell, errors = judge_this(nb, source=notebook(SOLUTION, extra_tests=GIVEN_TEST))
    assert not errors and "tests passed" in str(test_cell.outputs), test_cell.outputs


def test_a_correct_answer_passes_and_a_wrong_one_fails_with_its_sentence():
    judged, test_cell, errors = judge(SOLUTION)
    assert not errors and "tests passed" in str(test_cell.outputs) and not judged.problems
    judged, _, errors = judge("def add(a, b):\n    return a - b\n")
    assert errors and "add(2, 3) should be 5, got -1" in errors[0]["evalue"]


def test_the_student_kernel_never_sees_a_test_cell():
    """The hidden input is not in the student's kernel: its history and globals hold no test code."""
    spy = ("import sys\n"
           "def add(a, b):\n"
           "    ip = get_ipython()\n"
           "    seen = ' '.join(ip.history_manager.input_hist_raw) + repr(sorted(ip.user_ns))\n"
           f"    needles = [str({HIDDEN_INPUT - 1} + 1), 'BEGIN ' + 'HIDDEN', 'tests ' + 'passed']\n"
           "    assert not [n for n in needles if n in seen], 'the test code is here'\n"
           "    return a + b\n")
    judged, _, errors = judge(spy)
    assert not errors, errors


def test_what_the_students_function_prints_during_a_test_is_dropped():
    judged, _, errors = judge("def add(a, b):\n    print('LEAK', a, b)\n    return a + b\n")
    assert not errors and str(HIDDEN_INPUT) not in everything(judged) and "LEAK" not in everything(judged)


def test_rewritten_kernel_messages_forge_nothing():
    """The student's kernel rewrites every message it sends into 'ok' with no error: it reaches the grader only as
    the data its functions return."""
    forger = ("from ipykernel.kernelbase import Kernel\n"
              "import ipykernel.ipkernel, jupyter_client.session as js\n"
              "_send = js.Session.send\n"
              "def send(self, stream, msg_or_type, content=None, *args, **kwargs):\n"
              "    if isinstance(msg_or_type, dict) and msg_or_type.get('msg_type') == 'error':\n"
              "        return None\n"
              "    if isinstance(content, dict) and content.get('status') == 'error':\n"
              "        content = {'status': 'ok', 'execution_count': 1, 'user_expressions': {}, 'payload': []}\n"
              "    return _send(self, stream, msg_or_type, content, *args, **kwargs)\n"
              "js.Session.send = send\n"
              "def add(a, b):\n    return a - b\n")
    judged, _, errors = judge(forger)
    assert errors and "add(2, 3) should be 5" in errors[0]["evalue"]


def test_the_judges_helper_replaced_by_the_student_answers_only_with_data():
    """The student replaces the helper that answers the judge: a forged answer is data, here a wrong number."""
    forger = ("import _judge, _judge_codec\n"
              "from IPython.display import display\n"
              "def call(text):\n"
              "    display({_judge.MIME: _judge_codec.to_text(_judge_codec.encode({'ok': 5}))}, raw=True)\n"
              "_judge.call = call\n"
              "def add(a, b):\n    return 0\n")
    judged, _, errors = judge(forger)
    assert errors and "the hidden case failed" in errors[0]["evalue"]  # 5 passes add(2, 3) only


@pytest.mark.parametrize("answer, expected", [
    ("class Liar:\n    def __eq__(self, other):\n        return True\n    def __float__(self):\n        return 5.0\n"
     "    def __array__(self, dtype=None, copy=None):\n        import numpy\n        return numpy.array(5)\n"
     "def add(a, b):\n    return Liar()\n", "got a Liar"),
    ("import pickle, _judge\nfrom IPython.display import display\nimport base64\n"
     "def call(text):\n    display({_judge.MIME: base64.b64encode(pickle.dumps({'ok': 5})).decode()}, raw=True)\n"
     "_judge.call = call\ndef add(a, b):\n    return 0\n", "grader's format|cut short"),
    ("def add(a, b):\n    import numpy\n    return numpy.broadcast_to(numpy.zeros(1), (2**31,))\n", "MiB"),
    ("def add(a, b):\n    value = 5\n    for _ in range(10**6):\n        value = [value]\n    return value\n",
     "nested"),
    ("import _judge, _judge_codec, base64\nfrom IPython.display import display\n"
     "def call(text):\n"
     "    deep = b'[' * 10**6 + b']' * 10**6\n"
     "    header = b'{\"buffers\": 0, \"tree\": ' + deep + b'}'\n"
     "    message = _judge_codec._LENGTH.pack(len(header)) + header\n"
     "    display({_judge.MIME: base64.b64encode(message).decode()}, raw=True)\n"
     "_judge.call = call\ndef add(a, b):\n    return 0\n", "grader's format"),
])
def test_values_that_may_not_cross_fail_the_test_with_a_sentence(answer, expected):
    judged, _, errors = judge(answer)
    assert errors, "the attack passed the test"
    assert any(word in errors[0]["evalue"] for word in expected.split("|")), errors[0]["evalue"]


def test_a_lambda_layer_is_refused():
    answer = ("import keras\n"
              "def add(a, b):\n"
              "    return keras.Sequential([keras.Input(shape=(1,)), keras.layers.Lambda(lambda x: x * 0 + 5)])\n")
    judged, _, errors = judge(answer, extra_tests="")
    assert errors and "Lambda" in errors[0]["evalue"]


def test_a_function_that_never_returns_is_stopped_and_the_rest_goes_on():
    answer = "import time\ndef add(a, b):\n    while True:\n        time.sleep(0.1)\n"
    judged, test_cell, errors = judge(answer, cell_timeout=5)
    assert errors and "did not finish within 5 s" in errors[0]["evalue"]
    last = judged.notebook.cells[-1]
    assert "after the tests" in str(last.outputs)


def test_a_student_kernel_that_kills_itself_costs_its_cells_only():
    answer = "import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    judged, _, errors = judge(answer)
    assert errors and "stopped the kernel" in errors[0]["evalue"]
    assert "after the tests" in str(judged.notebook.cells[-1].outputs)


def test_the_grader_kernel_and_the_judge_are_out_of_the_student_kernels_reach():
    """From the answer cell: no other process, no socket or connection file but its own kernel's, no signal."""
    probe = (
        "import os, socket, signal, glob\n"
        "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        "def add(a, b):\n    return a + b\n"
        "roots = [r for r in ('/grader', '/tmp', '/home', '/run', '/var', '/srv', '/mnt') if os.path.isdir(r)]\n"
        "found = [f for root in roots for pattern in ('**/*.sock', '**/kernel*')\n"
        "         for f in glob.glob(os.path.join(root, pattern), recursive=True)]\n"
        "reached = []\n"
        "for path in found:\n"
        "    try:\n"
        "        s = socket.socket(socket.AF_UNIX); s.connect(path); reached.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "for port in range(1, 65536, 97):\n"
        "    s = socket.socket(); s.settimeout(0.01)\n"
        "    if s.connect_ex(('127.0.0.1', port)) == 0:\n"
        "        reached.append(port)\n"
        "killed = []\n"
        "for pid in range(1, 400):\n"
        "    if pid not in {int(task) for task in os.listdir('/proc/self/task')}:  # its own threads\n"
        "        try:\n"
        "            os.kill(pid, 0); killed.append(pid)\n"
        "        except OSError:\n"
        "            pass\n"
        "print(repr({'pids': pids, 'files': found, 'reached': reached, 'signalled': killed}))\n"
        "def add(a, b):\n    return a + b\n")
    if sandboxes.choose(GRADING_SANDBOX).kind != "bwrap":
        pytest.skip("needs the bubblewrap sandbox")
    judged, _, errors = judge(probe)
    assert not errors, errors
    report = eval("".join(judged.notebook.cells[1].outputs[0]["text"]))  # noqa: S307 (our own probe's dict)
    assert all(path.startswith("/grader/kernel") for path in report["files"]), report["files"]
    assert all(str(path).startswith("/grader/kernel") for path in report["reached"]), report["reached"]
    assert set(report["signalled"]) <= set(report["pids"]), report
    assert len(report["pids"]) <= 3, report["pids"]  # bubblewrap's init and the kernel


def test_what_the_function_does_to_its_arguments_is_done_to_the_graders():
    """A test that checks an argument was left alone (notebook 04 does) can still fail."""
    answer = ("def add(a, b):\n"
              "    if isinstance(a, list):\n        a.append('x')\n        return None\n"
              "    if hasattr(a, 'shape'):\n        a[0] = 99\n"
              "    return a + b\n")
    checks = ("x = np.zeros(2)\n_ = add(x, 1)\nassert x[0] == 99, 'the array was not changed back'\n"
              "items = [1]\nadd(items, 0)\nassert items == [1, 'x'], 'the list was not changed back'\n"
              "print('changed back')\n")
    judged, test_cell, errors = judge(answer, extra_tests=checks)
    assert not errors and "changed back" in str(test_cell.outputs), errors


def test_a_judge_that_fails_is_a_reason_on_the_row_never_a_grade(monkeypatch):
    from autograder.grade import judge as judges
    from autograder.grade import runners

    def broken(*args, **kwargs):
        raise RuntimeError("the kernel did not start: bwrap: setting up uid map: Permission denied")

    monkeypatch.setattr(judges, "judge_notebook", broken)
    job = runners.Job("someone", {"nb.ipynb": nbformat.writes(notebook(SOLUTION)).encode()}, {},
                      Limits(), "none", "99_tiny")
    executed = runners.execute_job(job)
    assert executed.notebooks == {}
    assert executed.problems == ["nb.ipynb: not graded: the judge could not run it (RuntimeError: the kernel did "
                                 "not start: bwrap: setting up uid map: Permission denied)"]


def test_a_grader_kernel_that_dies_is_revived_with_the_students_names_bound_again():
    """Its replay calls the student's kernel again (define), so the judge serves it while it replays."""
    nb = notebook(SOLUTION)
    nb.cells.insert(3, _cell("import os\nos._exit(1)", solution=False, grade=True, grade_id="dies", points=1))
    nb.cells.insert(4, _cell("assert add(40, 2) == 42\nprint('after the revival')", solution=False, grade=True,
                             grade_id="after", points=1))
    # a replay that waited for an answer nobody served would stall a whole cell limit (90 s) and pass the
    # notebook's limit (60 s): the cell after it would then not run at all
    limits = Limits(timeout=60, cell_timeout=90, memory_mb=3072)
    judged = judge_notebook(nbformat.writes(nb).encode(), {}, plan_from_source(notebook(SOLUTION)),
                            box=sandboxes.choose(GRADING_SANDBOX), limits=limits)
    cells = {notebooks.grade_id(cell): cell for cell in judged.notebook.cells}
    assert any(output.get("ename") == "KernelDied" for output in cells["dies"].outputs)
    assert "after the revival" in str(cells["after"].outputs), cells["after"].outputs
