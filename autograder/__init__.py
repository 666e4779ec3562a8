"""The grading side of the course: nbgrader wrappers for instructors.

``python -m autograder selfcheck`` proves every assignment's hidden tests: the
solution earns full marks and the blank release earns zero.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the course directory this package ships with

# jsonschema (under nbformat) imports rfc3987_syntax where it is installed, which builds a Lark grammar
# for the "iri" format at import: 1.2 s in every grading process. nbformat's notebook schema checks no
# "iri" field, so the module is marked missing (jsonschema then leaves that format unchecked).
sys.modules.setdefault("rfc3987_syntax", None)
