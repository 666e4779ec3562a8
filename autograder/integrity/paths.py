"""Whether a path, read from the literals it is made of, leaves the submission folder."""

from __future__ import annotations

import re

GRADER_FOLDERS = {"source", "release", "submitted", "autograded", "feedback", ".nbgrader"}
URL = re.compile(r"^(https?|ftp)://", re.IGNORECASE)


def path_problem(parts: list[str]) -> str | None:
    """Why a path made of these literals is outside the submission folder (None: not as far as we see)."""
    if not parts:
        return None
    head = parts[0]
    if head.startswith(("/", "~", "\\\\")) or re.match(r"^[A-Za-z]:[\\/]", head):
        return f"absolute path {head!r}"
    for part in parts:
        if URL.match(part):
            return None  # a URL is the network rule's business
        components = [c for c in re.split(r"[\\/]", part) if c]
        if ".." in components:
            return f"'..' in {part!r}"
        for component in components:
            low = component.lower()
            if low in GRADER_FOLDERS or "gradebook" in low or low == "nbgrader_config.py":
                return f"the grader's {component!r}"
            if low.endswith(".ipynb"):
                return f"a notebook {component!r}"
    return None


def dotdot(text: str) -> bool:
    """Whether ``text`` has ``..`` as a path component (``'../x'``, ``'a/../b'``; not ``'loss...'``)."""
    return ".." in re.split(r"[\\/]", text)
