"""A client's callback endpoint, where what arrives there goes, and pending calls.

:class:`CallbackServer` serves the three ``samp.client.*`` methods the hub calls
(SAMP 1.3 §3.12, §4.2).  Each call's first argument must be our private key — the
proof that the caller is our hub — or it is refused with a fault and nothing runs.
The server only hands the call on to :class:`Inbound` (which queues handlers on a
worker pool, or settles a :class:`PendingCalls` future) and answers ``""`` at
once, so the hub is never kept waiting by a handler.

:class:`PendingCalls` maps the msg-tags of our asynchronous calls to futures.  A
tag is registered *before* the hub is asked to deliver, so a response that beats
the hub's answer to ``call`` is not lost.  One named daemon thread enforces
deadlines.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import SampValue
from ..errors import PeerProtocolError, SAMPClientError, SampError, SAMPProxyError, SampTimeoutError
from ..messages import Message, Response
from ..xmlrpc.server import XmlRpcServer
from .directory import HUB_MTYPES
from .handlers import (
    Binding,
    HandlerRegistry,
    ReceivedMessage,
    WorkerPool,
    error_response,
    response_for,
)

__all__ = [
    "FAULT_BAD_KEY",
    "CallbackServer",
    "PendingCalls",
]

logger = logging.getLogger(__name__)

#: Fault code for a callback carrying the wrong private key.
FAULT_BAD_KEY = 5

NotificationSink = Callable[[str, dict[str, SampValue]], None]
CallSink = Callable[[str, str, dict[str, SampValue]], None]
ResponseSink = Callable[[str, str, dict[str, SampValue]], None]


def _map(value: Any, what: str) -> dict[str, SampValue]:
    if not isinstance(value, dict):
        raise SAMPProxyError(1, f"{what} must be a map")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise SAMPProxyError(1, f"{what} must be a string")
    return value


class CallbackServer:
    """The XML-RPC endpoint a callable client gives the hub with ``setXmlrpcCallback``."""

    def __init__(
        self,
        private_key: str,
        *,
        on_notification: NotificationSink,
        on_call: CallSink,
        on_response: ResponseSink,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "minisamp-callback",
    ) -> None:
        self._key = private_key.encode()
        self._on_notification = on_notification
        self._on_call = on_call
        self._on_response = on_response
        self._server = XmlRpcServer(self._dispatch, host=host, port=port, name=name)

    @property
    def url(self) -> str:
        """The URL to give the hub."""
        return self._server.url

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving and join the server's threads (idempotent)."""
        self._server.close(timeout)

    def _dispatch(self, method: str, params: tuple[Any, ...], client: tuple[str, int]) -> str:
        arity = {
            "samp.client.receiveNotification": 3,
            "samp.client.receiveCall": 4,
            "samp.client.receiveResponse": 4,
        }.get(method)
        if arity is None:
            raise SAMPProxyError(1, f"no such method: {method}")
        if len(params) != arity:
            raise SAMPProxyError(1, f"{method} takes {arity} arguments, not {len(params)}")
        key = params[0]
        if not isinstance(key, str) or not hmac.compare_digest(key.encode(), self._key):
            logger.warning("refused %s from %s: wrong private key", method, client[0])
            raise SAMPProxyError(FAULT_BAD_KEY, "wrong private key: this call is not from our hub")
        try:
            if method == "samp.client.receiveNotification":
                self._on_notification(_text(params[1], "sender-id"), _map(params[2], "message"))
            elif method == "samp.client.receiveCall":
                sender, msg_id = _text(params[1], "sender-id"), _text(params[2], "msg-id")
                self._on_call(sender, msg_id, _map(params[3], "message"))
            else:
                responder, tag = _text(params[1], "responder-id"), _text(params[2], "msg-tag")
                self._on_response(responder, tag, _map(params[3], "response"))
        except PeerProtocolError as exc:
            raise SAMPProxyError(1, str(exc)) from None
        return ""


