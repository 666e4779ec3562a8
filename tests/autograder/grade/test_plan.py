"""What the grader kernel runs (autograder.grade.plan): the instructor's cells the tests need, and no others."""

from __future__ import annotations

import pytest

from autograder.grade.plan import ANSWER, INSTRUCTOR, TEST, needed_instructor_cells, uses


def kept(*cells: tuple[str, str]) -> list[int]:
    return sorted(needed_instructor_cells(list(cells)))


SETUP = (INSTRUCTOR, "import numpy as np\nimport keras\nX = np.ones((4, 2))")


def test_a_cell_that_defines_what_a_test_reads_is_kept_and_a_figure_is_not():
    assert kept(SETUP,
                (INSTRUCTOR, "import matplotlib.pyplot as plt\nplt.plot(X[:, 0])\nplt.show()"),
                (INSTRUCTOR, "demo = np.sum(X)\nprint(demo)"),
                (ANSWER, "def f(x):\n    return x"),
                (TEST, "assert f(X).shape == (4, 2)")) == [0]


def test_what_a_kept_cell_reads_is_needed_too():
    assert kept(SETUP,
                (INSTRUCTOR, "def make():\n    return keras.Sequential([keras.layers.Dense(SIZE)])"),
                (INSTRUCTOR, "SIZE = 3"),
                (TEST, "model = make()")) == [0, 1, 2]


def test_a_method_call_on_a_needed_object_keeps_the_cell():
    """``X.sum()`` changes nothing, but ``model.fit(...)`` does: the plan cannot tell them apart, so keeps both."""
    assert kept(SETUP, (INSTRUCTOR, "demo = X.sum()"), (TEST, "print(X)")) == [0, 1]


def test_a_cell_that_changes_a_needed_object_in_place_is_kept():
    assert kept(SETUP,
                (INSTRUCTOR, "model = keras.Sequential([keras.layers.Dense(3)])"),
                (INSTRUCTOR, "model.fit(X, X, epochs=1)"),
                (INSTRUCTOR, "history = {}\nhistory['loss'] = [1.0]"),
                (TEST, "assert model.built")) == [0, 1, 2]


def test_a_module_call_does_not_keep_a_cell_unless_it_sets_global_state():
    assert kept(SETUP,
                (INSTRUCTOR, "np.mean(X)"),
                (INSTRUCTOR, "np.set_printoptions(precision=3)"),
                (TEST, "print(np.array([1.23456]))")) == [0, 2]


@pytest.mark.parametrize("test_code", [
    "for name in ['a', 'b']:\n    print(name)",
    "name = 'a'\nprint(name)",
    "def check(name):\n    return name\ncheck('a')",
    "print([name for name in 'ab'])",
    "with open('f') as name:\n    pass\nprint(name)",
])
def test_a_name_the_test_binds_itself_needs_no_earlier_cell(test_code):
    assert kept((INSTRUCTOR, "name = 'demo'"), (TEST, test_code)) == []


@pytest.mark.parametrize("test_code", [
    "name = name + '!'",
    "name += '!'",
    "def check():\n    return name\ncheck()",
    "check = lambda: name\ncheck()",
    "print([name for _ in 'ab'])",
    "if True:\n    print(name)\nname = 'later'",
])
def test_a_name_the_test_reads_before_binding_it_needs_its_cell(test_code):
    assert kept((INSTRUCTOR, "name = 'demo'"), (TEST, test_code)) == [0]


def test_a_cell_that_does_not_parse_keeps_itself_and_every_cell_before_it():
    assert kept((INSTRUCTOR, "a = 1"), (INSTRUCTOR, "this is not python ("), (INSTRUCTOR, "b = 2"),
                (TEST, "print(1)")) == [0, 1]


def test_magics_are_read_as_the_python_ipython_runs():
    found = uses("%matplotlib inline\nvalues = !ls\n%time total = sum(values)")
    assert found is not None and {"values"} <= found.defines


def test_a_star_import_keeps_the_cell():
    assert kept((INSTRUCTOR, "from math import *"), (TEST, "print(pi)")) == [0]


@pytest.mark.parametrize("test_code", [
    "def train(model):\n    model.fit()\ntrain(3)",  # a function's parameter
    "def train():\n    model = make()\n    model.fit()\ntrain()",  # a function's local
    "model = make()\nmodel.fit()",  # an object the cell made itself
])
def test_a_change_to_an_object_the_test_made_needs_no_earlier_cell(test_code):
    assert kept((INSTRUCTOR, "model = 'demo'"), (TEST, test_code)) == []


def test_a_change_to_an_earlier_object_from_inside_a_function_needs_its_cell():
    assert kept((INSTRUCTOR, "history = []"), (TEST, "def log():\n    history.append(1)\nlog()")) == [0]
