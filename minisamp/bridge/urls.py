"""URLs that resolve on one host only, rewritten and served across the bridge.

When a message leaves this end, :meth:`Exports.rewrite` replaces each ``file:`` URL
of this host and each loopback ``http:`` URL in it by
``http://127.0.0.1:<port>/<token>/<name>``, where *port* is the far end's file server
(:mod:`minisamp.bridge.fileserver`) and *token* an unguessable name of an
:class:`Export` kept here.  A ``file:`` URL's file is opened at that moment and read
from that open file later: senders such as pyvo's ``send_table_to`` delete their
temporary file soon after, while the far side may still be reading it.  Only URLs that
crossed in a message are served (the Web Profile translator's rule), at most
:data:`MAX_EXPORTS` of them (the oldest are forgotten first), for the life of the
bridge.

:class:`Senders` streams an export when the far end asks (``stream.open``): a
``stream.head``, DATA frames of :data:`CHUNK` bytes, then ``stream.end`` (or
``stream.fail``).  At most :data:`WINDOW` chunks are unacknowledged (``stream.ack``),
so neither end holds more than ``WINDOW × CHUNK`` bytes of a stream, whatever its size.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import logging
import os
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..datatypes import SampValue
from ..errors import BridgeError
from ..lockfile import file_url_to_path
from .channel import Channel

__all__ = ["CHUNK", "MAX_EXPORTS", "WINDOW", "Export", "Exports", "Senders"]

logger = logging.getLogger(__name__)

MAX_EXPORTS = 256
CHUNK = 256 * 1024
WINDOW = 8
MAX_SENDERS = 32
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_HTTP_TIMEOUT = 30.0


class Export:
    """One URL made reachable from the far side: an open file, or a loopback URL."""

    def __init__(self, url: str, name: str, fd: int | None) -> None:
        self.url, self.name, self.fd = url, name, fd
        self.token = secrets.token_urlsafe(24)

        self._old: list[int] = []

    def replace_fd(self, fd: int) -> None:
        """Serve *fd* from now on (streams under way keep reading the one they had)."""
        if self.fd is not None:
            self._old.append(self.fd)
        self.fd = fd

    def close(self) -> None:
        for fd in [*self._old, *([self.fd] if self.fd is not None else [])]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fd, self._old = None, []


def _needs_export(url: str) -> bool:
    if url.startswith("file:"):
        return True
    if not url.startswith("http://"):
        return False
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host in _LOOPBACK or host.startswith("127.")


def _map_strings(value: SampValue, function: Callable[[str], str]) -> SampValue:
    """*value* with *function* applied to every string in it, however deep."""
    if isinstance(value, str):
        return function(value)
    if isinstance(value, list):
        return [_map_strings(item, function) for item in value]
    if isinstance(value, dict):
        return {key: _map_strings(item, function) for key, item in value.items()}
    return value


class Exports:
    """The URLs of this end that crossed the bridge, by token."""

    def __init__(self, limit: int = MAX_EXPORTS) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._exports: collections.OrderedDict[str, Export] = collections.OrderedDict()
        self._by_url: dict[str, Export] = {}
        self.own_prefix = ""  # our file server's URLs are the far end's: never re-exported

    def rewrite(self, value: SampValue, port: int) -> SampValue:
        """*value* with every local-only URL in it replaced by a token URL on *port*."""

        def one(text: str) -> str:
            if _needs_export(text) and not (self.own_prefix and text.startswith(self.own_prefix)):
                export = self._export(text)
                if export is not None:
                    return f"http://127.0.0.1:{port}/{export.token}/{quote(export.name)}"
            return text

        return _map_strings(value, one)

    def _export(self, url: str) -> Export | None:
        """The export of *url*: the same token each time it crosses (a table-id stays one)."""
        path = urllib.parse.urlsplit(url).path
        name = path.rstrip("/").rsplit("/", 1)[-1] or "data"
        fd: int | None = None
        with self._lock:
            known = self._by_url.get(url)
        if url.startswith("file:"):
            try:
                fd = os.open(file_url_to_path(url), os.O_RDONLY | getattr(os, "O_BINARY", 0))
            except (OSError, ValueError) as exc:
                if known is None:  # a file deleted since it crossed keeps its token
                    logger.info("not exporting %s: %s", url, exc)
                    return None
            name = urllib.parse.unquote(name)
        with self._lock:
            export = self._by_url.get(url)
            if export is not None:
                self._exports.move_to_end(export.token)
                if fd is not None:  # serve the file as it is now, from now on
                    export.replace_fd(fd)
                return export
            export = Export(url, name, fd)
            self._exports[export.token] = export
            self._by_url[url] = export
            while len(self._exports) > self._limit:
                _, old = self._exports.popitem(last=False)
                self._by_url.pop(old.url, None)
                old.close()
        logger.info("exporting %s as %s…", url, export.token[:6])
        return export

    def restore(self, value: SampValue, port: int) -> SampValue:
        """*value* with our token URLs, back from the far end, replaced by the originals."""
        prefix = f"http://127.0.0.1:{port}/"

        def one(text: str) -> str:
            if text.startswith(prefix):
                export = self.get(text[len(prefix) :].split("/", 1)[0])
                if export is not None:
                    return export.url
            return text

        return _map_strings(value, one)

    def get(self, token: str) -> Export | None:
        """The export named *token*, if it exists."""
        with self._lock:
            return self._exports.get(token)

    def close(self) -> None:
        """Forget every export, closing their files."""
        with self._lock:
            exports, self._exports = list(self._exports.values()), collections.OrderedDict()
            self._by_url = {}
        for export in exports:
            export.close()


_seek_lock = threading.Lock()


def _pread(fd: int, size: int, offset: int) -> bytes:
    """*size* bytes at *offset*, leaving other readers of *fd* undisturbed."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    with _seek_lock:  # Windows has no pread: seek and read under one lock
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


