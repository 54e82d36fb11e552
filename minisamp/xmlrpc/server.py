"""Incoming XML-RPC calls: a threaded server bound to loopback.

:class:`XmlRpcServer` hands each call, as ``(method, params)``, to a *dispatcher*
function and writes back its return value, or a fault
``{faultCode: int, faultString}`` when the dispatcher raises.  ``None`` is returned
as ``""``: SAMP has no ``<nil/>``.

The HTTP side (request line and headers, keep-alive, limits, connections and their
threads) is :mod:`minisamp.xmlrpc.httpd`'s; this module turns a request body into a
response body.  Hardening: bodies are parsed by :mod:`minisamp.xmlrpc.codec`
(defused, depth-limited); over ``max_body`` bytes, chunked or compressed ones are
refused before being read; each connection has an idle timeout; at most
``max_connections`` are served at once, each on a named daemon thread joined on
:meth:`XmlRpcServer.close`.

Subclasses customise it by overriding the hooks at the end of :class:`XmlRpcServer`:
admit or refuse a peer, answer GET and OPTIONS, add headers, redact the access log.
The hooks that answer are given the request handler (:class:`RequestHandler`) and
reply through its ``send_body(code, body, content_type)`` or
``send_error_text(code, text)`` (or, to stream, ``send_response``, ``send_header``,
``end_headers`` and ``wfile``); a dispatcher that needs the request's headers or
socket gets its handler from :meth:`XmlRpcServer.current_handler`.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

from ..errors import PeerProtocolError, SampError, SAMPProxyError
from . import codec
from .httpd import HTTPServer, RequestHandler

__all__ = ["DEFAULT_MAX_BODY", "Dispatcher", "RequestHandler", "XmlRpcServer"]

logger = logging.getLogger(__name__)

#: Largest request body accepted by default (hubtester sends 10 000-element lists).
DEFAULT_MAX_BODY = 32 * 1024 * 1024
#: Fault code for malformed requests and unknown methods.
FAULT_BAD_REQUEST = 1

Dispatcher = Callable[[str, tuple[Any, ...], tuple[str, int]], Any]


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
        self._server = HTTPServer(self, (host, port), logger)
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
        elif ":" in host:
            host = f"[{host}]"
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
                    self._server.accept()

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close open connections and join every thread."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._server.socket.close()
        self._server.close_connections(timeout)
        self._wake_r.close()
        self._wake_w.close()

    def current_handler(self) -> Any:
        """The handler of the request the calling thread is serving, or None outside one.

        For a dispatcher that needs more than the client address: the request's
        ``headers``, its ``connection`` socket.  Set once its headers are read (so
        :meth:`admit` may look at them too).
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
        return self.answer(self.parse(body), client)

    def parse(self, body: bytes | bytearray) -> tuple[str, tuple[Any, ...]] | bytes:
        """``(method, params)`` from a request body, or the fault body to answer it with."""
        try:
            return codec.parse_request(body)
        except PeerProtocolError as exc:
            logger.info("malformed request: %s", exc)
            return codec.dump_fault(FAULT_BAD_REQUEST, str(exc))

    def answer(
        self, request: tuple[str, tuple[Any, ...]] | bytes, client: tuple[str, int]
    ) -> bytes:
        """The response body for what :meth:`parse` made: the call dispatched, or its fault."""
        if isinstance(request, bytes):
            return request
        method, params = request
        try:
            result = self.dispatcher(method, params, client)
        except SAMPProxyError as exc:
            return codec.dump_fault(exc.faultCode, exc.faultString)
        except SampError as exc:
            return codec.dump_fault(FAULT_BAD_REQUEST, str(exc))
        except Exception as exc:
            logger.exception("internal error while handling %s", method)
            return codec.dump_fault(FAULT_BAD_REQUEST, f"internal error: {exc}")
        try:
            return codec.dump_response("" if result is None else result)
        except Exception as exc:  # the dispatcher returned something XML-RPC cannot carry
            logger.exception("cannot encode the result of %s", method)
            return codec.dump_fault(FAULT_BAD_REQUEST, f"internal error: {exc}")

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
