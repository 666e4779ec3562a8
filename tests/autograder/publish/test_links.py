"""Colab and Binder: links generated from [tool.course], pointing at notebooks that exist."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from autograder.nbgrader import notebooks
from autograder.publish import links

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RELEASE = links.release_notebooks(ROOT)


def test_the_repository_address_is_read_from_pyproject():
    pub = links.publication(ROOT)
    assert pub.repository.startswith("https://github.com/") and pub.slug.count("/") == 1
    with pytest.raises(ValueError, match="OWNER/NAME"):
        links.Publication("https://gitlab.com/someone/course")
    with pytest.raises(ValueError, match="branch name"):  # it is written into the install cell's code
        links.Publication("https://github.com/someone/course", 'main"], check=True); import os; ["')


def test_links_name_the_notebook_the_repository_and_the_branch():
    pub = links.Publication("https://github.com/octo/dnt", "term-2027")
    path = "release/01_x/01_x.ipynb"
    assert pub.colab_url(path) == "https://colab.research.google.com/github/octo/dnt/blob/term-2027/" + path
    assert pub.binder_url(path) == "https://mybinder.org/v2/gh/octo/dnt/term-2027?urlpath=lab/tree/" + path
    assert pub.pip_requirement == "git+https://github.com/octo/dnt@term-2027"


@pytest.mark.parametrize("path", RELEASE)
def test_each_release_notebook_opens_with_its_own_badges_and_the_colab_cell(path):
    pub = links.publication(ROOT)
    cells = notebooks.read(ROOT / path).cells
    assert [cell.get("id") for cell in cells[:2]] == list(links.LAUNCH_CELL_IDS)
    assert pub.badges(path) in cells[0].source
    assert cells[1].source == links.colab_setup_source(pub)


def test_readme_has_the_generated_badge_table():
    assert links.readme_links(ROOT) in README, "run `python -m autograder links` and paste it into README.md"


def test_every_badge_points_at_a_notebook_that_exists():
    texts = {"README.md": README} | {path: (ROOT / path).read_text(encoding="utf-8") for path in RELEASE}
    found = sum(len(list(links.LINKED_PATH.finditer(text))) for text in texts.values())
    assert found >= 1 + 4 * len(RELEASE)  # the course badge; per notebook two in README, two in itself
    assert {name: links.broken_links(text, ROOT) for name, text in texts.items()} == dict.fromkeys(texts, [])


def test_broken_links_are_found():
    pub = links.publication(ROOT)
    assert links.broken_links(pub.badges("release/99_missing/99_missing.ipynb"), ROOT)
    other = links.Publication("https://github.com/someone/else", pub.branch)
    assert links.broken_links(other.colab_url(RELEASE[0]), ROOT)
    assert links.broken_links(pub.colab_url(RELEASE[0]), ROOT) == []


def _run_setup_cell(monkeypatch, on_colab: bool) -> list[list[str]]:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(args))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(links.colab_setup_source(links.publication(ROOT)), {})
    return calls


def test_the_colab_cell_installs_course_only_on_colab_and_replaces_nothing(monkeypatch):
    assert _run_setup_cell(monkeypatch, on_colab=False) == []
    [args] = _run_setup_cell(monkeypatch, on_colab=True)
    assert args[1:4] == ["-m", "pip", "install"] and "--no-deps" in args
    assert args[-1] == links.publication(ROOT).pip_requirement
    assert not any("tensorflow" in arg or "keras" in arg for arg in args)
