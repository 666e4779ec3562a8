"""Processes: spawning one, running a shell, exiting the interpreter, sending signals."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.rules.base import IMPORTS, Rule, imported_modules, magic, text_of, words_of

PROCESS_MODULES = {"subprocess", "pty", "multiprocessing"}
PROCESS_CALLS = {"os.system", "os.popen", "os.fork", "os.forkpty", "asyncio.create_subprocess_exec",
                 "asyncio.create_subprocess_shell", "concurrent.futures.ProcessPoolExecutor"}
PROCESS_PREFIXES = ("subprocess.", "pty.", "multiprocessing.", "os.exec", "os.spawn", "os.posix_spawn")
SHELL_METHODS = {"system", "getoutput", "system_raw", "system_piped"}  # of get_ipython()
EXIT_CALLS = {"os._exit", "sys.exit", "exit", "quit", "os.abort"}
SIGNAL_CALLS = {"os.kill", "os.killpg"}
SIGNAL_PREFIXES = ("signal.",)

R_PROCESS = "spawns a process ({})"
R_SHELL = "runs a shell command"
R_EXIT = "exits the interpreter ({})"
R_SIGNAL = "sends or handles signals ({})"


class Processes(Rule):
    """``subprocess``, ``os.system``, ``!ls``, ``%%bash``, ``sys.exit()``, ``os.kill``, ``signal``."""

    id = "processes"
    reads = (*IMPORTS, ast.Call, ast.Raise)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        names = self.names
        if isinstance(node, ast.Raise):
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if exc is not None and names.resolve(exc) == "SystemExit":
                yield self.found(node, R_EXIT.format("raise SystemExit"))
            return
        for module in imported_modules(names, node):
            if module.split(".")[0] in PROCESS_MODULES:
                yield self.found(node, R_PROCESS.format(f"imports {module}"))
        if not isinstance(node, ast.Call):
            return
        name = names.called(node)
        if name in PROCESS_CALLS or name.startswith(PROCESS_PREFIXES):
            yield self.found(node, R_PROCESS.format(name))
        if name in EXIT_CALLS:
            yield self.found(node, R_EXIT.format(f"{name}()"))
        if name in SIGNAL_CALLS or name.startswith(SIGNAL_PREFIXES):
            yield self.found(node, R_SIGNAL.format(name))
        run = magic(names, node)
        if names.shell_method(node) in SHELL_METHODS or (run is not None and run.shell):
            yield self.found(node, R_SHELL)

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        return [
            (rf"\b({words_of(PROCESS_MODULES)})\b|" + text_of(PROCESS_CALLS, PROCESS_PREFIXES),
             R_PROCESS.format("subprocess/os.system/...")),
            (text_of(EXIT_CALLS) + r"|\braise\s+SystemExit\b", R_EXIT.format("exit")),
            (text_of(SIGNAL_CALLS) + "|" + "|".join(rf"\b{prefix.replace('.', '[.]')}\w+\s*\("
                                                  for prefix in SIGNAL_PREFIXES), R_SIGNAL.format("os.kill/signal")),
        ]
