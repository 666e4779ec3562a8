"""Sanitizing preprocessor: a graded cell the student duplicated becomes an ordinary cell.
"""

from __future__ import annotations

from nbgrader.preprocessors import DeduplicateIds


class DeduplicateGradeIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, minus its crash on the copies a student made.

    A student who duplicates a graded cell leaves two cells with one grade_id.  nbgrader
    keeps the last and empties the other's ``nbgrader`` metadata to ``{}``, which its own
    schema check then rejects ("old version of the nbgrader metadata format") and the
    whole notebook goes ungraded.  We remove the key instead: the copy becomes an
    ordinary cell.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.get("metadata", {}).get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
