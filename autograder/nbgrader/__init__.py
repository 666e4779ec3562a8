"""nbgrader's side: what the pipeline reads and runs through nbgrader.

- ``notebooks``: which cells of an nbgrader notebook are exercises, tests and answers;
- ``commands``: nbgrader's commands run from Python (``generate_assignment``, ``generate_feedback`` ...);
- ``gradebook``: every cell's score read back from the gradebook;
- ``backup``: a dated copy of the gradebook before anything rewrites it;
- ``preprocessors/``: the preprocessors ``nbgrader_config.py`` configures, one per file, by stage.
"""
