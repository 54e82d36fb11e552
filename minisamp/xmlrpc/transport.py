"""Outgoing XML-RPC calls: a keep-alive HTTP/1.1 connection to one URL, with timeouts.

:class:`XmlRpcProxy` is safe to share between threads: each call takes a kept-alive
connection nobody is using (the one used last, so that few stay open) or opens one,
so calls never wait for one another.  Every
call has an overall deadline: connecting, sending and reading the answer together take
at most its timeout, however slowly a peer dribbles bytes, and :meth:`XmlRpcProxy.close`
wakes a call blocked on a socket in another thread at once.  This is the one place where
stdlib network exceptions become minisamp's: connection failures and timeouts raise
:class:`~minisamp.errors.TransportError`, faults :class:`~minisamp.errors.SAMPProxyError`,
garbage :class:`~minisamp.errors.PeerProtocolError`.

The HTTP client is our own, and small: a call is one ``POST`` with a
``Content-Length``, sent with one ``sendall``; the answer's status line is read
here, its headers by :mod:`~minisamp.xmlrpc.headers`, as the server reads a request's
(``http.client`` parses headers with the ``email`` package, which cost more than the
rest of a call).  It reads what any HTTP/1.0 or 1.1 server may send:
``Content-Length``, chunked, or close-delimited bodies, interim ``1xx`` answers,
``Connection: close`` and HTTP/1.0 keep-alive, with the same size caps as before
(lines, header count, body).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from ..datatypes import SampValue
from ..errors import PeerProtocolError, TransportError
from . import codec
from .headers import MAX_HEADERS, LineTooLong, TooManyHeaders, read_headers, read_line

__all__ = ["DEFAULT_TIMEOUT", "XmlRpcProxy", "http_get"]

logger = logging.getLogger(__name__)
wire_logger = logging.getLogger("minisamp.wire")

#: Seconds a call may take unless the caller says otherwise.
DEFAULT_TIMEOUT = 30.0
#: Largest response body accepted.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
#: A request in parts smaller than this is joined and sent with one ``sendall``.
_JOIN_BELOW = 256 * 1024


class _Stale(Exception):
    """The server closed the connection, or sent no HTTP status line, before answering."""


class _BadResponse(Exception):
    """The answer is not well-formed HTTP (line too long, too many headers, bad framing)."""


# A kept-alive connection the server has closed fails like this on first use.
_STALE = (_Stale, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


# The first parameter of every samp.hub.* / samp.client.* call is a secret or private key.
# (Patterns, not compiled ones: re compiles them on first use, when the wire log is on.)
_FIRST_PARAM = rb"(<params>\s*<param>\s*<value>(?:\s*<string>)?)([^<]+)"
_REG_KEYS = rb"(<name>samp\.(?:private-key|secret)</name>\s*<value>(?:\s*<string>)?)([^<]+)"


def _mask_key(body: bytes) -> bytes:
    """*body* with private keys and secrets replaced by ``***`` (for the wire log)."""
    if b"<methodCall>" in body[:200]:
        body = re.sub(_FIRST_PARAM, rb"\1***", body, count=1)
    return re.sub(_REG_KEYS, rb"\1***", body)


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes; every ``recv`` waits at most what is left until :attr:`deadline`."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline: float | None = None  # time.monotonic() value; None: no limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the call's deadline passed")
            self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class _Connection:
    """One kept-alive connection: its socket (Nagle's algorithm off) and a buffered reader
    whose reads share the deadline of the call in progress."""

    __slots__ = ("raw", "rfile", "sock")

    def __init__(self, host: str, port: int, deadline: float | None) -> None:
        self.sock = socket.create_connection((host, port), _left(deadline))
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.raw = _DeadlineReader(self.sock)
            self.rfile = io.BufferedReader(self.raw)
        except BaseException:
            self.sock.close()
            raise

    def set_deadline(self, deadline: float | None) -> None:
        """Bound everything until the next call of this to *deadline* (sendall included)."""
        self.sock.settimeout(_left(deadline))
        self.raw.deadline = deadline

    def close(self) -> None:
        # shutdown() first: it wakes a thread blocked reading this socket (whose reader
        # holds the buffer's lock, which close() needs), so closing never waits on a peer.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.rfile.close()
        self.sock.close()


def _left(deadline: float | None) -> float | None:
    """Seconds until *deadline* (None: no limit); TimeoutError if it has passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the call's deadline passed")
    return left


def _read_line(rfile: Any) -> bytes:
    try:
        return read_line(rfile)
    except LineTooLong:
        raise _BadResponse("a line of the response is too long") from None


def _read_headers(rfile: Any) -> dict[str, str]:
    """Header lines up to the empty one: lower-case name → value (the first, if repeated)."""
    try:
        return read_headers(rfile, unfold=False)  # folded lines never were unfolded here
    except LineTooLong:
        raise _BadResponse("a line of the response is too long") from None
    except TooManyHeaders:
        raise _BadResponse(f"the response has more than {MAX_HEADERS} headers") from None


def _read_chunked(rfile: Any) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_text = _read_line(rfile).split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise _BadResponse("malformed chunk size in the response")
        size = int(size_text, 16)
        if size == 0:
            _read_headers(rfile)  # trailers, ignored
            return b"".join(chunks)
        total += size
        if total > MAX_RESPONSE_BYTES:
            raise PeerProtocolError(f"response over {MAX_RESPONSE_BYTES} bytes")
        chunk = rfile.read(size)
        if len(chunk) < size or _read_line(rfile) not in (b"\r\n", b"\n"):
            raise _BadResponse("truncated chunk in the response")
        chunks.append(chunk)


def _read_response(rfile: Any) -> tuple[int, str, bytes, bool]:
    """``(status, reason, body, the server will close)`` of the next answer on *rfile*."""
    while True:
        line = _read_line(rfile)
        if not line:
            raise _Stale("no answer")
        version, _, rest = line.decode("iso-8859-1").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise _Stale(f"not an HTTP status line: {line[:40]!r}")
        status = int(code)
        headers = _read_headers(rfile)
        if not 100 <= status < 200 or status == 101:
            break  # else an interim answer (100 Continue): the real one follows
    # HTTP/1.1 keeps a connection open unless told to close it; HTTP/1.0 the other way.
    connection = headers.get("connection", "").lower()
    will_close = "close" in connection if version == "HTTP/1.1" else "keep-alive" not in connection
    length = headers.get("content-length", "")
    if status in (204, 304):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(rfile)
    elif length.isascii() and length.isdigit():
        size = int(length)
        if size > MAX_RESPONSE_BYTES:
            raise PeerProtocolError(f"response of {size} bytes: too big")
        body = rfile.read(size)
        if len(body) < size:
            raise _BadResponse(f"the response ended after {len(body)} of {size} bytes")
    else:  # no usable length: the body ends when the server closes the connection
        body = rfile.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise PeerProtocolError(f"response over {MAX_RESPONSE_BYTES} bytes")
        will_close = True
    return status, reason.strip(), body, will_close


class XmlRpcProxy:
    """Calls XML-RPC methods at *url*, each within *timeout* seconds (None: no limit)."""

    def __init__(self, url: str, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port  # ValueError if not a number, or out of range
        except ValueError as exc:
            raise TransportError(f"cannot call {url!r}: {exc}") from exc
        if parts.scheme != "http" or not parts.hostname:
            raise TransportError(
                f"cannot call {url!r}: SAMP XML-RPC URLs are http://host:port/path"
            )
        self.url = url
        self.timeout = timeout
        self._host = parts.hostname
        self._port = port or 80
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
        host = f"[{self._host}]" if ":" in self._host else self._host
        if self._port != 80:
            host = f"{host}:{self._port}"
        self._head = (
            f"POST {self._path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
            "Content-Type: text/xml\r\nUser-Agent: minisamp\r\nContent-Length: "
        ).encode("iso-8859-1", "replace")
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()  # all open ones, idle or in a call
        self._idle: list[_Connection] = []  # free for the next call, the latest used last
        self._closed = False
        self._retired = False  # close each connection when its call ends

    def __repr__(self) -> str:
        return f"XmlRpcProxy({self.url!r})"

    def call(self, method: str, *params: Any, timeout: float | bool | None = False) -> SampValue:
        """Call *method* with *params*; *timeout* (seconds) overrides the proxy's."""
        return self.send_request(codec.dump_request(method, params), method, timeout=timeout)

    def send_request(
        self,
        body: bytes | Sequence[bytes | memoryview],
        method: str,
        *,
        timeout: float | bool | None = False,
        sent: Callable[[], None] | None = None,
    ) -> SampValue:
        """Post an encoded methodCall *body* (of *method*) and return its result.

        For a caller that must know the request's size before sending it.  *body* may
        be a sequence of parts, sent one after the other without joining them (so a
        large part shared by several requests is never copied).  *sent* is called once
        the whole request is written (before the answer is read).
        """
        if self._closed:
            raise TransportError(f"the connection to {self.url} has been closed")
        limit = self.timeout if timeout is False else timeout
        parts: list[bytes | memoryview] = [body] if isinstance(body, bytes) else list(body)
        started = time.perf_counter()
        data = self._post(parts, limit, method, sent)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s -> %s: %d bytes out, %d in, %.2f ms",
                method,
                self.url,
                sum(len(part) for part in parts),
                len(data),
                1000 * (time.perf_counter() - started),
            )
        if wire_logger.isEnabledFor(logging.DEBUG):
            whole = b"".join(parts)
            wire_logger.debug(
                "request to %s:\n%s\nresponse:\n%s", self.url, _mask_key(whole), _mask_key(data)
            )
        return codec.parse_response(data)

    def _connection(self, deadline: float | None) -> tuple[_Connection, bool]:
        """An idle connection (the one used last), else a new one; True if reused."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        reused = conn is not None
        if conn is None:
            conn = _Connection(self._host, self._port, deadline)
            with self._lock:
                if self._closed:  # closed while we connected: do not leak the socket
                    conn.close()
                    raise _Stale("the proxy was closed")
                self._connections.add(conn)
        conn.set_deadline(deadline)
        return conn, reused

    def _release(self, conn: _Connection) -> None:
        with self._lock:
            keep = conn in self._connections and not self._retired  # not closed meanwhile
            if keep:
                self._idle.append(conn)
        if not keep:
            self._drop(conn)

    def _drop(self, conn: _Connection | None) -> None:
        if conn is not None:
            conn.close()
            with self._lock:
                self._connections.discard(conn)

    def _post(
        self,
        parts: list[bytes | memoryview],
        timeout: float | None,
        method: str,
        sent: Callable[[], None] | None,
    ) -> bytes:
        size = sum(len(part) for part in parts)
        head = self._head + b"%d\r\n\r\n" % size
        # a small request goes out with one sendall (one packet), a large one unjoined
        parts = [head + b"".join(parts)] if size <= _JOIN_BELOW else [head, *parts]
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in (1, 2):
            conn: _Connection | None = None
            reused = False
            try:
                conn, reused = self._connection(deadline)
                for part in parts:
                    conn.set_deadline(deadline)  # sendall's timeout is per call
                    conn.sock.sendall(part)
                if sent is not None:
                    sent()
                status, reason, data, will_close = _read_response(conn.rfile)
            except PeerProtocolError as exc:
                self._drop(conn)
                raise PeerProtocolError(f"{self.url} sent a {exc}") from None
            except _STALE as exc:
                self._drop(conn)
                if reused and attempt == 1 and not self._closed:
                    continue  # the server closed an idle connection: try once on a new one
                raise TransportError(f"{self.url} closed the connection during {method}") from exc
            except TimeoutError as exc:
                self._drop(conn)
                raise TransportError(
                    f"no answer from {self.url} to {method} within {timeout} s"
                ) from exc
            except ConnectionRefusedError as exc:
                self._drop(conn)
                raise TransportError(
                    f"cannot connect to {self.url}: connection refused (is it still running?)"
                ) from exc
            except (OSError, _BadResponse) as exc:
                self._drop(conn)
                raise TransportError(f"calling {method} at {self.url} failed: {exc}") from exc
            if status != 200:
                self._drop(conn)
                raise TransportError(
                    f"{self.url} answered HTTP {status} {reason}: is it a SAMP XML-RPC endpoint?"
                )
            if will_close:
                self._drop(conn)
            else:
                self._release(conn)
            return data
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every connection this proxy opened, idle or in a call in any thread."""
        self._closed = True
        with self._lock:
            connections, self._connections, self._idle = self._connections, set(), []
        for conn in connections:
            conn.close()

    def retire(self) -> None:
        """Refuse new calls, close idle connections now and busy ones when their call ends.

        Unlike :meth:`close` it lets calls in progress in other threads finish.
        """
        self._closed = self._retired = True
        with self._lock:
            idle, self._idle = self._idle, []
            self._connections.difference_update(idle)
        for conn in idle:
            conn.close()

    def reopen(self) -> None:
        """Allow calls again after :meth:`close` (connections are made afresh)."""
        self._closed = self._retired = False


def http_get(url: str, *, timeout: float) -> bytes:
    """The body of ``GET`` *url* (``http:`` only), all of it within *timeout* seconds.

    For ``http:`` lockfiles: one overall deadline, so a server that dribbles its answer
    cannot hold the caller longer.  Raises :class:`TransportError` for anything but a
    200 answer in time.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise TransportError(f"cannot fetch {url!r}: only http: URLs are supported")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    deadline = time.monotonic() + timeout
    conn: _Connection | None = None
    try:
        conn = _Connection(parts.hostname, parts.port or 80, deadline)
        conn.set_deadline(deadline)
        conn.sock.sendall(request.encode("iso-8859-1"))
        status, reason, body, _ = _read_response(conn.rfile)
    except TimeoutError as exc:
        raise TransportError(f"no answer from {url} within {timeout} s") from exc
    except (OSError, _BadResponse, _Stale, PeerProtocolError) as exc:
        raise TransportError(f"fetching {url} failed: {exc}") from exc
    finally:
        if conn is not None:
            conn.close()
    if status != 200:
        raise TransportError(f"{url} answered HTTP {status} {reason}")
    return body
