"""Benchmark (not a test): the CPU time a fresh Python process spends importing what every kernel imports.

Every notebook kernel, every grading job and every student's Validate starts with ``import course``
(TensorFlow, Keras, scikit-learn, matplotlib): a second of import CPU is a second per kernel, 75
seconds for a class of 75. Each statement runs in its own fresh interpreter ``--repeat`` times; the
median user + system CPU time and wall time are printed, with the versions that decide them.
Figures only: nothing is asserted.

    .venv/bin/python benchmarks/imports.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata

STATEMENTS = ("import numpy", "import ml_dtypes", "import sklearn.base", "import tensorflow", "import keras",
              "import course")
VERSIONS = ("tensorflow", "keras", "ml-dtypes", "numpy", "scikit-learn")


def cpu_and_wall(statement: str) -> tuple[float, float]:
    """User + system CPU seconds and wall seconds of ``python -c statement`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("versions:", ", ".join(f"{name} {metadata.version(name)}" for name in VERSIONS))
    subprocess.run([sys.executable, "-c", "import course"], check=True, capture_output=True)  # warm the file cache
    print(f"{'statement':<22} {'CPU s (median)':>15} {'wall s (median)':>16}")
    for statement in STATEMENTS:
        runs = [cpu_and_wall(statement) for _ in range(args.repeat)]
        print(f"{statement:<22} {statistics.median(cpu for cpu, _ in runs):>15.2f} "
              f"{statistics.median(wall for _, wall in runs):>16.2f}")


if __name__ == "__main__":
    main()
