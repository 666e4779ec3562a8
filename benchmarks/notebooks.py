"""Benchmark (not a test): wall time and peak memory of each solution notebook, and of selfcheck.

Runs each source notebook (the solutions) top to bottom in a fresh kernel, as nbgrader
would, and reports the kernel's peak resident memory.  Then times
``python -m autograder selfcheck``.  Figures only: nothing is asserted.

    .venv/bin/python benchmarks/notebooks.py [--skip-selfcheck] [ASSIGNMENT ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Executed in a child process so that RUSAGE_CHILDREN covers only the kernel it starts.
RUNNER = """
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
started = time.perf_counter()
NotebookClient(nb, timeout=600, allow_errors=True, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
wall = time.perf_counter() - started
errors = sum(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, reaped at shutdown
print(json.dumps({"wall_s": wall, "kernel_peak_mib": peak_kib / 1024, "errors": errors}))
"""


def run_notebook(path: Path) -> dict:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as workdir:
        result = subprocess.run([sys.executable, "-c", RUNNER, str(path), workdir],
                                capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--skip-selfcheck", action="store_true")
    args = parser.parse_args()
    names = args.assignments or sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    print(f"{'notebook':<48} {'wall (s)':>9} {'kernel peak RSS (MiB)':>22} {'errors':>7}")
    for name in names:
        for path in sorted((ROOT / "source" / name).glob("*.ipynb")):
            figures = run_notebook(path)
            label = f"{name}/{path.name}"
            wall, peak, errors = figures["wall_s"], figures["kernel_peak_mib"], figures["errors"]
            print(f"{label:<48} {wall:>9.1f} {peak:>22.0f} {errors:>7}")
    if not args.skip_selfcheck:
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "autograder", "selfcheck", *args.assignments],
                                cwd=ROOT, capture_output=True, text=True)
        print(result.stdout.strip())
        elapsed = time.perf_counter() - started
        print(f"python -m autograder selfcheck: {elapsed:.1f} s wall, exit {result.returncode}")


if __name__ == "__main__":
    main()
