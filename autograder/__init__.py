"""The grading side of the course, for instructors, around nbgrader. The folders, in the order a term uses them:

- ``publish/``: the student edition and its Colab and Binder links;
- ``nbgrader/``: nbgrader's side (notebook cells, commands, the gradebook, the preprocessors by stage);
- ``intake/``: an LMS download into ``submitted/``, each file read and repaired;
- ``integrity/``: the static scan of students' code, for a person to review;
- ``grade/``: the grading pipeline (``coordinator`` drives it: sanitize, plan, judge in two sandboxed kernels,
  record);
- ``report/``: the report, what the class got wrong, the feedback handed back to the LMS;
- ``selfcheck/``: the solution earns full marks and the blank release zero;
- ``settings`` (the limits), ``cli`` (``python -m autograder COMMAND``: parses arguments, calls each package's
  ``main``).
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the course directory this package ships with

# jsonschema (under nbformat) imports rfc3987_syntax where it is installed, which builds a Lark grammar
# for the "iri" format at import: 1.2 s in every grading process. nbformat's notebook schema checks no
# "iri" field, so the module is marked missing (jsonschema then leaves that format unchecked).
sys.modules.setdefault("rfc3987_syntax", None)
