"""When a cell does not parse: each line matched with the rules' regular expressions, made from their tables."""

from __future__ import annotations

import functools
import re

from autograder.integrity.findings import Finding
from autograder.integrity.rules import RULES

BY_TEXT = " (matched by text: the cell does not parse)"


@functools.cache
def text_rules() -> tuple[tuple[re.Pattern, str, str], ...]:
    """(pattern, rule id, message) of every rule."""
    return tuple((re.compile(pattern), rule.id, message) for rule in RULES for pattern, message in rule.text_patterns())


def scan_text(source: str) -> list[Finding]:
    """What the rules find in ``source`` line by line, by text (comments left out)."""
    found = []
    for number, line in enumerate(source.split("\n"), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        for pattern, rule, message in text_rules():
            if pattern.search(code):
                found.append(Finding(rule, number, message + BY_TEXT))
    return found
