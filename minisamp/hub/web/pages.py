"""What the Web Profile keeps for each registered page, and how a pull waits for it.

A page cannot be called back, so its callbacks wait in a :class:`CallbackQueue` until
its next ``pullCallbacks``; :class:`WebClient` is the page's record (identity and
queue); :func:`peer_gone` lets a waiting pull end early when
the page has closed its connection.  No sockets are served and no SAMP methods are
known here: :class:`~minisamp.hub.web.profile.WebProfile` drives all of it.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...datatypes import SampValue
from .consent import WebRegistrationRequest

__all__ = ["QUEUE_CAPACITY", "STALE_AFTER", "CallbackQueue", "WebClient", "peer_gone"]

#: Callbacks queued for one page that has not pulled them (as JSAMP).
QUEUE_CAPACITY = 4096
#: A callable page that has not pulled callbacks for this long is unregistered.
STALE_AFTER = 600.0


class CallbackQueue:
    """The callbacks waiting for one page's ``pullCallbacks``."""

    def __init__(self, capacity: int = QUEUE_CAPACITY) -> None:
        self._cond = threading.Condition()
        self._items: list[dict[str, SampValue]] = []
        self._capacity = capacity
        self._closed = False
        self._pullers = 0
        self._last_pull = time.monotonic()

    def put(self, callback: dict[str, SampValue]) -> bool:
        """Queue *callback* and wake a puller; False if the queue is full or closed."""
        with self._cond:
            if self._closed or len(self._items) >= self._capacity:
                return False
            self._items.append(callback)
            self._cond.notify_all()
            return True

    def pull(self, timeout: float, gone: Callable[[], bool]) -> list[SampValue]:
        """Everything queued, once there is something, or [] after *timeout* or :meth:`close`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._pullers += 1
            try:
                while not self._items and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0 or gone():
                        return []
                    self._cond.wait(min(left, 1.0))
                items, self._items = self._items, []
                return list(items)
            finally:
                self._pullers -= 1
                self._last_pull = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since anyone last waited in :meth:`pull` (0 while someone does)."""
        with self._cond:
            return 0.0 if self._pullers else time.monotonic() - self._last_pull

    def wait_empty(self, timeout: float) -> None:
        """Wait (at most *timeout*) until the queue has been pulled empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items and not self._closed and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(min(left, 0.05))

    def close(self) -> None:
        """Drop what is queued and wake every puller."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


@dataclass
class WebClient:
    """One registered page: its identity and callback queue."""

    public_id: str
    private_key: str
    request: WebRegistrationRequest
    queue: CallbackQueue | None = None


def peer_gone(sock: socket.socket) -> bool:
    """True if the peer of *sock* has closed its end (a page that went away)."""
    try:
        if not select.select([sock], [], [], 0)[0]:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
