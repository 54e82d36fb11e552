"""Sending: pyvo's notify/call/reply, and the futures and blocking requests on top.

pyvo's contract holds for its names (hub faults raise ``SAMPProxyError``, an error
response comes back as a map; ``call_and_wait`` is the hub's ``callAndWait``).
:meth:`~Sending.call_async` and :meth:`~Sending.call_all_async` track a call under a
fresh tag whose response completes a future; :meth:`~Sending.request` waits on one and
raises for an error response.  A part of :class:`~minisamp.client.Client`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import (
    SAMPClientError,
    SampError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SampTimeoutError,
    TransportError,
)
from ..messages import Message, Response
from .lifecycle import ClientState, Lifecycle

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["CALL_AND_WAIT_MARGIN", "Sending"]

#: Extra seconds the transport waits beyond a callAndWait timeout, for the hub's own fault.
CALL_AND_WAIT_MARGIN = 5.0


def _seconds(timeout: str | float | None) -> float:
    """A pyvo-style timeout (SAMP int string, int or float) as seconds; ≤0 means none."""
    if timeout is None:
        return 0.0
    try:
        return float(timeout)
    except ValueError:
        raise SAMPClientError(f"timeout {timeout!r} is not a number of seconds") from None


class Sending(Lifecycle):
    """Notifications, calls, replies, futures and blocking requests."""

    # -- pyvo's methods ----------------------------------------------------------------

    def notify(self, recipient_id: str, message: Mapping[str, Any] | Message) -> None:
        """Send a notification to *recipient_id*."""
        self._hub("samp.hub.notify", recipient_id, Message.from_user(message).to_map())

    def notify_all(self, message: Mapping[str, Any] | Message) -> list[str]:
        """Send a notification to every subscribed client; returns who it went to."""
        return list(self._hub("samp.hub.notifyAll", Message.from_user(message).to_map()))

    def call(self, recipient_id: str, msg_tag: str, message: Mapping[str, Any] | Message) -> str:
        """Send a call; the response comes to ``bind_receive_response(msg_tag, ...)``."""
        msg = Message.from_user(message).to_map()
        return str(self._hub("samp.hub.call", recipient_id, msg_tag, msg))

    def call_all(self, msg_tag: str, message: Mapping[str, Any] | Message) -> dict[str, str]:
        """Send a call to every subscribed client; returns id → msg-id."""
        msg = Message.from_user(message).to_map()
        return dict(self._hub("samp.hub.callAll", msg_tag, msg))

    def call_and_wait(
        self, recipient_id: str, message: Mapping[str, Any] | Message, timeout: str | float
    ) -> dict[str, Any]:
        """The hub's ``callAndWait``: the response map (an error response is returned,
        not raised); :class:`~minisamp.errors.SAMPProxyTimeoutError` if it times out.
        *timeout* is in seconds, ≤0 for no limit."""
        secs = _seconds(timeout)
        samp_timeout = str(math.ceil(secs)) if secs > 0 else "0"
        limit = secs + CALL_AND_WAIT_MARGIN if secs > 0 else None
        msg = Message.from_user(message).to_map()
        started = time.monotonic()
        try:
            args = (recipient_id, msg, samp_timeout)
            return dict(self._hub("samp.hub.callAndWait", *args, timeout=limit))
        except SAMPProxyError as exc:
            text = exc.faultString.lower()
            late = secs > 0 and time.monotonic() - started >= secs
            if isinstance(exc, SAMPProxyTimeoutError) or ("time" in text and "out" in text) or late:
                raise SAMPProxyTimeoutError(exc.faultCode, exc.faultString) from None
            raise
        except TransportError as exc:  # the hub is alive but did not time the call out
            raise SAMPProxyTimeoutError(1, f"no response from {recipient_id}: {exc}") from exc

    def reply(self, msg_id: str, response: Mapping[str, Any] | Response) -> None:
        """Answer the call *msg_id*."""
        self._hub("samp.hub.reply", msg_id, Response.from_user(response).to_map())

    # -- futures and blocking requests -------------------------------------------------

    @staticmethod
    def _message(mtype_or_message: str | Mapping[str, Any] | Message, params: Any) -> Message:
        if isinstance(mtype_or_message, str):
            return Message.create(mtype_or_message, params)
        return Message.from_user(mtype_or_message)

    def call_async(
        self,
        recipient_id: str,
        mtype_or_message: str | Mapping[str, Any] | Message,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Future[Response]:
        """Send a call; the future gets the :class:`~minisamp.messages.Response`, or fails
        with :class:`~minisamp.errors.SampTimeoutError` after *timeout* seconds, a hub
        fault, or :class:`~minisamp.errors.HubGoneError`.  Needs a callable client."""
        return self._tracked_call(recipient_id, self._message(mtype_or_message, params), timeout)

    def call_all_async(
        self,
        mtype_or_message: str | Mapping[str, Any] | Message,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Future[dict[str, Response]]:
        """Call every subscribed client; the future gets ``{client_id: Response}`` once
        all have answered or *timeout* seconds have passed (with who answered by then)."""
        return self._tracked_call(None, self._message(mtype_or_message, params), timeout)

    def _tracked_call(
        self, recipient_id: str | None, message: Message, timeout: float | None
    ) -> Future[Any]:
        """``call`` (or ``callAll`` if *recipient_id* is None) under a fresh pending tag."""
        self._require("receive responses", ClientState.CALLABLE)
        assert self._inbound is not None
        pending = self._inbound.pending
        broadcast = recipient_id is None
        tag, future = pending.add(
            broadcast=broadcast, recipient=recipient_id or "", timeout=timeout
        )
        try:
            if recipient_id is None:
                recipients = self._hub("samp.hub.callAll", tag, message.to_map())
                pending.set_recipients(tag, set(recipients))
            else:
                self._hub("samp.hub.call", recipient_id, tag, message.to_map())
        except SampError as exc:
            pending.fail(tag, exc)
        return future

    def request(
        self,
        recipient_id: str,
        mtype: str | Mapping[str, Any] | Message,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> dict[str, Any]:
        """Call *recipient_id* and wait: returns the result map.

        Raises :class:`~minisamp.errors.SampResponseError` if it answers ``samp.error``
        (``.error`` holds the map, ``.responder_id`` who said it) and
        :class:`~minisamp.errors.SampTimeoutError` if no answer comes in *timeout*
        seconds.  Built on :meth:`call_async`; send-only clients use the hub's
        ``callAndWait`` instead.
        """
        message = self._message(mtype, params)
        if self._state is ClientState.REGISTERED:
            try:
                raw = self.call_and_wait(recipient_id, message, timeout or 0)
            except SAMPProxyTimeoutError as exc:
                raise SampTimeoutError(str(exc), responder_id=recipient_id) from exc
            response = Response.from_map(raw)
        else:
            response = self.call_async(recipient_id, message, timeout=timeout).result()
        response.raise_for_error(recipient_id)
        return dict(response.result or {})
