"""This end's loopback server: the proxies' callbacks (POST) and token URLs (GET).

:class:`LocalServer` is one :class:`~minisamp.xmlrpc.server.XmlRpcServer` on
127.0.0.1.  POSTed ``samp.client.*`` callbacks go to the handler registered for the
private key in their first argument (one per proxy, one for the watcher).  A GET of
``/<token>/<name>`` — a URL the far end rewrote in a message that crossed — asks the
far end for the bytes (``stream.open``) and writes them to the HTTP client as they
arrive, acknowledging each chunk so the far end sends the next (:mod:`.urls`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from ..errors import BridgeError, SAMPProxyError
from ..xmlrpc.server import XmlRpcServer
from .channel import Channel

__all__ = ["LocalServer"]

logger = logging.getLogger(__name__)

#: How long the far end may take to start a stream, and then to send each chunk.
OPEN_TIMEOUT = 60.0
CHUNK_TIMEOUT = 120.0

Callback = Callable[[str, tuple[Any, ...]], Any]
_Item = tuple[str, Any]


def _reset_on_close(handler: Any) -> None:
    """Close the connection with a reset: the client sees an error, not a short file."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class LocalServer(XmlRpcServer):
    """Callbacks by private key, and the far end's exports by token, on loopback."""

    def __init__(self) -> None:
        super().__init__(self._route, name="minisamp-bridge-server", path="/samp")
        self._callbacks: dict[str, Callback] = {}
        self._streams: dict[int, queue.Queue[_Item]] = {}
        self._lock = threading.Lock()
        self.channel: Channel | None = None

    @property
    def prefix(self) -> str:
        """The start of this server's token URLs."""
        host, port = self.address
        return f"http://{host}:{port}/"

    def add_callback(self, key: str, callback: Callback) -> None:
        with self._lock:
            self._callbacks[key] = callback

    def remove_callback(self, key: str) -> None:
        with self._lock:
            self._callbacks.pop(key, None)

    def _route(self, method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        key = params[0] if params else None
        with self._lock:
            callback = self._callbacks.get(key) if isinstance(key, str) else None
        if callback is None or not method.startswith("samp.client."):
            raise SAMPProxyError(1, f"no such client callback here ({method})")
        return callback(method[len("samp.client.") :], params[1:])

    # -- streams from the far end ------------------------------------------------------

    def on_stream(self, message: dict[str, Any]) -> bool:
        """Take ``stream.head``, ``stream.end``, ``stream.fail`` (reader thread)."""
        op = message["op"]
        if op not in ("stream.head", "stream.end", "stream.fail"):
            return False
        with self._lock:
            q = self._streams.get(int(message.get("stream", 0)))
        if q is not None:
            q.put((op[len("stream.") :], message))
        return True

    def on_data(self, stream: int, payload: bytes) -> None:
        with self._lock:
            q = self._streams.get(stream)
        if q is not None:
            q.put(("data", payload))

    def fail_streams(self, reason: str) -> None:
        """End every stream being served (the channel closed)."""
        with self._lock:
            queues = list(self._streams.values())
        for q in queues:
            q.put(("fail", {"error": reason}))

    def handle_get(self, handler: Any) -> None:
        parts = handler.path.split("?", 1)[0].split("/")
        channel = self.channel
        if len(parts) != 3 or not parts[1]:
            handler.send_error_text(404, "not a URL this bridge serves")
            return
        if channel is None or channel.closed:
            handler.send_error_text(503, "the bridge to the host of this URL is down")
            return
        stream = channel.new_stream_id()
        q: queue.Queue[_Item] = queue.Queue()
        with self._lock:
            self._streams[stream] = q
        try:
            self._stream_to(handler, channel, stream, parts[1], q)
        finally:
            with self._lock:
                self._streams.pop(stream, None)

    def _stream_to(
        self, handler: Any, channel: Channel, stream: int, token: str, q: queue.Queue[_Item]
    ) -> None:
        try:
            channel.send({"op": "stream.open", "stream": stream, "token": token})
            kind, value = q.get(timeout=OPEN_TIMEOUT)
        except (BridgeError, queue.Empty) as exc:
            handler.send_error_text(502, f"the far end of the bridge did not answer: {exc}")
            return
        if kind != "head":
            handler.send_error_text(404, f"not served: {value.get('error', kind)}")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", value.get("type") or "application/octet-stream")
        if value.get("size") is not None:
            handler.send_header("Content-Length", str(int(value["size"])))
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            while True:
                kind, value = q.get(timeout=CHUNK_TIMEOUT)
                if kind != "data":
                    if kind == "fail":
                        logger.warning("bridge: a transfer broke: %s", value.get("error"))
                        _reset_on_close(handler)
                    return
                handler.wfile.write(value)
                channel.send({"op": "stream.ack", "stream": stream})
        except (OSError, queue.Empty, BridgeError) as exc:
            logger.info("bridge: stream %d stopped: %s", stream, exc)
            _reset_on_close(handler)
            with contextlib.suppress(BridgeError):
                channel.send({"op": "stream.cancel", "stream": stream})
