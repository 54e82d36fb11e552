"""Incoming XML-RPC calls: a threaded HTTP/1.1 server on ``xmlrpc.server``, bound to loopback.

:class:`XmlRpcServer` hands each call, as ``(method, params)``, to a *dispatcher*
function and writes back its return value, or a fault
``{faultCode: int, faultString}`` when the dispatcher raises.  ``None`` is returned
as ``""``: SAMP has no ``<nil/>``.

Hardening: bodies over ``max_body`` bytes are refused with HTTP 413 before being
read; bodies are parsed by :mod:`minisamp.xmlrpc_codec` (defused, depth-limited); each
connection has an idle timeout, so a slow sender ties up one thread for a bounded
time; at most ``max_connections`` are served at once.  One named daemon thread per
connection (keep-alive), joined on :meth:`XmlRpcServer.close`.

Subclasses customise it by overriding the hooks at the end of :class:`XmlRpcServer`:
admit or refuse a peer, answer GET and OPTIONS, add headers, redact the access log.
The hooks that answer are given the request handler and reply through its
``send_body(code, body, content_type)`` or ``send_error_text(code, text)``; a dispatcher
that needs the request's headers or socket gets its handler from
:meth:`XmlRpcServer.current_handler`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import selectors
import socket
import threading
import xmlrpc.server
from collections.abc import Callable
from typing import Any

from . import xmlrpc_codec
from .errors import PeerProtocolError, SampError, SAMPProxyError

__all__ = ["DEFAULT_MAX_BODY", "Dispatcher", "XmlRpcServer"]

logger = logging.getLogger(__name__)

#: Largest request body accepted by default (hubtester sends 10 000-element lists).
DEFAULT_MAX_BODY = 32 * 1024 * 1024
#: Fault code for malformed requests and unknown methods.
FAULT_BAD_REQUEST = 1

Dispatcher = Callable[[str, tuple[Any, ...], tuple[str, int]], Any]


class _RequestHandler(xmlrpc.server.SimpleXMLRPCRequestHandler):
    """One keep-alive connection: POST bodies in, XML-RPC responses out."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        self.request.settimeout(self.server.idle_timeout)
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parse_request(self) -> bool:
        """Read the request line and headers; refuse (403) a peer the owner does not admit."""
        if not super().parse_request():
            return False
        if not self.server.admit(self.client_address):
            logger.debug("refused a request from %s: not admitted", self.client_address[0])
            self.send_error_text(403, "Access to this server from your address is not permitted")
            return False
        self.server.requests.handler = self
        return True

    def do_POST(self) -> None:
        self.server.begin_request(self.connection)
        try:
            body = self._read_body()
            if body is not None:
                self.send_body(200, self.server.respond(body, self.client_address))
        finally:
            if self.server.end_request(self.connection):
                self.close_connection = True  # the server is closing: no next request

    def do_GET(self) -> None:
        self.server.handle_get(self)

    def do_OPTIONS(self) -> None:
        self.server.handle_options(self)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.send_error_text(411, "chunked bodies are not accepted: send a Content-Length")
            return None
        length = self.headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):  # not "²"
            self.send_error_text(411, "a Content-Length header is required")
            return None
        size = int(length)
        if size > self.server.max_body:
            limit = self.server.max_body
            self.send_error_text(413, f"request body of {size} bytes is over the {limit} limit")
            return None
        try:
            body = self.rfile.read(size)
        except TimeoutError:
            self.close_connection = True
            return None
        if len(body) < size:
            self.close_connection = True  # the peer lied about the length, or went away
            return None
        encoding = self.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":
            self.send_error_text(415, f"Content-Encoding {encoding} is not accepted")
            return None
        return body

    def send_error_text(self, code: int, text: str) -> None:
        """Answer with status *code* and *text* as a text/plain body; close the connection."""
        self.close_connection = True
        self.send_body(code, text.encode("ascii", "replace"), "text/plain", close=True)

    def send_body(
        self, code: int, body: bytes, content_type: str = "text/xml", *, close: bool = False
    ) -> None:
        """Answer with status *code* and *body*, plus the owner's extra headers."""
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in self.server.extra_headers(self).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), self.server.redact(format % args))


