"""Numbers the prose quotes are the numbers the notebook prints.

Convention (for notebook authors): right after a number in a markdown cell, write ``<!-- out: LABEL -->``
(invisible when rendered), where LABEL is text that appears on the output line that prints the number. This test
reads the solution notebook as the grader executed it and checks, for every marker, that some output line
containing LABEL carries the number (thousands separators ignored; a number the prose rounds, such as 0.56 for a
printed 0.5625, counts). Numbers that are not printed must say what they were measured on instead, and so must
numbers of a chaotic run (a network near blowing up, thirty layers of SGD): those move with the processor's
last-bit rounding, and the notebooks quote them with the machine they came from, unmarked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat
import pytest

from autograder.nbgrader import notebooks

MARKER = re.compile(r"<!--\s*out:\s*(?P<label>.+?)\s*-->")
NUMBER = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class QuotedNumber:
    cell: int
    number: str  # as the prose writes it
    label: str


def quoted_numbers(nb) -> list[QuotedNumber]:
    """Every marked number of the markdown cells: the last number before each marker, and the marker's label."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        start = 0
        for marker in MARKER.finditer(cell.source):
            before = cell.source[start:marker.start()]
            numbers = NUMBER.findall(before)
            found.append(QuotedNumber(index, numbers[-1] if numbers else "", marker.group("label")))
            start = marker.end()
    return found


def _value(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def _decimals(text: str) -> int:
    mantissa = text.lower().split("e")[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def matches(quoted: str, printed: str) -> bool:
    """The prose's number is the printed one, or the printed one rounded to the prose's digits."""
    if quoted.replace(",", "") == printed.replace(",", ""):
        return True
    if "e" in quoted.lower() or "e" in printed.lower():
        return _value(quoted) == _value(printed)
    return round(_value(printed), _decimals(quoted)) == _value(quoted) and _decimals(printed) >= _decimals(quoted)


def output_lines(nb) -> list[str]:
    """Every line the executed notebook printed or displayed as text."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text = output.get("text", "")
            else:
                text = output.get("data", {}).get("text/plain", "")
            lines.extend(text.splitlines())
    return lines


def mismatches(nb) -> list[str]:
    """One sentence per marked number that no output line with its label carries."""
    lines = output_lines(nb)
    problems = []
    for quoted in quoted_numbers(nb):
        if not quoted.number:
            problems.append(f"cell {quoted.cell}: no number before the marker 'out: {quoted.label}'")
            continue
        labelled = [line for line in lines if quoted.label in line]
        if not labelled:
            problems.append(f"cell {quoted.cell}: no output line contains {quoted.label!r} (for {quoted.number})")
        elif not any(matches(quoted.number, printed) for line in labelled for printed in NUMBER.findall(line)):
            problems.append(f"cell {quoted.cell}: the prose says {quoted.number} for {quoted.label!r}, the output "
                            f"says: {' | '.join(labelled)[:300]}")
    return problems


def _notebook(markdown: str, printed: str):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(...)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb.cells = [code, nbformat.v4.new_markdown_cell(markdown)]
    return nb


def test_a_marked_number_must_be_printed_with_its_label():
    printed = "trainable parameters: 46,578\nminimum loss over seeds: 0.5625\n"
    agreeing = _notebook("It has **46,578** <!-- out: trainable parameters --> parameters and a loss of 0.56"
                         "<!-- out: minimum loss -->.", printed)
    assert [q.number for q in quoted_numbers(agreeing)] == ["46,578", "0.56"]
    assert mismatches(agreeing) == []
    wrong_number = _notebook("It has 46,628 <!-- out: trainable parameters --> parameters.", printed)
    assert "the prose says 46,628" in mismatches(wrong_number)[0]
    wrong_label = _notebook("A loss of 0.5625 <!-- out: maximum loss -->.", printed)
    assert "no output line contains 'maximum loss'" in mismatches(wrong_label)[0]
    too_precise = _notebook("A loss of 0.56250 <!-- out: minimum loss -->.", printed)
    assert mismatches(too_precise)
    assert mismatches(_notebook("no number <!-- out: minimum loss -->", printed))


@pytest.mark.notebooks
def test_numbers_in_the_prose_are_what_the_notebook_prints(graded_classes):
    """For each notebook: its executed solution (as graded) prints every number its prose marks."""
    checked, problems = 0, []
    for name, graded in graded_classes.items():
        source = notebooks.read(graded.course / "source" / name / graded.spec.NOTEBOOK)
        executed = notebooks.read(graded.autograded_dir("solution") / "autograded" / "solution" / name
                                  / graded.spec.NOTEBOOK)
        # The graded notebook is the release plus solutions: its markdown is the source's.
        checked += len(quoted_numbers(source))
        problems += [f"{name}: {problem}" for problem in mismatches(executed)]
    assert not problems, "\n".join(problems)  # every notebook's, not only the first failing one's
    assert checked or len(graded_classes) < 6, "no marked number in any notebook: the convention is unused"
