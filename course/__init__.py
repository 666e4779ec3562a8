"""Helpers for the course "Deep networks that train".

The notebooks import this package for the parts that are not the lesson:
data loading, seeding, the measuring instruments, plots, widgets and the
assertion helpers behind the tests.  It never contains exercise solutions.
"""

import os

# TensorFlow prints C++ start-up logs (CUDA probing on CPU machines); students do not need them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from course.reproducibility import set_seed  # noqa: E402

__all__ = ["set_seed"]
__version__ = "0.1.0"
