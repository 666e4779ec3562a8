"""Network: importing or calling a network module, downloading from a URL."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.names import string_parts
from autograder.integrity.paths import URL
from autograder.integrity.rules.base import IMPORTS, Rule, imported_modules, within, words_of

NETWORK_MODULES = {"socket", "urllib", "urllib3", "requests", "http.client", "httpx", "aiohttp", "ftplib",
                   "smtplib", "telnetlib", "poplib", "imaplib", "xmlrpc", "websocket", "websockets",
                   "paramiko"}
NETWORK_PACKAGES = {"http"}  # ``import http``: reported itself; of its modules only those listed above
DOWNLOAD_SUFFIX = "get_file"  # keras.utils.get_file(name, url)

R_NETWORK = "uses the network ({})"


class Network(Rule):
    """Network modules imported or called, and ``get_file`` with a URL."""

    id = "network"
    reads = (*IMPORTS, ast.Call)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        for module in imported_modules(self.names, node):
            if within(module, NETWORK_MODULES) or module in NETWORK_PACKAGES:
                yield self.found(node, R_NETWORK.format(f"imports {module}"))
        if not isinstance(node, ast.Call):
            return
        name = self.names.called(node)
        args = list(node.args) + [keyword.value for keyword in node.keywords]
        if name.endswith(DOWNLOAD_SUFFIX) and any(URL.match(s) for arg in args for s in string_parts(arg)):
            yield self.found(node, R_NETWORK.format(f"{name} with a URL"))
        elif within(name, NETWORK_MODULES):
            yield self.found(node, R_NETWORK.format(name))

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        modules = words_of(NETWORK_MODULES | NETWORK_PACKAGES)
        return [(rf"^\s*(import|from)\s+({modules})\b|(?<![\w.])({words_of(NETWORK_MODULES)})\.\w+\s*\("
                 rf"|{DOWNLOAD_SUFFIX}\s*\(.*['\"](https?|ftp)://", R_NETWORK.format("network module or download"))]
