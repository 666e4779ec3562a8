"""A control group per sandbox: a memory cap that counts everything the sandbox holds, and a process cap.

The memory controller charges a group with its processes' memory, the pages of the files they write in
tmpfs (``/tmp``, ``/dev/shm``, the working folder), their page cache and shared memory: what the watchdog
of each process's resident memory cannot see. When the group reaches its cap the kernel's OOM killer
stops a process of that group only, never one of the machine. The pids controller caps the processes and
threads of the group, whichever user runs them (``RLIMIT_NPROC`` counts per user, so it holds per sandbox
only where each sandbox has a user of its own).

Each group is a child of the group this process is in (cgroup v1: one per controller; v2: one for
both, which needs the memory and pids controllers delegated to this process's group)::

    group = create(memory_mb=1280, processes=1024)   # raises Unavailable, saying why, where it cannot
    argv = group.wrap(argv)                          # the command joins the group before it starts
    ...                                              # run it
    group.reached()                                  # {"memory", "processes"}: the caps that stopped something
    group.usage()                                    # the peak memory in MB and the peak process count
    group.remove()                                   # kills what is left in it, removes it
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_names = itertools.count()
# Joins the groups whose cgroup.procs files are given before "--", then becomes the command after it.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


class Unavailable(RuntimeError):
    """No group can be made here; the message says why, in words."""


@dataclass(frozen=True)
class Usage:
    memory_mb: float  # the most memory the group held at once (processes, files in tmpfs, page cache)
    processes: int  # the most processes and threads at once (0 where the kernel does not keep it)


def _mounts() -> dict[str, tuple[Path, str]]:
    """Controller ("memory", "pids", or "" for cgroup v2) -> (mount point, the root of the mount)."""
    found: dict[str, tuple[Path, str]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype == "cgroup2":
            found.setdefault("", (Path(fields[4]), fields[3]))
        elif fstype == "cgroup":
            for option in fields[-1].split(","):
                if option in ("memory", "pids"):
                    found.setdefault(option, (Path(fields[4]), fields[3]))
    return found


def _own_groups() -> dict[str, str]:
    """Controller ("memory", "pids", "" for v2) -> the path of this process's group in that hierarchy."""
    groups = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = path
    return groups


def _parent(controller: str) -> Path | None:
    """The folder of this process's group for ``controller`` (None when that hierarchy is not mounted)."""
    mount = _mounts().get(controller)
    own = _own_groups().get(controller)
    if mount is None or own is None:
        return None
    point, root = mount
    relative = os.path.relpath(own, root) if own.startswith(root) else own.lstrip("/")
    return (point / relative).resolve() if relative != "." else point


def _parents() -> dict[str, Path]:
    """"memory" and "pids" -> the folder under which this process's new groups go (v1 first, else v2)."""
    found = {}
    unified = _parent("")
    delegated = _lines(unified / "cgroup.subtree_control") if unified is not None else []
    for controller in ("memory", "pids"):
        folder = _parent(controller)
        if folder is not None and (folder / "cgroup.procs").exists():
            found[controller] = folder
        elif unified is not None and controller in delegated:
            found[controller] = unified
    return found


@functools.cache
def problem() -> str | None:
    """Why no group can be made here (None when one can): one group made and removed, tried once."""
    try:
        create(memory_mb=64, processes=64).remove()
    except Unavailable as why:
        return str(why)
    return None


class Group:
    """One sandbox's groups (the memory one and the pids one: one folder on cgroup v2)."""

    def __init__(self, folders: dict[str, Path], memory_mb: int | None, processes: int) -> None:
        self.folders = folders  # "memory" / "pids" -> the group's folder
        self.memory_mb, self.processes = memory_mb, processes

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` preceded by a shell that joins the groups and then execs it (nothing runs outside)."""
        procs = sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})
        return ["/bin/sh", "-c", _JOIN, "join-cgroups", *procs, "--", *argv]

    def _read(self, controller: str, *names: str) -> str:
        for name in names:
            try:
                return (self.folders[controller] / name).read_text()
            except OSError:
                continue
        return ""

    def _events(self, controller: str, name: str) -> dict[str, int]:
        pairs = (line.split() for line in self._read(controller, name).splitlines())
        return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2 and pair[1].isdigit()}

    def usage(self) -> Usage:
        peak = self._read("memory", "memory.max_usage_in_bytes", "memory.peak", "memory.current").strip()
        processes = self._read("pids", "pids.peak", "pids.current").strip()
        return Usage(int(peak) / 2**20 if peak.isdigit() else 0.0, int(processes) if processes.isdigit() else 0)

    def reached(self) -> set[str]:
        """The caps that stopped something: "memory" (a process killed) and "processes" (a fork refused)."""
        caps = set()
        v1 = "memory.oom_control" if (self.folders["memory"] / "memory.oom_control").exists() else "memory.events"
        if self._events("memory", v1).get("oom_kill", 0) > 0:
            caps.add("memory")
        if self._events("pids", "pids.events").get("max", 0) > 0:
            caps.add("processes")
        return caps

    def remove(self) -> None:
        """Kill whatever still runs in the groups, then remove them."""
        for folder in sorted(set(self.folders.values()), key=lambda path: len(path.parts), reverse=True):
            for _ in range(100):
                pids = [int(pid) for pid in _lines(folder / "cgroup.procs")]
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        raise
                    time.sleep(0.05)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def create(*, memory_mb: int | None, processes: int) -> Group:
    """New groups under this process's own: memory capped at ``memory_mb`` (None: counted, not capped),
    processes and threads at ``processes``. Raises :class:`Unavailable` saying why where that cannot be done.
    """
    if not Path("/proc/self/cgroup").exists():
        raise Unavailable("this system has no control groups (not Linux)")
    parents = _parents()
    missing = [controller for controller in ("memory", "pids") if controller not in parents]
    if missing:
        raise Unavailable(f"no {' or '.join(missing)} control group is mounted or delegated to this process")
    name = f"autograder-{os.getpid()}-{next(_names)}"
    folders: dict[str, Path] = {}
    group = Group(folders, memory_mb, processes)
    try:
        for controller, parent in parents.items():
            folder = parent / name
            if folder not in folders.values():
                folder.mkdir()
            folders[controller] = folder
        memory, pids = folders["memory"], folders["pids"]
        if memory_mb is not None:
            limit = str(memory_mb * 2**20)
            if (memory / "memory.limit_in_bytes").exists():  # v1: the memory first, then memory plus swap
                _write(memory / "memory.limit_in_bytes", limit)
                if (memory / "memory.memsw.limit_in_bytes").exists():
                    _write(memory / "memory.memsw.limit_in_bytes", limit)
            else:
                _write(memory / "memory.max", limit)
                if (memory / "memory.swap.max").exists():
                    _write(memory / "memory.swap.max", "0")
        _write(pids / "pids.max", str(processes))
    except OSError as error:
        group.remove()
        raise Unavailable(f"a control group could not be made: {error.strerror or error} "
                          f"({error.filename or ''})".replace(" ()", "")) from error
    return group