@dataclass
class _Pending:
    """One asynchronous call (or broadcast) still waiting for responses."""

    future: Future[Any]
    broadcast: bool
    recipient: str = ""
    expected: set[str] | None = None  # broadcast: the recipients callAll reported
    responses: dict[str, Response] = field(default_factory=dict)
    deadline: float | None = None


def _settle(future: Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except Exception:  # cancelled meanwhile, or settled by another thread
        logger.debug("future already settled", exc_info=True)


class PendingCalls:
    """msg-tag → future for each asynchronous call of one client, with deadlines."""

    def __init__(self, name: str = "minisamp-deadlines") -> None:
        self._prefix = f"ms-{secrets.token_hex(3)}-"
        self._counter = itertools.count(1)
        self._name = name
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def owns(self, tag: str) -> bool:
        """True if *tag* is one of ours and still pending."""
        with self._cond:
            return tag in self._pending

    def add(
        self, *, broadcast: bool, recipient: str = "", timeout: float | None = None
    ) -> tuple[str, Future[Any]]:
        """Register a new call; returns its tag and the future its responses settle."""
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        tag = f"{self._prefix}{next(self._counter)}"
        entry = _Pending(future, broadcast, recipient)
        with self._cond:
            if self._closed:
                raise SAMPClientError("the SAMP client was closed")
            self._pending[tag] = entry
            if timeout is not None and timeout > 0:
                entry.deadline = time.monotonic() + timeout
                heapq.heappush(self._deadlines, (entry.deadline, tag))
                if self._thread is None:
                    self._ensure_thread()
                elif self._deadlines[0][1] == tag:
                    self._cond.notify()  # the earliest deadline now: the watcher must wake sooner
        return tag, future

    def set_recipients(self, tag: str, recipients: set[str]) -> None:
        """Say whom a broadcast reached; it completes once each of them has answered."""
        with self._cond:
            entry = self._pending.get(tag)
            if entry is None:
                return
            entry.expected = set(recipients)
            done = entry.expected <= entry.responses.keys()
            if done:
                del self._pending[tag]
        if done:
            _settle(entry.future, result=dict(entry.responses))

    def resolve(self, responder_id: str, tag: str, response: Response) -> bool:
        """Deliver a response; False if *tag* is not a pending call of ours."""
        with self._cond:
            entry = self._pending.get(tag)
            if entry is None:
                return False
            done = not entry.broadcast
            if entry.broadcast:
                entry.responses[responder_id] = response
                done = entry.expected is not None and entry.expected <= entry.responses.keys()
            if done:
                del self._pending[tag]
        if done:
            _settle(entry.future, result=dict(entry.responses) if entry.broadcast else response)
        return True

    def fail(self, tag: str, error: BaseException) -> None:
        """Fail the call *tag* with *error* (e.g. the hub refused to deliver it)."""
        with self._cond:
            entry = self._pending.pop(tag, None)
        if entry is not None:
            _settle(entry.future, error=error)

    def fail_all(self, error: BaseException) -> None:
        """Fail every pending call with *error* (the hub went away, or we closed)."""
        with self._cond:
            entries, self._pending = list(self._pending.values()), {}
        for entry in entries:
            _settle(entry.future, error=error)

    def close(self, error: BaseException, timeout: float = 5.0) -> None:
        """Fail what is pending with *error* and join the deadline thread (idempotent)."""
        self.fail_all(error)
        with self._cond:
            self._closed = True
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name=self._name, daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                expired: list[_Pending] = []
                # Expired deadlines go, and so do those of calls already settled, so
                # that the watcher sleeps until the next deadline that can still fire.
                while self._deadlines and (
                    self._deadlines[0][0] <= now or self._deadlines[0][1] not in self._pending
                ):
                    _, tag = heapq.heappop(self._deadlines)
                    entry = self._pending.get(tag)
                    if entry is not None and entry.deadline is not None and entry.deadline <= now:
                        del self._pending[tag]
                        expired.append(entry)
                if expired:
                    self._cond.release()
                    try:
                        for entry in expired:
                            _expire(entry)
                    finally:
                        self._cond.acquire()
                    continue
                wait = self._deadlines[0][0] - now if self._deadlines else None
                self._cond.wait(wait)


def _expire(entry: _Pending) -> None:
    if entry.broadcast:
        _settle(entry.future, result=dict(entry.responses))
    else:
        _settle(
            entry.future,
            error=SampTimeoutError(
                f"no response from {entry.recipient} in time", responder_id=entry.recipient
            ),
        )


class Inbound:
    """Where a callable client's callbacks go.

    Messages go to the most specific handler in *registry*, run on a
    :class:`~minisamp.client.handlers.WorkerPool`; a call handler's outcome is sent with
    *reply*.  Responses settle a :class:`PendingCalls` future, or go to a pyvo-style
    handler in *response_handlers* (by msg-tag).  Hub messages (``HUB_MTYPES``) are
    accepted from *hub_id* only, given to *on_hub_message* on the server's thread (so
    the client learns at once that the hub is going), then to any user handler.
    """

    def __init__(
        self,
        registry: HandlerRegistry,
        *,
        reply: Callable[[str, Response], None],
        private_key: str,
        hub_id: str,
        on_hub_message: Callable[[Message], None],
        response_handlers: Mapping[str, Callable[..., Any]],
        workers: int,
        name: str,
    ) -> None:
        self._registry = registry
        self._reply = reply
        self._key = private_key
        self._hub_id = hub_id
        self._on_hub_message = on_hub_message
        self._response_handlers = response_handlers
        self.pool = WorkerPool(workers, name=f"{name}-handler")
        self.pending = PendingCalls(name=f"{name}-deadlines")

    def notification(self, sender_id: str, message: dict[str, SampValue]) -> None:
        """A ``receiveNotification``: hand it to its handler."""
        msg = Message.from_map(message)
        if msg.mtype in HUB_MTYPES:
            if sender_id != self._hub_id:
                logger.warning("ignoring %s from %s: not from the hub", msg.mtype, sender_id)
                return
            self._on_hub_message(msg)
        binding = self._registry.find(msg.mtype, call=False)
        if binding is not None:
            received = ReceivedMessage(msg.mtype, msg.params, sender_id, None, msg.extra)
            self.pool.submit(lambda: _run_notification(binding, received))

    def call(self, sender_id: str, msg_id: str, message: dict[str, SampValue]) -> None:
        """A ``receiveCall``: run its handler, then reply (unless the handler will)."""
        msg = Message.from_map(message)
        received = ReceivedMessage(msg.mtype, msg.params, sender_id, msg_id, msg.extra, self._reply)
        binding = self._registry.find(msg.mtype, call=True)
        self.pool.submit(lambda: self._run_call(binding, received))

    def _run_call(self, binding: Binding | None, received: ReceivedMessage) -> None:
        assert received.msg_id is not None
        try:
            response: Response | None
            if binding is None:
                response = Response.error_response(f"no handler for {received.mtype}")
            else:
                outcome = binding.invoke(received)
                response = response_for(outcome) if binding.auto_reply else None
        except Exception as exc:
            logger.info("handler for call %s raised %r", received.mtype, exc)
            response = error_response(exc)
        if response is not None:
            try:
                self._reply(received.msg_id, response)
            except SampError as exc:
                logger.warning("could not reply to %s: %s", received.mtype, exc)

    def response(self, responder_id: str, msg_tag: str, response: dict[str, SampValue]) -> None:
        """A ``receiveResponse``: settle the pending call, or run the tag's handler."""
        if self.pending.resolve(responder_id, msg_tag, Response.from_map(response)):
            return
        function = self._response_handlers.get(msg_tag)
        if function is None:
            logger.debug("dropping a response from %s with unknown tag", responder_id)
            return
        self.pool.submit(lambda: function(self._key, responder_id, msg_tag, response))

    def close(self, error: BaseException) -> None:
        """Fail pending calls with *error*; let running handlers finish; join threads."""
        self.pending.close(error)
        self.pool.close()


def _run_notification(binding: Binding, received: ReceivedMessage) -> None:
    try:
        binding.invoke(received)
    except Exception:
        logger.exception("handler for notification %s failed", received.mtype)
