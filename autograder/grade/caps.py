"""The caps each sandboxed kernel runs under, and what to say when one stopped something: its control group
(:mod:`autograder.grade.cgroups`: memory, processes), or where there is none the memory watchdog and the disk
watch; killing a kernel's whole process tree.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.grade import cgroups
from autograder.grade import sandbox as sandboxes
from autograder.settings import Limits


def group_for(limits: Limits) -> tuple[cgroups.Group | None, str]:
    """The sandbox's control group (memory: the processes' cap plus the disk's, whose tmpfs it holds)."""
    try:
        memory = limits.memory_mb + limits.disk_mb if limits.memory_mb else None
        return cgroups.create(memory_mb=memory, processes=limits.processes), ""
    except cgroups.Unavailable as why:
        return None, str(why)


def fallback_notes(limits: Limits, space: sandboxes.Space, no_group: str) -> list[str]:
    """What the row says where a cap is weaker than it should be (no control group, no tmpfs of its own)."""
    notes = []
    if no_group:
        notes.append(f"limits WITHOUT control groups ({no_group}): memory watched process by process, "
                     f"processes limited per user")
    if not space.mounted:
        notes.append(f"disk cap WITHOUT a tmpfs of its own ({space.mount_problem}): /tmp and /dev/shm "
                     f"{limits.disk_mb} MB each, the working folder watched")
    return notes


@dataclass
class Disk:
    """What the watchdog saw of the sandbox's space: the most in use, and whether it was ever full."""

    peak_mb: float = 0.0
    peak_files: int = 0
    full: bool = False
    stopped: bool = False  # the working folder outgrew the cap where no tmpfs enforces it

    def see(self, space: sandboxes.Space) -> None:
        used_mb, files = space.used()
        self.peak_mb, self.peak_files = max(self.peak_mb, used_mb), max(self.peak_files, files)
        self.full = self.full or space.full()

    def problem(self, name: str, space: sandboxes.Space) -> str:
        if not space.mounted:
            return (f"{name}: disk cap: writing more failed with 'No space left on device' (cap {space.disk_mb} MB "
                    f"for /tmp and for /dev/shm)")
        return (f"{name}: disk cap: writing more failed with 'No space left on device' (cap {space.disk_mb} MB and "
                f"{sandboxes.DISK_FILES} files for the working folder, /tmp and /dev/shm together; the most "
                f"seen in use: {self.peak_mb:.0f} MB in {self.peak_files} files)")


def out_of_space(nb: nbformat.NotebookNode) -> bool:
    """Whether a cell failed for want of disk space (ENOSPC)."""
    return any(output.get("output_type") == "error"
               and ("No space left on device" in str(output.get("evalue", "")) or "[Errno 28]" in
                    str(output.get("evalue", "")))
               for cell in nb.cells for output in cell.get("outputs", []))


PROCESS_MARGIN = 64  # RLIMIT_NPROC above the pids cap, so the cap (which says so) is the one that stops


def caps_reached(group: cgroups.Group, limits: Limits, name: str) -> list[str]:
    """The row's words for the control group's caps that stopped something."""
    reached, usage, problems = group.reached(), group.usage(), []
    prefix = f"{name}: " if name else ""
    if "memory" in reached:
        problems.append(f"{prefix}memory cap: the notebook's processes and files held {usage.memory_mb:.0f} MB "
                        f"(cap {limits.memory_mb + limits.disk_mb} MB: {limits.memory_mb} MB of memory plus "
                        f"{limits.disk_mb} MB of files) and a process was stopped")
    if "processes" in reached:
        problems.append(f"{prefix}process cap: starting a process or thread failed at the cap of "
                        f"{limits.processes} processes and threads")
    return problems


def kill_tree(process: subprocess.Popen) -> None:
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        children = tree.get(todo.pop(), [])
        found += children
        todo += children
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def kill_large(pid: int, cap_mb: int, problems: list[str]) -> None:
    """Kill any process under ``pid`` (a kernel) whose resident memory passes ``cap_mb``."""
    for child in _descendants(pid):
        rss = rss_mb(child)
        if rss > cap_mb:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                continue
            problems.append(f"memory cap: a kernel used {rss:.0f} MB (cap {cap_mb} MB) and was stopped")
