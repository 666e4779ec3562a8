"""environment.yml (what Binder builds) and pyproject.toml name the same dependencies."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from pip_section import pip_section  # noqa: E402


def test_pip_section_is_what_make_installs():
    text = (ROOT / "environment.yml").read_text()
    entries = pip_section(text)
    assert entries[-1] == "." and all("==" in entry for entry in entries[:-1]), entries
    assert pip_section("dependencies:\n  - pip\n  - pip:\n      - a==1  # why\n      - .\nother: x\n") == ["a==1", "."]
