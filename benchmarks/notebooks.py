"""Benchmark (not a test): wall time, peak memory and the slowest cells of each solution notebook, and selfcheck.

Runs each source notebook (the solutions) top to bottom in a fresh kernel, as nbgrader
would, and reports the kernel's peak resident memory against the budget a student's
machine allows (Binder: 1-2 CPUs, about 2 GB shared with JupyterLab), then its slowest
cells, so the next change sees what it costs.  Then times ``python -m autograder selfcheck``.
Figures only: nothing is asserted.

    .venv/bin/python benchmarks/notebooks.py [--skip-selfcheck] [--cells 5] [ASSIGNMENT ...]
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
BUDGET_SECONDS, BUDGET_MIB = 30.0, 1200.0  # per notebook, on 2 cores

# Executed in a child process so that RUSAGE_CHILDREN covers only the kernel it starts.
RUNNER = """
import json, resource, sys, time
from datetime import datetime
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
started = time.perf_counter()
NotebookClient(nb, timeout=600, allow_errors=True, kernel_name="python3", record_timing=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
wall = time.perf_counter() - started
errors = sum(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, reaped at shutdown
cells = []
for index, cell in enumerate(nb.cells):
    timing = cell.metadata.get("execution", {})
    if cell.cell_type == "code" and "shell.execute_reply" in timing:
        seconds = (datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
                   - datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id") or f"cell {index}"
        cells.append([label, seconds])
print(json.dumps({"wall_s": wall, "kernel_peak_mib": peak_kib / 1024, "errors": errors, "cells": cells}))
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
    parser.add_argument("--cells", type=int, default=5, help="slowest cells listed per notebook (default: 5)")
    args = parser.parse_args()
    names = args.assignments or sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}; "
          f"budget per notebook: {BUDGET_SECONDS:g} s, {BUDGET_MIB:,.0f} MiB")
    results = []
    for name in names:
        for path in sorted((ROOT / "source" / name).glob("*.ipynb")):
            results.append((f"{name}/{path.name}", run_notebook(path)))
    print(f"{'notebook':<48} {'wall (s)':>9} {'kernel peak RSS (MiB)':>22} {'errors':>7}")
    for label, figures in results:
        wall, peak, errors = figures["wall_s"], figures["kernel_peak_mib"], figures["errors"]
        over = [what for what, bad in (("time", wall > BUDGET_SECONDS), ("memory", peak > BUDGET_MIB)) if bad]
        print(f"{label:<48} {wall:>9.1f} {peak:>22.0f} {errors:>7}" + (f"   OVER ({', '.join(over)})" if over else ""))
    print("\nslowest cells (seconds; the cell's grade_id or id):")
    for label, figures in results:
        slowest = sorted(figures["cells"], key=lambda cell: -cell[1])[:args.cells]
        total = sum(seconds for _, seconds in figures["cells"])
        print(f"{label}: cells {total:.1f} s of {figures['wall_s']:.1f} s wall; "
              + ", ".join(f"{cell} {seconds:.1f}" for cell, seconds in slowest))
    if not args.skip_selfcheck:
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "autograder", "selfcheck", *args.assignments],
                                cwd=ROOT, capture_output=True, text=True)
        print(result.stdout.strip())
        elapsed = time.perf_counter() - started
        print(f"python -m autograder selfcheck: {elapsed:.1f} s wall, exit {result.returncode}")


if __name__ == "__main__":
    main()
