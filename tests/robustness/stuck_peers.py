"""SAMP clients that misbehave on their callback port, written with the standard library only.

* :class:`StuckCallbackServer` accepts connections and reads each request, then either
  never answers (``mode="mute"``, an application whose HTTP thread hangs) or answers
  one byte every *interval* seconds (``mode="dribble"``).
* :class:`UnregisteringPeer` unregisters from inside its ``receiveNotification``
  handler, before answering it, when a notification of one of its *leave_on* MTypes
  arrives: what Aladin does on ``samp.hub.event.shutdown``.
* :func:`register` registers any callback URL on a hub with ``xmlrpc.client``.

Each is a context manager; every socket and thread it made is closed and joined on exit.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import xmlrpc.client
import xmlrpc.server
from socketserver import ThreadingMixIn
from typing import Any

_RESPONSE_BODY = (
    b"<?xml version='1.0'?><methodResponse><params><param><value><string></string>"
    b"</value></param></params></methodResponse>"
)


def register(
    hub_url: str, secret: str, callback_url: str, subscriptions: dict[str, Any]
) -> tuple[str, str]:
    """Register *callback_url* on the hub, subscribed to *subscriptions*: (private key, id)."""
    with xmlrpc.client.ServerProxy(hub_url) as hub:
        reg = hub.samp.hub.register(secret)
        key = str(reg["samp.private-key"])
        hub.samp.hub.setXmlrpcCallback(key, callback_url)
        hub.samp.hub.declareSubscriptions(key, subscriptions)
    return key, str(reg["samp.self-id"])


class StuckCallbackServer(contextlib.AbstractContextManager["StuckCallbackServer"]):
    """A callback port that reads requests and never answers, or answers one byte at a time."""

    def __init__(self, mode: str = "mute", interval: float = 0.5) -> None:
        assert mode in ("mute", "dribble")
        self.mode = mode
        self.interval = interval
        self.requests = 0  # requests read in full
        self.largest = 0  # the largest request body read, in bytes
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._got = threading.Condition(self._lock)  # notified when a request is read
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept, "accept")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _start(self, target: Any, what: str, *args: Any) -> None:
        thread = threading.Thread(
            target=target, args=args, name=f"stuck-{self.mode}-{what}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(sock)
            self._start(self._serve, "conn", sock)

    def _read_request(self, sock: socket.socket) -> bool:
        data = bytearray()
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        left = length - len(body)
        while left > 0:
            chunk = sock.recv(min(left, 1 << 20))
            if not chunk:
                return False
            left -= len(chunk)
        with self._lock:
            self.requests += 1
            self.largest = max(self.largest, length)
            self._got.notify_all()
        return True

    def _serve(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while self._read_request(sock):
                if self.mode == "mute":
                    continue  # read the next request, if any; never answer
                answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
                answer = answer % len(_RESPONSE_BODY) + _RESPONSE_BODY
                for byte in answer:
                    if self._closed.wait(self.interval):
                        return
                    sock.sendall(bytes([byte]))

    def wait_for_body(self, size: int, timeout: float) -> bool:
        """Wait until a request body over *size* bytes has been read; False on timeout."""
        with self._got:
            return self._got.wait_for(lambda: self.largest > size, timeout)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(5)


class _Server(ThreadingMixIn, xmlrpc.server.SimpleXMLRPCServer):
    daemon_threads = True
    block_on_close = False


class UnregisteringPeer(contextlib.AbstractContextManager["UnregisteringPeer"]):
    """A stdlib SAMP client that calls ``samp.hub.unregister`` inside its notification handler.

    ``unregister_seconds`` is how long that call took (None until it returned);
    ``unregistered`` is set once it has returned.
    """

    def __init__(self, hub_url: str, secret: str, leave_on: tuple[str, ...]) -> None:
        self.hub_url = hub_url
        self.leave_on = leave_on
        self.unregistered = threading.Event()
        self.unregister_seconds: float | None = None
        self.error: BaseException | None = None
        self._server = _Server(("127.0.0.1", 0), logRequests=False, allow_none=False)
        self._server.register_function(self._notification, "samp.client.receiveNotification")
        self._server.register_function(lambda *a: "", "samp.client.receiveCall")
        self._server.register_function(lambda *a: "", "samp.client.receiveResponse")
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="unregistering-peer", daemon=True
        )
        self._thread.start()
        url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        subscriptions: dict[str, Any] = {mtype: {} for mtype in leave_on}
        self.key, self.id = register(hub_url, secret, url, subscriptions)

    def _notification(self, key: str, sender: str, message: dict[str, Any]) -> str:
        if message.get("samp.mtype") in self.leave_on and not self.unregistered.is_set():
            started = time.monotonic()
            try:
                with xmlrpc.client.ServerProxy(self.hub_url) as hub:
                    hub.samp.hub.unregister(self.key)
            except BaseException as exc:  # the hub may be gone already: note it, answer anyway
                self.error = exc
            self.unregister_seconds = time.monotonic() - started
            self.unregistered.set()
        return ""

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
