"""The OS sandbox around the executor and its kernel: bubblewrap on Linux, or plainly none (and said so).

Inside a bubblewrap sandbox the student's code sees:

- the system (``/usr`` and the few ``/etc`` files programs need) and the Python environment, read-only;
- the course's ``course`` and ``autograder`` packages, read-only, at ``/opt/grader/python``;
- its working directory ``/home/student`` (the one notebook and the assignment's non-notebook files),
  a private ``/tmp`` and ``/dev/shm`` and the result folder ``/grader``: nothing else of the machine, no
  ``source/``, no gradebook, no other student's work, no instructor's home;
- no network (its own network namespace holds only a loopback), its own PID namespace (every
  process it starts dies with it), its own IPC and UTS namespaces;
- an environment made from an allow-list (no instructor variables, tokens or secrets);
- limits on processes and file size (RLIMIT_NPROC, RLIMIT_FSIZE) next to the memory watchdog and the
  control groups of :mod:`autograder.grade.cgroups` (set up by the runner);
- one disk cap for everything it can write (:func:`space`): as root, the working folder, ``/tmp``,
  ``/dev/shm`` and ``/grader`` are folders of one tmpfs of its own, capped in size and in files;
  elsewhere ``/tmp`` and ``/dev/shm`` are each a tmpfs capped in size, and the working folder is watched;
- when grading runs as root, an unprivileged user id of its own, so files readable only by
  the instructor's account stay unreadable even where they are visible.

``mode="none"`` (or ``"auto"`` where bubblewrap does not work: macOS, a container without user
namespaces) still runs the kernel in a throw-away directory with the same environment allow-list and
limits, but it can read whatever the grading account can: the report says so in plain words.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MODES = ("auto", "bwrap", "none")
WORKDIR = "/home/student"  # the kernel's working directory inside the sandbox
RESULT_DIR = "/grader"  # the kernel's sockets (and the judge's, for the grader kernel) inside the sandbox
PYTHON_DIR = "/opt/grader/python"  # the course's packages, read-only
# As root, each running sandbox gets an unprivileged user id of its own, one that owns no file on the
# machine: the process limit (RLIMIT_NPROC counts a user's processes) is then per sandbox.
SANDBOX_UIDS = range(620_000, 630_000)
_uids_in_use: set[int] = set()
_uids_lock = threading.Lock()
NOT_SANDBOXED = "NOT sandboxed: student code could read what the grading account can read"
# Host variables the kernel may see; everything else (tokens, keys, the instructor's paths) is dropped.
ALLOWED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                     "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTEROP_THREADS",
                     "TF_NUM_INTRAOP_THREADS", "KERAS_BACKEND", "TF_DETERMINISTIC_OPS")
DISK_FILES = 100_000  # files and folders the sandbox may make in its tmpfs (each costs kernel memory)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts", "passwd",
             "group", "ssl", "ca-certificates", "fonts", "mime.types", "alternatives")


@dataclass(frozen=True)
class Sandbox:
    """How the executor is run: ``kind`` is "bwrap" or "none"; ``note`` says why none, in words."""

    kind: str
    note: str = ""

    @property
    def sandboxed(self) -> bool:
        return self.kind == "bwrap"


def _packages() -> dict[str, Path]:
    """The course's own packages the executor and the notebooks import."""
    import importlib.util

    return {name: Path(importlib.util.find_spec(name).origin).resolve().parent for name in ("autograder", "course")}


def python_roots() -> list[Path]:
    """The Python environment's folders (the interpreter, the standard library, site-packages)."""
    roots = {Path(path).resolve() for path in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots.add(Path(sys.executable).resolve().parent.parent)
    return sorted(roots)


def environment(*, python_path: str) -> dict[str, str]:
    """The kernel's whole environment: an allow-list of the host's, plus what grading needs."""
    env = {name: os.environ[name] for name in ALLOWED_VARIABLES if name in os.environ}
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp/home", "USER": "student",
        "LOGNAME": "student", "PYTHONPATH": python_path, "PYTHONWARNINGS": "ignore", "PYTHONNOUSERSITE": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib", "KERAS_HOME": "/tmp/keras", "JUPYTER_PLATFORM_DIRS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3", "NBGRADER_EXECUTION": "autograde", "XDG_CACHE_HOME": "/tmp/cache",
    })
    env.setdefault("LANG", "C.UTF-8")
    return env


