"""The judge's channel: length-prefixed messages over a Unix socket between the grader kernel and the executor.

The executor listens on a socket in a folder only the grader kernel's sandbox sees; the grader kernel's proxies
(:mod:`autograder.grade.proxy`) send a request and wait for its answer. A message is 8 bytes of length, then
that many bytes (an :mod:`autograder.grade.codec` message). A length past the cap closes the channel unread.
"""

from __future__ import annotations

import socket
import struct

from autograder.grade.codec import MAX_BYTES, Refused

_LENGTH = struct.Struct(">Q")


def send(sock: socket.socket, message: bytes) -> None:
    sock.sendall(_LENGTH.pack(len(message)) + message)


def receive(sock: socket.socket, *, max_bytes: int = MAX_BYTES) -> bytes:
    """One message; ConnectionError when the other end closed, Refused when it announces too many bytes."""
    (length,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    if length > max_bytes:
        raise Refused(f"a message of {length / 2**20:.0f} MiB is larger than the grader reads "
                      f"({max_bytes / 2**20:.0f} MiB)")
    return _exactly(sock, length)


def _exactly(sock: socket.socket, count: int) -> bytes:
    chunks, received = [], 0
    while received < count:
        chunk = sock.recv(min(count - received, 1 << 20))
        if not chunk:
            raise ConnectionError("the channel closed")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)
