"""Release preprocessor: each student notebook opens with its Colab/Binder badges and Colab's install cell.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.publish import links


class AddLaunchCells(NbGraderPreprocessor):
    """Release preprocessor: open each student notebook with its Colab/Binder badges and Colab's install cell.

    Generated from ``[tool.course]`` in pyproject.toml (see :mod:`autograder.publish.links`), so the
    repository address is written in one place and every badge names its own notebook.
    """

    def preprocess(self, nb, resources):
        pub = links.publication()
        names = resources["nbgrader"]
        path = f"release/{names['assignment']}/{names['notebook']}.ipynb"
        nb.cells = links.launch_cells(pub, path) + [
            cell for cell in nb.cells if cell.get("id") not in links.LAUNCH_CELL_IDS]
        return nb, resources
