"""The server's shared limits: memory for large request bodies, and room for new connections.

Each answers one question for :mod:`minisamp.xmlrpc.httpd`: :class:`BodyBudget`
whether a large body may be read and parsed now (their total is capped, so that many
at once cannot exhaust memory), :class:`Connections` which open connection to drop
when a new one arrives at the cap (the one idle the longest, so that idle connections
never starve new ones), and :func:`refuse_busy` how to turn one away when every
connection is answering a request.  :func:`read_large_body` reads a large body within
one overall deadline, so that a peer dribbling it cannot hold its share of the budget
for longer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

__all__ = ["LARGE_BODY", "BodyBudget", "Connections", "read_large_body", "refuse_busy"]

#: Bodies at least this large count against the :class:`BodyBudget`.
LARGE_BODY = 1024 * 1024


class BodyBudget:
    """At most *limit* bytes of large bodies being read and parsed at once.

    A body over *limit* is admitted alone (the server's ``max_body`` refused larger
    ones already); smaller bodies than :data:`LARGE_BODY` are never counted.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._in_use = 0

    def acquire(self, size: int, timeout: float) -> bool:
        """Reserve *size* bytes, waiting at most *timeout* seconds; False if none came free."""
        if size < LARGE_BODY:
            return True
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_use and self._in_use + size > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            self._in_use += size
            return True

    def release(self, size: int) -> None:
        """Give back what :meth:`acquire` reserved for a body of *size* bytes."""
        if size < LARGE_BODY:
            return
        with self._cond:
            self._in_use -= size
            self._cond.notify_all()


class Connections:
    """The open connections of a server: when each was last busy, and which are busy now.

    Not locked: the server calls it with its own lock held.
    """

    def __init__(self) -> None:
        self._last_active: dict[socket.socket, float] = {}
        self._busy: set[socket.socket] = set()

    def __len__(self) -> int:
        return len(self._last_active)

    def add(self, sock: socket.socket) -> None:
        self._last_active[sock] = time.monotonic()

    def remove(self, sock: socket.socket) -> None:
        self._last_active.pop(sock, None)
        self._busy.discard(sock)

    def begin(self, sock: socket.socket) -> None:
        """A request on *sock* is being answered: it is not to be evicted."""
        self._busy.add(sock)

    def end(self, sock: socket.socket) -> None:
        self._busy.discard(sock)
        if sock in self._last_active:
            self._last_active[sock] = time.monotonic()

    def is_busy(self, sock: socket.socket) -> bool:
        return sock in self._busy

    def idlest(self) -> socket.socket | None:
        """The connection idle the longest (no request being answered), or None."""
        idle = [(when, id(s), s) for s, when in self._last_active.items() if s not in self._busy]
        return min(idle)[2] if idle else None


def refuse_busy(sock: socket.socket) -> None:
    """Tell a connection we cannot serve that we are busy (never waiting on it), and close."""
    with contextlib.suppress(OSError):
        sock.setblocking(False)
        sock.send(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n"
        )
        sock.shutdown(socket.SHUT_WR)
    sock.close()


def read_large_body(rfile: Any, sock: socket.socket, size: int, seconds: float) -> bytearray | None:
    """*size* bytes from *rfile* (over *sock*) within *seconds* in all, not per receive.

    None if the peer closes first; :class:`TimeoutError` past the deadline.  The
    socket's timeout is *seconds* again afterwards.
    """
    body = bytearray(size)
    got = 0
    deadline = time.monotonic() + seconds
    try:
        with memoryview(body) as view:
            while got < size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"a {size}-byte body took over {seconds:g} s")
                sock.settimeout(left)
                count = rfile.readinto1(view[got:])  # one receive at most: check the clock
                if not count:
                    return None
                got += count
    finally:
        sock.settimeout(seconds)
    return body
