"""Outgoing XML-RPC calls: a keep-alive HTTP/1.1 connection to one URL, with timeouts.

:class:`XmlRpcProxy` is safe to share between threads: each thread gets its own
``http.client`` connection (kept alive between calls), so calls never wait for one
another.  Every call has a timeout.  This is the one place where stdlib network
exceptions become minisamp's: connection failures and timeouts raise
:class:`~minisamp.errors.TransportError`, faults :class:`~minisamp.errors.SAMPProxyError`,
garbage :class:`~minisamp.errors.PeerProtocolError`.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import threading
import time
import urllib.parse
from typing import Any

from . import xmlrpc_codec
from .datatypes import SampValue
from .errors import PeerProtocolError, SampError, TransportError

__all__ = ["DEFAULT_TIMEOUT", "XmlRpcProxy"]

logger = logging.getLogger(__name__)
wire_logger = logging.getLogger("minisamp.wire")

#: Seconds a call may take unless the caller says otherwise.
DEFAULT_TIMEOUT = 30.0
#: Largest response body accepted.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024

_HEADERS = {"Content-Type": "text/xml", "User-Agent": "minisamp"}
# A kept-alive connection the server has closed fails like this on first use.
_STALE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.BadStatusLine,
    ConnectionAbortedError,
)


# The first parameter of every samp.hub.* / samp.client.* call is a secret or private key.
_FIRST_PARAM = re.compile(rb"(<params>\s*<param>\s*<value>(?:\s*<string>)?)([^<]+)")
_REG_KEYS = re.compile(
    rb"(<name>samp\.(?:private-key|secret)</name>\s*<value>(?:\s*<string>)?)([^<]+)"
)


def _mask_key(body: bytes) -> bytes:
    """*body* with private keys and secrets replaced by ``***`` (for the wire log)."""
    if b"<methodCall>" in body[:200]:
        body = _FIRST_PARAM.sub(rb"\1***", body, count=1)
    return _REG_KEYS.sub(rb"\1***", body)


class _Connection(http.client.HTTPConnection):
    """An HTTP connection with Nagle's algorithm off (small requests, latency matters)."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class XmlRpcProxy:
    """Calls XML-RPC methods at *url*, each within *timeout* seconds (None: no limit)."""

    def __init__(self, url: str, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise TransportError(
                f"cannot call {url!r}: SAMP XML-RPC URLs are http://host:port/path"
            )
        self.url = url
        self.timeout = timeout
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"XmlRpcProxy({self.url!r})"

    def call(self, method: str, *params: Any, timeout: float | bool | None = False) -> SampValue:
        """Call *method* with *params*; *timeout* (seconds) overrides the proxy's."""
        if self._closed:
            raise TransportError(f"the connection to {self.url} has been closed")
        limit = self.timeout if timeout is False else timeout
        body = xmlrpc_codec.dump_request(method, params)
        started = time.perf_counter()
        data = self._post(body, limit, method)
        logger.debug(
            "%s -> %s: %d bytes out, %d in, %.2f ms",
            method,
            self.url,
            len(body),
            len(data),
            1000 * (time.perf_counter() - started),
        )
        if wire_logger.isEnabledFor(logging.DEBUG):
            wire_logger.debug(
                "request to %s:\n%s\nresponse:\n%s", self.url, _mask_key(body), _mask_key(data)
            )
        return xmlrpc_codec.parse_response(data)

    def _connection(self) -> tuple[_Connection, bool]:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = _Connection(self._host, self._port)
        self._local.conn = conn
        with self._lock:
            self._connections.add(conn)
        return conn, False

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            self._connections.discard(conn)

    def _post(self, body: bytes, timeout: float | None, method: str) -> bytes:
        for attempt in (1, 2):
            conn, reused = self._connection()
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request("POST", self._path, body, _HEADERS)
                response = conn.getresponse()
                return self._read(response, conn)
            except SampError:
                raise
            except _STALE as exc:
                self._drop(conn)
                if reused and attempt == 1:
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
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise TransportError(f"calling {method} at {self.url} failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _read(self, response: http.client.HTTPResponse, conn: _Connection) -> bytes:
        length = response.getheader("Content-Length")
        if length and length.isascii() and length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
            self._drop(conn)
            raise PeerProtocolError(f"{self.url} sent a response of {length} bytes: too big")
        data = response.read(MAX_RESPONSE_BYTES + 1)
        if len(data) > MAX_RESPONSE_BYTES:
            self._drop(conn)
            raise PeerProtocolError(f"{self.url} sent a response over {MAX_RESPONSE_BYTES} bytes")
        if response.status != 200:
            self._drop(conn)
            raise TransportError(
                f"{self.url} answered HTTP {response.status} {response.reason}: "
                "is it a SAMP XML-RPC endpoint?"
            )
        if response.will_close:
            self._drop(conn)
        return data

    def close(self) -> None:
        """Close every connection this proxy opened, in any thread."""
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            conn.close()

    def reopen(self) -> None:
        """Allow calls again after :meth:`close` (connections are made afresh)."""
        self._closed = False
        self._local = threading.local()
