"""HTTP/1.1 for the XML-RPC server: connections, requests and answers, no XML-RPC.

Our own, and small (``http.server`` parses headers with the ``email`` package, which
cost more than the rest of a call): :class:`RequestHandler` reads the request line
and headers itself, and only a few headers matter (``Content-Length``,
``Transfer-Encoding``, ``Content-Encoding``, ``Connection``, ``Expect``, and whatever
the owner's hooks look at).  It keeps ``http.server``'s rules and limits: request line
≤ 65536 bytes (else 414), ≤ 100 header lines of ≤ 65536 bytes (else 431), HTTP/1.1
keep-alive unless ``Connection: close``, HTTP/1.0 closed unless
``Connection: keep-alive``.

Hardening: bodies over the owner's ``max_body`` bytes are refused with HTTP 413 before
being read, chunked bodies (411) and compressed ones (415) too, and so is a request
with two different ``Content-Length`` headers (400); large bodies being read and
parsed at once are capped at twice ``max_body`` in all (the others wait, then get 503:
:class:`~minisamp.xmlrpc.limits.BodyBudget`); each connection has an idle timeout, so
a slow sender ties up one thread for a bounded time; at most ``max_connections`` are
served at once, one named daemon thread each (keep-alive).  A new connection at the
cap closes the one idle the longest, so idle connections never lock new ones out; if
every one is answering a request, the new one gets 503 at once.

What a request means is the *owner*'s business (:class:`Owner`, in practice
:class:`~minisamp.xmlrpc.server.XmlRpcServer`): a POST body goes to its ``respond``,
GET and OPTIONS to its hooks.  Log records go to the logger the owner passes, so that
the access log keeps the server's logger name (``minisamp.xmlrpc.server``).
"""

from __future__ import annotations

import contextlib
import email.utils
import itertools
import logging
import socket
import sys
import threading
import time
from http import HTTPStatus
from typing import Any, Protocol

from .headers import HeaderError, Headers, LineTooLong, read_headers, read_line
from .limits import LARGE_BODY, BodyBudget, Connections, read_large_body, refuse_busy

__all__ = ["HTTPServer", "Owner", "RequestHandler"]


class Owner(Protocol):
    """What the HTTP side asks of the server it works for: limits, and the hooks."""

    name: str
    path: str
    max_body: int
    idle_timeout: float
    max_connections: int

    def admit(self, client_address: tuple[str, int]) -> bool: ...

    def parse(self, body: bytes | bytearray) -> Any: ...

    def answer(self, request: Any, client: tuple[str, int]) -> bytes: ...

    def handle_get(self, handler: RequestHandler) -> None: ...

    def handle_options(self, handler: RequestHandler) -> None: ...

    def extra_headers(self, handler: RequestHandler) -> dict[str, str]: ...

    def redact(self, line: str) -> str: ...


