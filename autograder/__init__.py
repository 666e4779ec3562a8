"""The grading side of the course: nbgrader wrappers for instructors.

``python -m autograder selfcheck`` proves every assignment's hidden tests: the
solution earns full marks and the blank release earns zero.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the course directory this package ships with
