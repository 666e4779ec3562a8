"""Attacks on the grading machine's memory, disk and process table, each graded through ``grade``.

Each attack lies in the first answer cell of a tiny-course notebook whose second answer is honest. On the
code before issue 27 each one got through: 1.5 GB in the sandbox's ``/tmp`` (host memory), 600 MB in
``/dev/shm`` and in the working folder (host disk), a million files, children holding more than the memory
cap between them, and nothing on the row. Now each must end with its row naming the cap that stopped it,
the cell that hit the cap costing its exercise only, and the honest student of the same run graded as
always. A second run fills two sandboxes at once on two workers while a thread reads ``/proc/meminfo``:
the machine's shared memory and available memory may move by no more than the caps summed over the
workers (plus a margin for the coordinator).

The caps need cgroups and a tmpfs of the sandbox's own (root): elsewhere these tests skip, unless
``COURSE_REQUIRE_SANDBOX=1`` (CI), where they must run.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
import pytest

from autograder.grade import cgroups
from autograder.grade import sandbox as sandboxes
from autograder.grade.coordinator import Limits, grade, local_runner
from autograder.nbgrader.course import Course
from tests import tiny_course as tiny

pytestmark = pytest.mark.notebooks

MEMORY_MB, DISK_MB = 1024, 256
LIMITS = Limits(timeout=240, cell_timeout=90, memory_mb=MEMORY_MB, processes=100, file_mb=1024, disk_mb=DISK_MB)
HONEST_ADD, HONEST_MEAN = tiny.HONEST["ex1-add"], tiny.HONEST["ex2-mean"]

# Writes ``total_mb`` into ``folder`` in 64 MB files (below the per-file limit), then keeps them.
FILL = '''\
import os
def fill(folder, total_mb):
    chunk = b"\\1" * (64 * 2**20)
    for index in range(total_mb // 64):
        with open(os.path.join(folder, f"filler-{index}"), "wb") as out:
            out.write(chunk)
'''
MANY_FILES = '''\
import os
for index in range(1_000_000):
    os.close(os.open(f"/tmp/empty-{index}", os.O_CREAT | os.O_WRONLY, 0o600))
'''
# Three children of 500 MB each: every process stays under the per-process watchdog (1024 MB), together not.
CHILDREN = '''\
import subprocess, sys
HOLD = "import sys, time\\nblock = b'\\\\1' * (500 * 2**20)\\nprint('ready', flush=True)\\ntime.sleep(600)"
children = [subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE) for _ in range(3)]
for child in children:
    assert child.stdout.readline() == b"ready\\n", "a child was stopped"
'''
FORK_BOMB = '''\
import os, time
while True:
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
'''

ATTACKS = {
    "fills-tmp": FILL + f"fill('/tmp', {MEMORY_MB + 512})",  # past the memory cap
    "fills-shm": FILL + "fill('/dev/shm', 640)",
    "fills-workdir": FILL + "fill('.', 640)",
    "many-files": MANY_FILES,
    "child-memory": CHILDREN,
    "fork-bomb": FORK_BOMB,
}
# student -> (score, the cap its row must name); each attack costs ex1 (2 points), ex2 (3 points) stands
EXPECTED = {"fills-tmp": (3, "disk cap"), "fills-shm": (3, "disk cap"), "fills-workdir": (3, "disk cap"),
            "many-files": (3, "disk cap"), "child-memory": (3, "memory cap"), "fork-bomb": (3, "process cap")}
CAPS = ("memory cap", "disk cap", "process cap")


def _require_caps() -> None:
    why = sandboxes.bwrap_problem() or cgroups.problem() or sandboxes.tmpfs_problem()
    if why and not os.environ.get("COURSE_REQUIRE_SANDBOX"):
        pytest.skip(f"the memory and disk caps cannot be made here: {why}")


def _course(root: Path, students: dict[str, str]) -> Course:
    """The tiny course, with each student's first answer cell ``students[name]`` and an honest second one."""
    tiny.build(root)
    release = tiny.release(root)
    for student, attack in students.items():
        folder = root / "submitted" / student / tiny.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(tiny.with_answers(release, {"ex1-add": attack, "ex2-mean": HONEST_MEAN}),
                       folder / tiny.NOTEBOOK)
    return Course(root)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    _require_caps()
    course = _course(tmp_path_factory.mktemp("limits") / "course", ATTACKS | {"honest": HONEST_ADD})
    rows = grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(2), sandbox="bwrap",
                 log=lambda line: None)
    return course, {row.student: row for row in rows}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_attack_is_stopped_by_its_cap_and_the_row_says_which(attacked, student):
    _, rows = attacked
    row = rows[student]
    score, cap = EXPECTED[student]
    assert (row.score, row.max_score, row.sandbox) == (score, 5, "bwrap"), row
    text = " ".join(row.reasons)
    assert cap in text, f"{student}: {cap!r} not on its row: {row.reasons}"
    assert not [other for other in CAPS if other != cap and other in text], row.reasons


