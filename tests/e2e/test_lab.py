"""`make lab` (a student's JupyterLab on release/) and `make instructor` (with nbgrader's instructor tools)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:create-assignment"}


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _disabled_extensions(page: str) -> set[str]:
    """The lab page's own configuration (a JSON script element) names the extensions it turns off."""
    config = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert config, "the lab page carries no configuration"
    return set(json.loads(config.group(1)).get("disabledExtensions", []))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _serve(target: str, tmp_path: Path):
    """Start `make <target>` on a free port; returns (process, base url, token)."""
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / f"runtime-{target}")}
    env.pop("JUPYTER_CONFIG_PATH", None)
    lab = subprocess.Popen(["make", "--no-print-directory", target, f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline, status = time.monotonic() + 120, None
    while time.monotonic() < deadline and lab.poll() is None:
        try:
            status, _ = _get(f"{base}/api/status?token={token}")
            break
        except OSError:
            time.sleep(0.5)
    log = lab.stdout.read1().decode() if lab.poll() is not None else ""
    assert status == 200, f"JupyterLab did not answer: {log}"
    return lab, base, token


def _stop(lab) -> None:
    if lab.poll() is None:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)


@pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(), reason="run through `make test`")
def test_make_lab_serves_the_course_with_the_student_tools_only(tmp_path):
    lab, base, token = _serve("lab", tmp_path)
    try:
        status, page = _get(f"{base}/lab?token={token}")
        assert status == 200 and "JupyterLab" in page
        _, listing = _get(f"{base}/api/contents?token={token}")
        names = {item["name"] for item in json.loads(listing)["content"]}
        assert "01_vanishing_exploding" in names, f"the server's root is not release/: {names}"
        assert _disabled_extensions(page) >= INSTRUCTOR_PLUGINS  # no formgrader or create-assignment panel
        assert "@jupyter/nbgrader:assignment-list" not in _disabled_extensions(page)  # the Assignments tab stays
        assert _status(f"{base}/formgrader?token={token}") == 404  # nor the formgrader's server side
    finally:
        _stop(lab)


@pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(), reason="run through `make test`")
def test_make_instructor_serves_the_course_directory_with_the_formgrader(tmp_path):
    lab, base, token = _serve("instructor", tmp_path)
    try:
        _, page = _get(f"{base}/lab?token={token}")
        assert not _disabled_extensions(page) & INSTRUCTOR_PLUGINS
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            status = opener.open(f"{base}/formgrader?token={token}", timeout=30).status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status in (200, 302), status  # the formgrader answers (302: to its first page)
        _, listing = _get(f"{base}/api/contents?token={token}")
        names = {item["name"] for item in json.loads(listing)["content"]}
        assert {"source", "release", "nbgrader_config.py"} <= names
    finally:
        _stop(lab)


def test_binder_starts_students_with_the_student_tools():
    """repo2docker runs ./start before JupyterLab: it must put the student config first."""
    result = subprocess.run([str(ROOT / "start"), "sh", "-c", "echo $JUPYTER_CONFIG_PATH"], capture_output=True,
                            text=True, check=True, env={k: v for k, v in os.environ.items()
                                                        if k != "JUPYTER_CONFIG_PATH"})
    assert result.stdout.strip() == str(ROOT / "tools" / "jupyter-student")
