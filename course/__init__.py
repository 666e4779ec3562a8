"""Helpers for the course "Deep networks that train".

The notebooks import this package for the parts that are not the lesson:
data loading, seeding, the measuring instruments, plots, widgets and the
assertion helpers behind the tests.  Some instruments compute what an exercise
asks for; they refuse to run while that exercise's answer is tested (``course.lockout``).
"""

import contextlib
import os

# TensorFlow prints C++ start-up logs (CUDA probing, oneDNN, CPU features) while it loads; students do not need
# them. TF_CPP_MIN_LOG_LEVEL no longer stops the ones written before absl's logging starts, so TensorFlow is
# loaded here once with the process's standard error (file descriptor 2, which Jupyter shows) pointed at
# /dev/null, then restored. Python exceptions are not affected: they are raised, not written to that descriptor.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _descriptor_2_silenced():
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _descriptor_2_silenced():
    import tensorflow  # noqa: E402, F401

from course.reproducibility import set_seed  # noqa: E402

__all__ = ["set_seed"]
__version__ = "0.1.0"