def test_the_honest_student_of_the_same_run_is_graded_as_always(attacked):
    course, rows = attacked
    row = rows["honest"]
    assert (row.score, row.max_score, row.status, row.reasons, row.flags, row.sandbox) == (
        5, 5, "graded", [], [], "bwrap"), row
    nb = nbformat.read(course.root / "autograded" / "honest" / tiny.ASSIGNMENT / tiny.NOTEBOOK, as_version=4)
    assert not [output for cell in nb.cells for output in cell.get("outputs", [])
                if output.get("output_type") == "error"]


def test_the_caps_give_the_students_code_an_error_it_can_read(attacked):
    """A full disk is ENOSPC in the cell, a full process table is EAGAIN: the cell fails, as any error does."""
    course, _ = attacked

    def errors(student: str) -> str:
        nb = nbformat.read(course.root / "autograded" / student / tiny.ASSIGNMENT / tiny.NOTEBOOK, as_version=4)
        return " ".join(f"{output.get('ename')}: {output.get('evalue')}" for cell in nb.cells
                        for output in cell.get("outputs", []) if output.get("output_type") == "error")

    for student in ("fills-tmp", "fills-shm", "fills-workdir", "many-files"):
        assert "No space left on device" in errors(student), student
    assert "Resource temporarily unavailable" in errors("fork-bomb")


def test_the_row_gives_the_cap_in_megabytes(attacked):
    _, rows = attacked
    assert f"cap {DISK_MB} MB" in " ".join(rows["fills-tmp"].reasons)
    assert f"cap {MEMORY_MB + DISK_MB} MB" in " ".join(rows["child-memory"].reasons)
    assert f"{LIMITS.processes} processes" in " ".join(rows["fork-bomb"].reasons)


class MeminfoSampler:
    """Reads ``/proc/meminfo`` every 0.2 s in a thread: the highest Shmem and the lowest MemAvailable, in MB."""

    def __init__(self) -> None:
        self.first = self._read()
        self.shmem_peak, self.available_low = self.first["Shmem"], self.first["MemAvailable"]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    @staticmethod
    def _read() -> dict[str, float]:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        return {name: int(fields[name].split()[0]) / 1024 for name in ("Shmem", "MemAvailable")}

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            now = self._read()
            self.shmem_peak = max(self.shmem_peak, now["Shmem"])
            self.available_low = min(self.available_low, now["MemAvailable"])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


# Fills its sandbox's /tmp with 2 GB and /dev/shm with 512 MB, then holds them for 8 s (both sandboxes at once).
FILL_ALL = FILL + '''\
import time
try:
    fill('/tmp', 2048)
    fill('/dev/shm', 512)
finally:
    time.sleep(8)
'''
SMALL = Limits(timeout=240, cell_timeout=90, memory_mb=512, processes=200, file_mb=1024, disk_mb=128)
WORKERS = 2
COORDINATOR_MB = 1536  # the grading process, its worker threads and the rest of the machine moving meanwhile