class _Outgoing:
    def __init__(self) -> None:
        self.credit = threading.Semaphore(WINDOW)
        self.cancelled = False


class Senders:
    """Streams exports to the far end, one named thread per stream."""

    def __init__(self, exports: Exports, channel: Channel) -> None:
        self._exports, self._channel = exports, channel
        self._lock = threading.Lock()
        self._streams: dict[int, _Outgoing] = {}
        self._threads: list[threading.Thread] = []

    def on_stream(self, message: dict[str, Any]) -> bool:
        """Handle ``stream.open``, ``stream.ack``, ``stream.cancel`` (never blocks)."""
        op, stream = message["op"], int(message.get("stream", 0))
        if op == "stream.open":
            self._open(stream, str(message.get("token", "")))
        elif op in ("stream.ack", "stream.cancel"):
            with self._lock:
                state = self._streams.get(stream)
            if state is not None:
                state.cancelled |= op == "stream.cancel"
                state.credit.release()
        else:
            return False
        return True

    def _open(self, stream: int, token: str) -> None:
        export = self._exports.get(token)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            busy = len(self._threads) >= MAX_SENDERS
            if export is None or busy:
                why = "no such URL crossed this bridge" if export is None else "too many streams"
                self._send({"op": "stream.fail", "stream": stream, "error": why})
                return
            state = self._streams[stream] = _Outgoing()
            thread = threading.Thread(
                target=self._run,
                args=(stream, export, state),
                name=f"minisamp-bridge-send-{stream}",
                daemon=True,
            )
            self._threads.append(thread)
        thread.start()

    def _send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(BridgeError):
            self._channel.send(message)

    def _run(self, stream: int, export: Export, state: _Outgoing) -> None:
        try:
            if export.fd is not None:
                self._stream_file(stream, export.fd, state)
            else:
                self._stream_http(stream, export.url, state)
            if not state.cancelled:
                self._send({"op": "stream.end", "stream": stream})
        except (OSError, http.client.HTTPException, BridgeError) as exc:
            logger.info("streaming %s failed: %s", export.url, exc)
            self._send({"op": "stream.fail", "stream": stream, "error": str(exc)})
        finally:
            with self._lock:
                self._streams.pop(stream, None)

    def _wait_credit(self, state: _Outgoing) -> bool:
        while not state.credit.acquire(timeout=1.0):
            if self._channel.closed:
                return False
        return not state.cancelled and not self._channel.closed

    def _stream_file(self, stream: int, fd: int, state: _Outgoing) -> None:
        size = os.fstat(fd).st_size
        self._channel.send({"op": "stream.head", "stream": stream, "size": size})
        offset = 0
        while offset < size and self._wait_credit(state):
            data = _pread(fd, min(CHUNK, size - offset), offset)
            if not data:
                raise OSError(f"the file shrank to {offset} bytes while being sent")
            self._channel.send_data(stream, data)
            offset += len(data)

    def _stream_http(self, stream: int, url: str, state: _Outgoing) -> None:
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=_HTTP_TIMEOUT)
        try:
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
            reply = conn.getresponse()
            if reply.status != 200:
                raise OSError(f"{url} answered HTTP {reply.status} {reply.reason}")
            length = reply.getheader("Content-Length")
            size = int(length) if length and length.isdigit() else None
            kind = reply.getheader("Content-Type")
            self._channel.send({"op": "stream.head", "stream": stream, "size": size, "type": kind})
            while self._wait_credit(state):
                data = reply.read(CHUNK)
                if not data:
                    break
                self._channel.send_data(stream, data)
        finally:
            conn.close()

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the sending threads (once the channel has closed)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