@dataclass(frozen=True)
class Space:
    """What one sandbox may write: the folders ``work``, ``out``, ``tmp`` and ``shm`` under ``root``.

    ``mounted``: ``root`` is a tmpfs of its own, ``disk_mb`` and ``DISK_FILES`` its kernel-enforced size
    (writing past it is ENOSPC in the student's code). Otherwise ``root`` is an ordinary folder and
    ``mount_problem`` says why.
    """

    root: Path
    disk_mb: int
    mounted: bool
    mount_problem: str = ""

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def shm(self) -> Path:
        return self.root / "shm"

    def used(self) -> tuple[float, int]:
        """MB and files (folders included) in use: of the tmpfs, or of the work and result folders."""
        if self.mounted:
            stat = os.statvfs(self.root)
            return (stat.f_blocks - stat.f_bfree) * stat.f_frsize / 2**20, stat.f_files - stat.f_ffree
        size, files = 0, 0
        for folder in (self.work, self.out):
            for base, folders, names in os.walk(folder):
                files += len(folders) + len(names)
                for name in names:
                    try:
                        size += os.lstat(os.path.join(base, name)).st_blocks * 512
                    except OSError:
                        continue
        return size / 2**20, files

    def full(self) -> bool:
        """Whether the tmpfs has (almost) no room left, in bytes or in files."""
        if not self.mounted:
            return False
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize < 2**20 or stat.f_ffree == 0


_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


def _mount_tmpfs(folder: Path, size_mb: int, files: int) -> str | None:
    """Mount a tmpfs of ``size_mb`` and ``files`` inodes on ``folder``; None, or why it could not be."""
    if not sys.platform.startswith("linux"):
        return f"a tmpfs of its own needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "a tmpfs of its own needs grading to run as root"
    libc = ctypes.CDLL(None, use_errno=True)
    options = f"size={size_mb}m,nr_inodes={files},mode=0755".encode()
    if libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
        return f"tmpfs could not be mounted: {os.strerror(ctypes.get_errno())}"
    return None


def _unmount(folder: Path) -> None:
    ctypes.CDLL(None, use_errno=True).umount2(str(folder).encode(), _MNT_DETACH)


@functools.cache
def tmpfs_problem() -> str | None:
    """Why a sandbox cannot have a tmpfs of its own here (None when it can): tried once."""
    with space(1, prefix="grade-probe-") as probe:
        return None if probe.mounted else probe.mount_problem


