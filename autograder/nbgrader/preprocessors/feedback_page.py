"""Feedback preprocessor: the feedback page reads as the notebook does.

nbgrader's feedback template (bootstrap, no JupyterLab styles) rendered three things badly:

* the prose markers notebook authors put after a printed number (``0.56 <!-- out: minimum loss -->``,
  checked by ``tests/notebooks/test_prose_numbers.py``): a marker at the start of a line is an HTML block to
  Markdown, which ends the paragraph, so the sentence was split in two. The markers are removed from
  markdown cells, with the line break before them, and the sentence joins up as the author wrote it;
* the one-line message of a failed check sat in a box that scrolled sideways: error outputs now wrap;
* Markdown tables had no padding or rules: their cells get both.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

# A marker with the spaces (and at most one line break) before it: "2.31\n<!-- out: x -->, about" -> "2.31, about"
MARKER = re.compile(r"[ \t]*(?:\r?\n[ \t]*)?<!--\s*out:.*?-->", re.DOTALL)
CSS = """
div.output_error pre, div.output_stderr pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: normal; overflow-x: visible;
}
div.text_cell_render table { border-collapse: collapse; margin: 0.6em 0 1em; }
div.text_cell_render th, div.text_cell_render td { border: 1px solid #c8c8c8; padding: 0.3em 0.8em; text-align: left; }
div.text_cell_render thead th { background: #f2f2f2; }
"""


def without_markers(markdown: str) -> str:
    """``markdown`` without its ``<!-- out: ... -->`` markers (the text around them joined)."""
    return MARKER.sub("", markdown)


class ReadableFeedback(NbGraderPreprocessor):
    """GenerateFeedback preprocessor (after CSSHTMLHeaderPreprocessor): markers out, error text wrapped,
    tables spaced."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = without_markers(cell.source)
        resources.setdefault("inlining", {}).setdefault("css", []).append(CSS)
        return nb, resources