class _SocketWriter:
    """``wfile``: writes go straight to the socket (as socketserver's, unbuffered)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def write(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""


_date_cache: tuple[int, str] = (0, "")


def _date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


class RequestHandler:
    """One connection: reads requests, writes answers, until either side closes it.

    Its attributes are ``http.server``'s: ``command``, ``path``, ``request_version``,
    ``headers`` (case-insensitive ``get``), ``client_address``, ``connection``,
    ``rfile``, ``wfile`` and ``close_connection``.
    """

    protocol_version = "HTTP/1.1"

    def __init__(self, server: HTTPServer, sock: socket.socket, client_address: Any) -> None:
        self.server = server
        self.connection = sock
        self.client_address = client_address
        self.rfile = sock.makefile("rb")
        self.wfile = _SocketWriter(sock)
        self.close_connection = True
        self.command = self.path = self.requestline = ""
        self.request_version = "HTTP/0.9"
        self.headers = Headers()
        self._head: list[str] = []

    def handle(self) -> None:
        """Serve requests on this connection until it is to be closed."""
        try:
            self.handle_one_request()
            while not self.close_connection:
                self.handle_one_request()
        finally:
            self.rfile.close()

    def handle_one_request(self) -> None:
        """Read one request and answer it."""
        self.close_connection = True
        try:
            try:
                line = read_line(self.rfile)
            except LineTooLong:
                self.requestline = self.command = self.request_version = ""
                self.send_error_text(414, "Request-URI Too Long")
                return
            if not line or not self.parse_request(line):
                return
            action = {"POST": self.do_POST, "GET": self.do_GET, "OPTIONS": self.do_OPTIONS}.get(
                self.command
            )
            if action is None:
                self.send_error_text(501, f"Unsupported method ({self.command!r})")
                return
            self.server.begin_request(self.connection)
            try:
                action()
            finally:
                if self.server.end_request(self.connection):
                    self.close_connection = True  # the server is closing: no next request
        except TimeoutError:
            self.close_connection = True  # a read or a write timed out: drop the connection

    def parse_request(self, line: bytes) -> bool:
        """Read the request line and headers (answering errors as ``http.server`` does);
        refuse (403) a peer the owner does not admit."""
        self.requestline = requestline = line.decode("iso-8859-1").rstrip("\r\n")
        self.request_version = "HTTP/0.9"
        words = requestline.split()
        if not words:
            return False
        if len(words) >= 3:
            version = words[-1]
            number = self._version_number(version)
            if number is None:
                self.send_error_text(400, f"Bad request version ({version!r})")
                return False
            if number >= (2, 0):
                self.send_error_text(505, f"Invalid HTTP version ({version[5:]})")
                return False
            self.close_connection = number < (1, 1)
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error_text(400, f"Bad request syntax ({requestline!r})")
            return False
        self.command, self.path = words[0], words[1]
        if len(words) == 2 and self.command != "GET":
            self.send_error_text(400, f"Bad HTTP/0.9 request type ({self.command!r})")
            return False
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = read_headers(self.rfile)
        except HeaderError as exc:
            self.send_error_text(431, str(exc))
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        self.server.requests.handler = self  # admit may look at the headers
        if not self.server.owner.admit(self.client_address):
            self.server.log.debug("refused a request from %s: not admitted", self.client_address[0])
            self.send_error_text(403, "Access to this server from your address is not permitted")
            return False
        return True

    @staticmethod
    def _version_number(version: str) -> tuple[int, int] | None:
        if version == "HTTP/1.1":
            return 1, 1
        if not version.startswith("HTTP/"):
            return None
        parts = version[5:].split(".")
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts):
            return None
        return int(parts[0]), int(parts[1])

    # -- the methods -------------------------------------------------------------------

    def do_POST(self) -> None:
        owner = self.server.owner
        if self.path.split("?", 1)[0].rstrip("/") != owner.path.rstrip("/"):
            self.send_error_text(404, f"POST to {owner.path}: this is a SAMP XML-RPC endpoint")
            return
        size = self._body_size()
        if size is None:
            return
        budget = self.server.body_budget
        if not budget.acquire(size, owner.idle_timeout):
            self.send_error_text(503, "too many large requests at once: try again later")
            return
        try:
            body = self._read_body(size)
            if body is None:
                return
            request = owner.parse(body)
            del body
        finally:
            budget.release(size)
        self.send_body(200, owner.answer(request, self.client_address))

    def do_GET(self) -> None:
        self.server.owner.handle_get(self)

    def do_OPTIONS(self) -> None:
        self.server.owner.handle_options(self)

    def _body_size(self) -> int | None:
        """The body's size, once its headers are acceptable; None if refused (answered)."""
        headers = self.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            self.send_error_text(411, "chunked bodies are not accepted: send a Content-Length")
            return None
        if headers.conflicting_length:
            self.send_error_text(400, "two different Content-Length headers")
            return None
        length = headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):  # not "²"
            self.send_error_text(411, "a Content-Length header is required")
            return None
        size = int(length)
        if size > self.server.owner.max_body:
            limit = self.server.owner.max_body
            self.send_error_text(413, f"request body of {size} bytes is over the {limit} limit")
            return None
        encoding = headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":
            self.send_error_text(415, f"Content-Encoding {encoding} is not accepted")
            return None
        return size

    def _read_body(self, size: int) -> bytes | bytearray | None:
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version != "HTTP/1.0":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body: bytes | bytearray | None
        if size >= LARGE_BODY:  # within one deadline: it holds a share of the body budget
            timeout = self.server.owner.idle_timeout
            body = read_large_body(self.rfile, self.connection, size, timeout)
        else:
            body = self.rfile.read(size)
        if body is None or len(body) < size:
            self.close_connection = True  # the peer lied about the length, or went away
            return None
        return body

    # -- answering ---------------------------------------------------------------------

    def send_body(
        self, code: int, body: bytes, content_type: str = "text/xml", *, close: bool = False
    ) -> None:
        """Answer with status *code* and *body*, plus the owner's extra headers."""
        self.send_response(code)
        head = self._head
        head.append(f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n")
        for name, value in self.server.owner.extra_headers(self).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
        head.append("\r\n")
        self._head = []
        self.wfile.write("".join(head).encode("iso-8859-1") + body)

    def send_error_text(self, code: int, text: str) -> None:
        """Answer with status *code* and *text* as a text/plain body; close the connection."""
        self.log_message("code %d, message %s", code, text)
        self.close_connection = True
        self.send_body(code, text.encode("ascii", "replace"), "text/plain", close=True)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Start an answer: status line, ``Server`` and ``Date`` (sent by :meth:`end_headers`)."""
        if self.server.log.isEnabledFor(logging.DEBUG):
            self.log_message('"%s" %s -', self.requestline, code)
        if message is None:
            try:
                message = HTTPStatus(code).phrase
            except ValueError:
                message = ""
        self._head = [f"HTTP/1.1 {code} {message}\r\nServer: minisamp\r\nDate: {_date()}\r\n"]

    def send_header(self, name: str, value: str) -> None:
        """Add a header line to the answer being built."""
        self._head.append(f"{name}: {value}\r\n")
        if name.lower() == "connection":
            if value.lower() == "close":
                self.close_connection = True
            elif value.lower() == "keep-alive":
                self.close_connection = False

    def end_headers(self) -> None:
        """Send the status line and headers; the body (if any) follows on ``wfile``."""
        self._head.append("\r\n")
        head, self._head = self._head, []
        self.wfile.write("".join(head).encode("iso-8859-1"))

    def address_string(self) -> str:
        """The peer's address, for the log."""
        return str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:
        """DEBUG access log, each line through the owner's ``redact``."""
        log = self.server.log
        if log.isEnabledFor(logging.DEBUG):
            line = self.server.owner.redact(format % args)
            log.debug("%s - %s", self.address_string(), line)


class HTTPServer:
    """The socket side: listening socket, named thread per connection, bounded count."""

    # A backlog of 5 (socketserver's default) drops (or resets) bursts of new connections,
    # e.g. a hub broadcasting to many clients: each dropped SYN costs the caller 1 s.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, owner: Owner, address: tuple[str, int], log: logging.Logger) -> None:
        self.owner = owner
        self.log = log
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: dict[threading.Thread, socket.socket] = {}
        self._conns = Connections()  # open ones (not evicted): when active, which busy
        self._closing = False
        self.body_budget = BodyBudget(owner.max_body)
        self.requests = threading.local()  # .handler: the request this thread is serving
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            if sys.platform != "win32":  # rebind a fixed port at once after a crash,
                # despite its old connections in TIME_WAIT (two listeners stay impossible);
                # not on Windows, where SO_REUSEADDR lets another process take the port
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(self.request_queue_size)
        except BaseException:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()

    def accept(self) -> None:
        """Take one waiting connection and serve it on a new thread (or refuse it)."""
        try:
            sock, client_address = self.socket.accept()
        except OSError:
            return
        with self._lock:
            if self._closing:
                _shutdown(sock)
                return
            if len(self._conns) >= self.owner.max_connections and not self._evict_idlest():
                self.log.warning("refusing connection from %s: all busy", client_address)
                refuse_busy(sock)
                return
            self._conns.add(sock)
            thread = threading.Thread(
                target=self._serve_connection,
                args=(sock, client_address),
                name=f"{self.owner.name}-conn-{next(self._counter)}",
                daemon=True,
            )
            self._threads[thread] = sock
        thread.start()

    def _serve_connection(self, sock: socket.socket, client_address: Any) -> None:
        try:
            sock.settimeout(self.owner.idle_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            RequestHandler(self, sock, client_address).handle()
        except Exception:
            self.log.debug("connection from %s ended with an error", client_address, exc_info=True)
        finally:
            _shutdown(sock)
            with self._lock:
                self._threads.pop(threading.current_thread(), None)
                self._conns.remove(sock)

    def _evict_idlest(self) -> bool:
        """Close the connection idle the longest (lock held); False if all are busy."""
        victim = self._conns.idlest()
        if victim is None:
            return False
        self.log.info("at %d connections: closing the one idle the longest", len(self._conns))
        self._conns.remove(victim)
        with contextlib.suppress(OSError):
            victim.shutdown(socket.SHUT_RDWR)  # its thread reads the end and finishes
        return True

    def begin_request(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.begin(sock)

    def end_request(self, sock: socket.socket) -> bool:
        """Mark a request answered; True if its connection should close now."""
        with self._lock:
            self._conns.end(sock)
            return self._closing

    def close_connections(self, timeout: float) -> None:
        # Idle keep-alive connections are cut; one with a request in flight (e.g. the
        # very call that made the owner close) finishes its response first.
        with self._lock:
            self._closing = True
            threads = dict(self._threads)
            busy = {sock for sock in threads.values() if self._conns.is_busy(sock)}
        for sock in threads.values():
            if sock in busy:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()