class _HTTPServer(xmlrpc.server.SimpleXMLRPCServer):
    """The socket side: own accept loop, named thread per connection, bounded count."""

    daemon_threads = True
    allow_reuse_address = False
    # socketserver's default backlog of 5 drops (or resets) bursts of new connections,
    # e.g. a hub broadcasting to many clients: each dropped SYN costs the caller 1 s.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, owner: XmlRpcServer, address: tuple[str, int]) -> None:
        self.owner = owner
        self.max_body = owner.max_body
        self.idle_timeout = owner.idle_timeout
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: dict[threading.Thread, socket.socket] = {}
        self._busy: set[socket.socket] = set()  # connections with a request in flight
        self._closing = False
        self.requests = threading.local()  # .handler: the request this thread is serving
        super().__init__(
            address, _RequestHandler, logRequests=False, allow_none=False, bind_and_activate=True
        )

    def admit(self, client: tuple[str, int]) -> bool:
        return self.owner.admit(client)

    def redact(self, line: str) -> str:
        return self.owner.redact(line)

    def respond(self, body: bytes, client: tuple[str, int]) -> bytes:
        return self.owner.respond(body, client)

    def handle_get(self, handler: _RequestHandler) -> None:
        self.owner.handle_get(handler)

    def handle_options(self, handler: _RequestHandler) -> None:
        self.owner.handle_options(handler)

    def extra_headers(self, handler: _RequestHandler) -> dict[str, str]:
        return self.owner.extra_headers(handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if len(self._threads) >= self.owner.max_connections:
                logger.warning("refusing connection from %s: too many open", client_address)
                self.shutdown_request(request)
                return
            thread = threading.Thread(
                target=self._serve_connection,
                args=(request, client_address),
                name=f"{self.owner.name}-conn-{next(self._counter)}",
                daemon=True,
            )
            self._threads[thread] = request
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            logger.debug("connection from %s ended with an error", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._threads.pop(threading.current_thread(), None)

    def begin_request(self, sock: socket.socket) -> None:
        with self._lock:
            self._busy.add(sock)

    def end_request(self, sock: socket.socket) -> bool:
        """Mark a request answered; True if its connection should close now."""
        with self._lock:
            self._busy.discard(sock)
            return self._closing

    def close_connections(self, timeout: float) -> None:
        # Idle keep-alive connections are cut; one with a request in flight (e.g. the
        # very call that made the owner close) finishes its response first.
        with self._lock:
            self._closing = True
            threads = dict(self._threads)
            busy = set(self._busy)
        for sock in threads.values():
            if sock in busy:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)


class XmlRpcServer:
    """A threaded XML-RPC server calling ``dispatcher(method, params, client_address)``.

    Bound to 127.0.0.1 unless *host* says otherwise; port 0 picks a free port.
    Start it with :meth:`start`, stop it with :meth:`close` (idempotent).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/xmlrpc",
        name: str = "minisamp-server",
        max_body: int = DEFAULT_MAX_BODY,
        idle_timeout: float = 60.0,
        max_connections: int = 512,
    ) -> None:
        self.dispatcher = dispatcher
        self.name = name
        self.path = path
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._server = _HTTPServer(self, (host, port))
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The URL to advertise: ``http://127.0.0.1:<port><path>`` for a loopback server."""
        host, port = self.address
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}{self.path}"

    def start(self) -> None:
        """Start accepting connections in a named daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._serve, name=f"{self.name}-accept", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._server.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._closed:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._server._handle_request_noblock()  # type: ignore[attr-defined]

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close open connections and join every thread."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._server.server_close()
        self._server.close_connections(timeout)
        self._wake_r.close()
        self._wake_w.close()

    def current_handler(self) -> Any:
        """The handler of the request the calling thread is serving, or None outside one.

        For a dispatcher that needs more than the client address: the request's
        ``headers``, its ``connection`` socket.  Set once the request is admitted.
        """
        return getattr(self._server.requests, "handler", None)

    # -- what subclasses or owners may customise ---------------------------------------

    def admit(self, client_address: tuple[str, int]) -> bool:
        """Whether to serve a request from *client_address* (default: always).

        Asked for every request once its headers are read, before its body is: a
        request refused here is answered with HTTP 403 and its connection closed.
        """
        return True

    def respond(self, body: bytes, client: tuple[str, int]) -> bytes:
        """Parse a request body, dispatch it, and return the response body."""
        try:
            method, params = xmlrpc_codec.parse_request(body)
        except PeerProtocolError as exc:
            logger.info("malformed request from %s: %s", client[0], exc)
            return xmlrpc_codec.dump_fault(FAULT_BAD_REQUEST, str(exc))
        try:
            result = self.dispatcher(method, params, client)
        except SAMPProxyError as exc:
            return xmlrpc_codec.dump_fault(exc.faultCode, exc.faultString)
        except SampError as exc:
            return xmlrpc_codec.dump_fault(FAULT_BAD_REQUEST, str(exc))
        except Exception as exc:
            logger.exception("internal error while handling %s", method)
            return xmlrpc_codec.dump_fault(FAULT_BAD_REQUEST, f"internal error: {exc}")
        try:
            return xmlrpc_codec.dump_response("" if result is None else result)
        except Exception as exc:  # the dispatcher returned something XML-RPC cannot carry
            logger.exception("cannot encode the result of %s", method)
            return xmlrpc_codec.dump_fault(FAULT_BAD_REQUEST, f"internal error: {exc}")

    def handle_get(self, handler: Any) -> None:
        """Answer a GET (default: 404)."""
        handler.send_error_text(404, "this is a SAMP XML-RPC endpoint: POST to it")

    def handle_options(self, handler: Any) -> None:
        """Answer an OPTIONS request (default: 405)."""
        handler.send_error_text(405, "OPTIONS is not supported here")

    def extra_headers(self, handler: Any) -> dict[str, str]:
        """Headers to add to every response (default: none)."""
        return {}

    def redact(self, line: str) -> str:
        """*line*, about to go to the DEBUG access log, with any secret removed (default: as is)."""
        return line