@contextmanager
def space(disk_mb: int, *, prefix: str = "grade-") -> Iterator[Space]:
    """A new :class:`Space`: a tmpfs of ``disk_mb`` where it can be mounted, else a temporary folder."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    problem = _mount_tmpfs(root, disk_mb, DISK_FILES)
    made = Space(root, disk_mb, problem is None, problem or "")
    try:
        for folder in (made.work, made.out, made.tmp, made.shm):
            folder.mkdir()
        made.tmp.chmod(0o1777)
        made.shm.chmod(0o1777)
        yield made
    finally:
        if made.mounted:
            _unmount(root)
        shutil.rmtree(root, ignore_errors=True)


def bwrap_arguments(workdir: Path, resultdir: Path, *, as_uid: int | None, space: Space | None = None,
                    packages: tuple[str, ...] = ("autograder", "course")) -> list[str]:
    """bubblewrap's command line: what is visible, read-only or writable, and the namespaces.

    With a mounted ``space``, ``/tmp`` and ``/dev/shm`` are its folders (one disk cap for all); with an
    unmounted one, each is a tmpfs of ``space.disk_mb``; without one, ``/tmp`` is a tmpfs of the kernel's
    default size (half the machine's memory).
    """
    # As root no user namespace: bwrap drops every capability but the two setpriv needs to change user.
    namespaces = ["--unshare-all"] if as_uid is None else ["--unshare-ipc", "--unshare-pid", "--unshare-net",
                                                          "--unshare-uts", "--unshare-cgroup-try"]
    if space is not None and space.mounted:
        scratch = ["--bind", str(space.tmp), "/tmp", "--bind", str(space.shm), "/dev/shm"]
    elif space is not None:
        size = ["--size", str(space.disk_mb * 2**20)]
        scratch = ["--perms", "1777", *size, "--tmpfs", "/tmp", "--perms", "1777", *size, "--tmpfs", "/dev/shm"]
    else:
        scratch = ["--perms", "1777", "--tmpfs", "/tmp"]
    args = ["bwrap", *namespaces, "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", *scratch, "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for root in python_roots():
        if not str(root).startswith("/usr/"):
            args += ["--ro-bind", str(root), str(root)]
    for name, path in _packages().items():
        if name in packages:  # the student's kernel gets `course` only; the grader's kernel both
            args += ["--ro-bind", str(path), f"{PYTHON_DIR}/{name}"]
    args += ["--bind", str(workdir), WORKDIR, "--bind", str(resultdir), RESULT_DIR, "--chdir", WORKDIR]
    # bwrap makes the folders above a mount point private to root (0700): make them traversable first
    destinations = [Path(args[i + 2]) for i, arg in enumerate(args)
                    if arg in ("--ro-bind", "--bind") and args[i + 2] not in ("/tmp", "/dev/shm")]
    parents = sorted({parent for dest in destinations for parent in dest.parents if parent != Path("/")},
                     key=lambda path: len(path.parts))
    folders = [item for parent in parents for item in ("--perms", "0755", "--dir", str(parent))]
    args[args.index("--ro-bind"):args.index("--ro-bind")] = folders
    if as_uid is not None:  # root: bwrap keeps the right to change user only for the setpriv below
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for key, value in environment(python_path=PYTHON_DIR).items():
        args += ["--setenv", key, value]
    args.append("--")
    if as_uid is not None:
        args += ["setpriv", f"--reuid={as_uid}", f"--regid={as_uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    return args


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox here (None when it can): tried once with a trivial command."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work, out = Path(tmp, "work"), Path(tmp, "out")
        work.mkdir()
        out.mkdir()
        with user_id() as uid:
            _share(uid, work, out)
            command = bwrap_arguments(work, out, as_uid=uid) + [sys.executable, "-c", "import autograder"]
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as error:
                return f"bubblewrap did not start: {error}"
    if result.returncode != 0:
        return f"bubblewrap did not start: {result.stderr.strip()[-300:]}"
    return None


def choose(mode: str = "auto") -> Sandbox:
    """The sandbox for ``mode``: "bwrap" insists on bubblewrap, "auto" falls back to none (said so)."""
    if mode not in MODES:
        raise ValueError(f"sandbox must be one of {MODES}, got {mode!r}")
    if mode == "none":
        return Sandbox("none", f"{NOT_SANDBOXED} (--sandbox none)")
    problem = bwrap_problem()
    if problem is None:
        return Sandbox("bwrap")
    if mode == "bwrap":
        raise RuntimeError(f"--sandbox bwrap: {problem}")
    return Sandbox("none", f"{NOT_SANDBOXED} ({problem})")


@contextmanager
def user_id() -> Iterator[int | None]:
    """A user id no other sandbox of this machine uses now (None when grading does not run as root)."""
    if os.geteuid() != 0:
        yield None
        return
    offset = os.getpid() * 97  # other grading processes (Dask workers) start elsewhere in the range
    with _uids_lock:
        uid = next(SANDBOX_UIDS[(offset + step) % len(SANDBOX_UIDS)] for step in range(len(SANDBOX_UIDS))
                   if SANDBOX_UIDS[(offset + step) % len(SANDBOX_UIDS)] not in _uids_in_use)
        _uids_in_use.add(uid)
    try:
        yield uid
    finally:
        with _uids_lock:
            _uids_in_use.discard(uid)


def _share(uid: int | None, *folders: Path) -> None:
    """Let the sandbox's user write the work and result folders (when grading runs as root)."""
    for folder in folders:
        if uid is not None:
            os.chown(folder, uid, uid)
        for path in folder.rglob("*"):
            if uid is not None:
                os.chown(path, uid, uid, follow_symlinks=False)


def _limits(processes: int, file_mb: int) -> Callable[[], None]:
    """A preexec function: the process and file-size limits, inherited by everything the sandbox starts."""
    def apply() -> None:
        extra = 0 if os.geteuid() == 0 else _processes_of(os.getuid())  # a user's limit counts all its processes
        resource.setrlimit(resource.RLIMIT_NPROC, (processes + extra, processes + extra))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    return apply


def _processes_of(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/task/[0-9]*/status"):
        try:
            if f"\nUid:\t{uid}\t" in status.read_text():
                count += 1
        except OSError:
            continue
    return count


def preexec(processes: int, file_mb: int) -> Callable[[], None]:
    return _limits(processes, file_mb)
