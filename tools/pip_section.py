"""Print environment.yml's pip section as a requirements file (the course package as ``-e .[lab]``).

``make`` installs the development environment from it, so every CI run installs the exact pins
Binder builds, on a fresh machine, without conda. Standard library only: it runs before anything
is installed.

    python tools/pip_section.py environment.yml > requirements.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def pip_section(text: str) -> list[str]:
    """The entries under ``- pip:`` in a conda environment file, comments dropped."""
    lines, inside, indent = [], False, 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if re.fullmatch(r"\s*-\s*pip:\s*", line):
            inside, indent = True, len(line) - len(line.lstrip())
            continue
        if inside:
            if len(line) - len(line.lstrip()) <= indent:
                break
            lines.append(line.strip().removeprefix("-").strip())
    return lines


if __name__ == "__main__":
    for entry in pip_section(Path(sys.argv[1]).read_text()):
        print(f"-e {entry}" if entry.startswith(".") else entry)