@pytest.fixture(scope="module")
def two_fillers(tmp_path_factory):
    _require_caps()
    course = _course(tmp_path_factory.mktemp("limits-memory") / "course",
                     {"filler-1": FILL_ALL, "filler-2": FILL_ALL})
    sampler = MeminfoSampler()
    try:
        rows = grade(course, tiny.ASSIGNMENT, limits=SMALL, runner=local_runner(WORKERS), sandbox="bwrap",
                     log=lambda line: None)
    finally:
        sampler.close()
    return rows, sampler


def test_two_sandboxes_filling_at_once_stay_within_their_caps(two_fillers):
    rows, sampler = two_fillers
    for row in rows:
        assert "disk cap" in " ".join(row.reasons), row
    shmem_rise = sampler.shmem_peak - sampler.first["Shmem"]
    available_drop = sampler.first["MemAvailable"] - sampler.available_low
    assert shmem_rise <= WORKERS * SMALL.disk_mb + 64, (
        f"shared memory rose by {shmem_rise:.0f} MB, more than {WORKERS} sandboxes of {SMALL.disk_mb} MB of files")
    allowed = WORKERS * (SMALL.memory_mb + SMALL.disk_mb) + COORDINATOR_MB
    assert available_drop <= allowed, f"available memory fell by {available_drop:.0f} MB, more than {allowed} MB"


def test_a_control_group_stops_its_own_processes_only_and_goes_away():
    """The cgroups API on its own: a process past the memory cap is killed, a fork past the pids cap refused."""
    import subprocess
    import sys
    import tempfile

    why = cgroups.problem()
    if why and not os.environ.get("COURSE_REQUIRE_SANDBOX"):
        pytest.skip(f"no control group can be made here: {why}")
    group = cgroups.create(memory_mb=64, processes=16)
    try:
        hog = subprocess.run(group.wrap([sys.executable, "-c", "block = b'1' * (256 * 2**20)"]))
        assert hog.returncode == -9 and group.reached() == {"memory"}
        with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: the sleeping children keep it open
            subprocess.run(group.wrap([sys.executable, "-c", "import os, time\nfor _ in range(32):\n"
                                       "    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)"]),
                           stderr=errors)
            errors.seek(0)
            assert "Resource temporarily unavailable" in errors.read()
        assert group.reached() == {"memory", "processes"}
        assert group.usage().processes == 16 and group.usage().memory_mb == 64
    finally:
        group.remove()  # the sleeping children are killed with it
    assert not [folder for folder in group.folders.values() if folder.exists()]


@pytest.fixture(scope="module")
def without_cgroups(tmp_path_factory):
    """Grading where no control group and no tmpfs of its own can be made (not root, say): the fallback."""
    from unittest import mock

    problem = sandboxes.bwrap_problem()
    if problem and not os.environ.get("COURSE_REQUIRE_SANDBOX"):
        pytest.skip(f"bubblewrap cannot run here: {problem}")
    course = _course(tmp_path_factory.mktemp("limits-fallback") / "course",
                     {"fills-tmp": ATTACKS["fills-tmp"], "honest": HONEST_ADD})
    with mock.patch.object(cgroups, "create", side_effect=cgroups.Unavailable("none in this test")), \
            mock.patch.object(sandboxes, "_mount_tmpfs", return_value="none in this test"):
        rows = grade(course, tiny.ASSIGNMENT, limits=LIMITS, runner=local_runner(2), sandbox="bwrap",
                     log=lambda line: None)
    return {row.student: row for row in rows}


def test_without_control_groups_tmp_is_still_capped_and_the_row_says_the_limits_are_weaker(without_cgroups):
    row, honest = without_cgroups["fills-tmp"], without_cgroups["honest"]
    assert row.score == 3 and "disk cap" in " ".join(row.reasons), row
    assert (honest.score, honest.reasons) == (5, []), honest
    for each in (row, honest):
        assert each.sandbox.startswith("bwrap; ") and "WITHOUT control groups (none in this test)" in each.sandbox
        assert "disk cap WITHOUT a tmpfs of its own (none in this test)" in each.sandbox
