"""Feedback preprocessor: an explorer widget becomes a short note a student can read.

An explorer (an ipywidgets view) in a graded notebook is only a reference to widget state that lives in
a running kernel. Static HTML cannot draw it: the feedback showed an empty box where each explorer was,
or, with the widget state stored in the notebook's metadata, a page that loads the widget manager from
a CDN. ExplorerNotes replaces each widget view with a note and drops the stored widget state. The
student's own outputs (plots, prints) are left as they are.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTE = "(interactive explorer: open the notebook in JupyterLab to use it)"


class ExplorerNotes(NbGraderPreprocessor):
    """Widget views in outputs -> a plain note; the notebook's stored widget state is removed."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                output["data"] = {"text/plain": NOTE, "text/html": f"<p><em>{NOTE}</em></p>"}
                output.get("metadata", {}).pop(WIDGET_VIEW, None)
        return cell, resources
