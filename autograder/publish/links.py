"""Where the course is published, and the Colab and Binder links generated from it.

The repository address lives in one place: ``[tool.course]`` of ``pyproject.toml``. A fork
changes it there, runs ``make release`` (each release notebook starts with its badges and the
Colab install cell) and ``python -m autograder links`` (the README's badges). The student edition
(``python -m autograder publish DEST --repository URL``) gets the same two cells pointing at its own
repository instead (:func:`with_launch_cells`).
"""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder import REPO_ROOT

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
LAUNCH_CELL_IDS = ("launch-badges", "launch-colab-setup")


@dataclass(frozen=True)
class Publication:
    """A GitHub repository and branch the course is published from."""

    repository: str  # https://github.com/OWNER/NAME
    branch: str = "main"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", self.repository):
            raise ValueError(f"a repository must be https://github.com/OWNER/NAME, got {self.repository!r}")
        if not re.fullmatch(r"[\w.-]+", self.branch):  # it goes into links and the install cell's code
            raise ValueError(f"a branch name is letters, digits, '.', '-' and '_', got {self.branch!r}")

    @property
    def slug(self) -> str:
        """``OWNER/NAME``."""
        return self.repository.removeprefix("https://github.com/")

    def colab_url(self, path: str) -> str:
        """Colab opens a notebook straight from the repository."""
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.branch}/{path}"

    def binder_url(self, path: str = "release") -> str:
        """Binder builds environment.yml and opens JupyterLab on ``path`` (a folder or a notebook)."""
        return f"https://mybinder.org/v2/gh/{self.slug}/{self.branch}?urlpath=lab/tree/{path}"

    def badges(self, path: str) -> str:
        """Markdown: an "Open in Colab" and a "launch Binder" badge for the notebook at ``path``."""
        return (f"[![Open In Colab]({COLAB_BADGE})]({self.colab_url(path)}) "
                f"[![Binder]({BINDER_BADGE})]({self.binder_url(path)})")

    @property
    def pip_requirement(self) -> str:
        """What Colab's install cell gives pip: the course package from the repository."""
        return f"git+{self.repository}@{self.branch}"


def publication(root: Path = REPO_ROOT) -> Publication:
    """The publication settings of the course at ``root`` (``[tool.course]`` in pyproject.toml)."""
    settings = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["course"]
    return Publication(settings["repository"], settings.get("branch", "main"))


def colab_setup_source(pub: Publication) -> str:
    """The first code cell of every release notebook: installs ``course`` on Colab, does nothing elsewhere."""
    return f'''\
# On Colab only: install the course's helper package from the repository. Colab already has
# TensorFlow, Keras and the rest, and --no-deps keeps them as they are. Elsewhere this does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "{pub.pip_requirement}"], check=True)'''


def launch_cells(pub: Publication, path: str) -> list:
    """The two cells that open a release notebook: its badges, then the Colab install cell."""
    badges = new_markdown_cell(f"{pub.badges(path)}\n\n*Deep networks that train* · [the course]"
                               f"({pub.repository})")
    setup = new_code_cell(colab_setup_source(pub))
    for cell, cell_id in zip((badges, setup), LAUNCH_CELL_IDS, strict=True):
        cell["id"] = cell_id
    return [badges, setup]


def with_launch_cells(nb, pub: Publication, path: str):
    """``nb`` opening with the launch cells of ``pub`` for the notebook at ``path`` (any earlier ones replaced)."""
    nb.cells = launch_cells(pub, path) + [cell for cell in nb.cells if cell.get("id") not in LAUNCH_CELL_IDS]
    return nb


def release_notebooks(root: Path = REPO_ROOT) -> list[str]:
    """Paths (relative to ``root``, with forward slashes) of the release notebooks, in order."""
    return sorted(path.relative_to(root).as_posix() for path in (root / "release").glob("*/*.ipynb"))


def readme_links(root: Path = REPO_ROOT) -> str:
    """Markdown for the README: a Binder badge for the whole course and a table of badges per notebook."""
    pub = publication(root)
    lines = [f"[![Binder]({BINDER_BADGE})]({pub.binder_url()}) the whole course in JupyterLab on Binder",
             "", "| notebook | open it |", "|---|---|"]
    lines += [f"| [{Path(path).stem}]({path}) | {pub.badges(path)} |" for path in release_notebooks(root)]
    return "\n".join(lines)


README_START = "<!-- links: generated by `python -m autograder links` from [tool.course] in pyproject.toml -->"
README_END = "<!-- end of links -->"


def update_readme(path: Path, root: Path = REPO_ROOT) -> bool:
    """Rewrite the links block of the README at ``path`` (between its two markers); whether it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    new = text[:start] + "\n" + readme_links(root) + "\n" + text[end:]
    path.write_text(new, encoding="utf-8")
    return new != text


LINKED_PATH = re.compile(
    r"https://colab\.research\.google\.com/github/(?P<c_slug>[\w.-]+/[\w.-]+)/blob/(?P<c_branch>[\w.-]+)/"
    r"(?P<c_path>[^)\s\"]+)"
    r"|https://mybinder\.org/v2/gh/(?P<b_slug>[\w.-]+/[\w.-]+)/(?P<b_branch>[\w.-]+)\?urlpath=lab/tree/"
    r"(?P<b_path>[^)\s\"]+)"
)


def broken_links(text: str, root: Path = REPO_ROOT) -> list[str]:
    """Colab and Binder links in ``text`` to another repository or branch, or to a path that is not there."""
    pub = publication(root)
    problems = []
    for match in LINKED_PATH.finditer(text):
        slug = match["c_slug"] or match["b_slug"]
        branch = match["c_branch"] or match["b_branch"]
        path = match["c_path"] or match["b_path"]
        if (slug, branch) != (pub.slug, pub.branch):
            problems.append(f"{match[0]}: not {pub.slug}@{pub.branch}")
        elif not (root / path).exists():
            problems.append(f"{match[0]}: {path} does not exist")
    return problems


def main(args: argparse.Namespace) -> int:
    """The command, with the arguments :mod:`autograder.cli` parsed."""

    if args.write:
        changed = update_readme(args.write)
        print(f"{args.write}: links {'updated' if changed else 'already up to date'}")
    else:
        print(readme_links())
    return 0
