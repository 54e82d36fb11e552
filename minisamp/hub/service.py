"""The hub's routing: where each message goes, which replies are awaited, what the hub says.

It knows no sockets and no profile.  :class:`HubService` implements the abstract
hub API of SAMP 1.3 §3.11 (method names in snake case): the registry half (who is
registered, keys, metadata, subscriptions) it inherits from
:class:`~minisamp.hub.registry.Registry`; here are notify, call and reply, the
calls awaiting replies, hub events and the hub's own answers.  It hands every
callback it wants a client to receive to the ``deliver`` function its owner gave
it, as ``deliver(record, method, args)`` with *method* one of
``receiveNotification``, ``receiveCall``, ``receiveResponse`` and *args* without
the private key.  ``deliver`` must only queue, never wait on a client (it is called
with the registry lock held, which keeps each recipient's callbacks in the order the
hub decided them).  Once :meth:`HubService.shutdown` has queued
``samp.hub.event.shutdown`` the hub passes nothing more on: messages are refused and
events (a client unregistering in answer to the shutdown) are not sent.

Errors the caller made raise :class:`~minisamp.errors.SAMPProxyError`, which the
profile turns into an XML-RPC fault (codes: :mod:`minisamp.hub.faults`, re-exported
here with :data:`HUB_ID` and :class:`ClientRecord`, where the profiles import them).
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import SampValue, decode_int
from ..errors import SampDataError, SAMPProxyTimeoutError
from ..messages import SAMP_STATUS_OK, Response
from .faults import FAULT_BAD_ID as FAULT_BAD_ID
from .faults import FAULT_BAD_KEY as FAULT_BAD_KEY
from .faults import FAULT_BAD_MESSAGE as FAULT_BAD_MESSAGE
from .faults import FAULT_BAD_SECRET as FAULT_BAD_SECRET
from .faults import FAULT_GENERAL as FAULT_GENERAL
from .faults import FAULT_NOT_SUBSCRIBED as FAULT_NOT_SUBSCRIBED
from .faults import FAULT_TIMEOUT as FAULT_TIMEOUT
from .faults import as_map, as_str, fault, mtype_of
from .registry import HUB_ID as HUB_ID
from .registry import ClientRecord as ClientRecord
from .registry import Registry

__all__ = ["ClientRecord", "HubService", "PendingCall"]

logger = logging.getLogger(__name__)

#: Longest a callAndWait may wait, whatever it asks (as JSAMP: 12 hours).
MAX_SYNC_TIMEOUT = 12 * 3600.0

#: The hub API both profiles share (SAMP 1.3 §3.11), private key first: SAMP method
#: name → (HubService method, accepted argument counts).  Each profile adds its own
#: registration methods (standard: register, setXmlrpcCallback).
SERVICE_METHODS: dict[str, tuple[str, tuple[int, ...]]] = {
    "unregister": ("unregister", (1,)),
    "ping": ("ping", (0, 1)),
    "declareMetadata": ("declare_metadata", (2,)),
    "getMetadata": ("get_metadata", (2,)),
    "declareSubscriptions": ("declare_subscriptions", (2,)),
    "getSubscriptions": ("get_subscriptions", (2,)),
    "getRegisteredClients": ("get_registered_clients", (1,)),
    "getSubscribedClients": ("get_subscribed_clients", (2,)),
    "notify": ("notify", (3,)),
    "notifyAll": ("notify_all", (2,)),
    "call": ("call", (4,)),
    "callAll": ("call_all", (3,)),
    "callAndWait": ("call_and_wait", (4,)),
    "reply": ("reply", (3,)),
}

Deliver = Callable[["ClientRecord", str, tuple[SampValue, ...]], None]


class SyncWaiter:
    """Where a callAndWait thread waits for its response."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: SampValue | None = None
        self.error: str | None = None

    def resolve(self, response: SampValue) -> None:
        self.response = response
        self.event.set()

    def fail(self, error: str) -> None:
        self.error = error
        self.event.set()


@dataclass
class PendingCall:
    """A call the hub has passed on and whose reply it still expects."""

    msg_id: str
    sender_id: str
    recipient_id: str
    tag: str | None  # None for callAndWait
    waiter: SyncWaiter | None = None
    sent_at: float = field(default_factory=time.monotonic)


class HubService(Registry):
    """Registry and router of one hub; thread-safe; profile-free."""

    def __init__(
        self,
        secret: str,
        deliver: Deliver,
        *,
        hub_metadata: Mapping[str, SampValue] | None = None,
        max_sync_timeout: float = MAX_SYNC_TIMEOUT,
    ) -> None:
        self._deliver = deliver
        self.max_sync_timeout = max_sync_timeout
        self._msg_ids = itertools.count(1)
        self._pending: dict[str, PendingCall] = {}
        self._timed_out: collections.OrderedDict[str, None] = collections.OrderedDict()
        super().__init__(secret, hub_metadata)

    def ping(self, *private_key: Any) -> str:
        """Answer that the hub is alive (with or without a key)."""
        return ""

    # -- messaging ---------------------------------------------------------------------

    def _open_sender(self, private_key: Any) -> ClientRecord:
        """The sender's record, unless the hub is shutting down (lock held)."""
        record = self.client(private_key)
        if self._closed:
            raise fault(FAULT_GENERAL, "the hub is shutting down: it passes no more messages")
        return record

    def _recipient(self, sender: ClientRecord, recipient_id: Any, mtype: str) -> ClientRecord:
        recipient = self._other(recipient_id)
        if self._annotation(recipient, mtype) is None:
            raise fault(
                FAULT_NOT_SUBSCRIBED,
                f"Client {recipient.public_id} not subscribed to MType {mtype}",
            )
        refusal = self._refusal(sender, recipient, mtype)
        if refusal is not None:
            raise fault(FAULT_GENERAL, refusal)
        return recipient

    def _recipients(self, sender: ClientRecord, mtype: str) -> list[ClientRecord]:
        return [
            other
            for other in self._by_id.values()
            if other is not sender
            and self._annotation(other, mtype) is not None
            and self._refusal(sender, other, mtype) is None
        ]

    def notify(self, private_key: Any, recipient_id: Any, message: Any) -> str:
        """Send a notification to one client."""
        mtype = mtype_of(message)
        with self._lock:
            sender = self._open_sender(private_key)
            recipient = self._recipient(sender, recipient_id, mtype)
            self._send(recipient, "receiveNotification", (sender.public_id, message))
        _log("notify", sender, [recipient], mtype)  # outside the lock: stderr may block
        return ""

    def notify_all(self, private_key: Any, message: Any) -> list[SampValue]:
        """Send a notification to every subscribed client but the sender."""
        mtype = mtype_of(message)
        with self._lock:
            sender = self._open_sender(private_key)
            recipients = self._recipients(sender, mtype)
            for recipient in recipients:
                self._send(recipient, "receiveNotification", (sender.public_id, message))
        _log("notifyAll", sender, recipients, mtype)
        return [r.public_id for r in recipients]

    def call(self, private_key: Any, recipient_id: Any, tag: Any, message: Any) -> str:
        """Send a call to one client; its reply will come back tagged with *tag*."""
        tag = as_str(tag, "msg-tag")
        mtype = mtype_of(message)
        with self._lock:
            sender = self._open_sender(private_key)
            recipient = self._recipient(sender, recipient_id, mtype)
            msg_id = self._call(sender, recipient, tag, message, None)
        _log("call", sender, [recipient], mtype)
        return msg_id

    def call_all(self, private_key: Any, tag: Any, message: Any) -> dict[str, SampValue]:
        """Send a call to every subscribed client but the sender."""
        tag = as_str(tag, "msg-tag")
        mtype = mtype_of(message)
        with self._lock:
            sender = self._open_sender(private_key)
            recipients = self._recipients(sender, mtype)
            ids: dict[str, SampValue] = {
                r.public_id: self._call(sender, r, tag, message, None) for r in recipients
            }
        _log("callAll", sender, recipients, mtype)
        return ids

    def call_and_wait(
        self, private_key: Any, recipient_id: Any, message: Any, timeout: Any
    ) -> SampValue:
        """Send a call and wait for its reply, at most *timeout* seconds (≤ 0: the hub's cap)."""
        mtype = mtype_of(message)
        try:
            seconds = float(decode_int(as_str(timeout, "timeout")))
        except SampDataError:
            raise fault(FAULT_GENERAL, f"timeout must be a SAMP int, not {timeout!r}") from None
        if seconds <= 0 or seconds > self.max_sync_timeout:
            seconds = self.max_sync_timeout
        waiter = SyncWaiter()
        with self._lock:
            sender = self._open_sender(private_key)
            recipient = self._recipient(sender, recipient_id, mtype)
            msg_id = self._call(sender, recipient, None, message, waiter)
        _log("callAndWait", sender, [recipient], mtype, f"timeout {seconds:g} s")
        if not waiter.event.wait(seconds):
            with self._lock:
                if self._pending.pop(msg_id, None) is not None:
                    self._timed_out[msg_id] = None
                    while len(self._timed_out) > 1000:
                        self._timed_out.popitem(last=False)
            if not waiter.event.is_set():
                raise SAMPProxyTimeoutError(
                    FAULT_TIMEOUT, f"Timeout expired! No reply from {recipient_id} in {seconds:g} s"
                )
        if waiter.error is not None:
            raise fault(FAULT_GENERAL, waiter.error)
        assert waiter.response is not None
        return waiter.response

    def _call(
        self,
        sender: ClientRecord,
        recipient: ClientRecord,
        tag: str | None,
        message: dict[str, SampValue],
        waiter: SyncWaiter | None,
    ) -> str:
        kind = "S" if waiter else "A"
        msg_id = f"{sender.public_id}_{kind}_{next(self._msg_ids)}"
        pending = PendingCall(msg_id, sender.public_id, recipient.public_id, tag, waiter)
        self._pending[msg_id] = pending  # before delivery: a quick reply must find it
        if recipient is self.hub:
            self._answer(pending, self._hub_answer(message))
            del self._pending[msg_id]
        else:
            self._send(recipient, "receiveCall", (sender.public_id, msg_id, message))
        return msg_id

    def reply(self, private_key: Any, msg_id: Any, response: Any) -> str:
        """Pass the caller's *response* to message *msg_id* back to its sender."""
        msg_id = as_str(msg_id, "msg-id")
        response = as_map(response, "response")
        with self._lock:
            replier = self.client(private_key)
            pending = self._pending.get(msg_id)
            if pending is None:
                if msg_id in self._timed_out:
                    raise fault(FAULT_GENERAL, "Response ignored: the synchronous call timed out")
                raise fault(FAULT_GENERAL, f"No call is awaiting a reply with msg-id {msg_id!r}")
            if pending.recipient_id != replier.public_id:
                raise fault(FAULT_GENERAL, f"msg-id {msg_id!r} was not sent to you")
            del self._pending[msg_id]
            self._answer(pending, response)
            sender = self._by_id.get(pending.sender_id)
        if logger.isEnabledFor(logging.INFO):
            to = _who(sender) if sender is not None else pending.sender_id
            elapsed = 1000 * (time.monotonic() - pending.sent_at)
            status = response.get("samp.status", "?")
            logger.info("reply %s -> %s: %s after %.0f ms", _who(replier), to, status, elapsed)
        return ""

    def _answer(self, pending: PendingCall, response: dict[str, SampValue]) -> None:
        if pending.waiter is not None:
            pending.waiter.resolve(response)
            return
        sender = self._by_id.get(pending.sender_id)
        if sender is not None and sender.callable:
            args = (pending.recipient_id, pending.tag or "", response)
            self._send(sender, "receiveResponse", args)

    def overdue_recipients(self, older_than: float) -> list[ClientRecord]:
        """The clients that owe a reply to a call passed on over *older_than* seconds ago."""
        cutoff = time.monotonic() - older_than
        with self._lock:
            ids = {p.recipient_id for p in self._pending.values() if p.sent_at <= cutoff}
            return [self._by_id[i] for i in sorted(ids) if i in self._by_id]

    def delivery_failed(
        self, client_id: str, method: str, args: tuple[SampValue, ...], error: str
    ) -> None:
        """Called by the owner when a callback could not be delivered to *client_id*."""
        if method != "receiveCall":
            return
        with self._lock:
            msg_id = args[1]
            pending = self._pending.pop(msg_id, None) if isinstance(msg_id, str) else None
            if pending is not None:
                text = f"could not deliver the message to {client_id}: {error}"
                if pending.waiter is not None:
                    pending.waiter.fail(text)
                else:
                    self._answer(pending, _error_response(text))

    # -- what the registry asks of the router (lock held) ------------------------------

    def _drop_calls(self, record: ClientRecord, why: str) -> None:
        for msg_id, pending in list(self._pending.items()):
            if pending.sender_id == record.public_id:
                del self._pending[msg_id]
            elif pending.recipient_id == record.public_id:
                del self._pending[msg_id]
                self._answer(pending, _error_response(f"{record.public_id} {why} before replying"))

    def _send(self, recipient: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        if recipient is self.hub or self._closed:
            return  # the hub needs no notifications; after the shutdown event, nothing goes
        self._deliver(recipient, method, args)

    def _event(self, mtype: str, params: dict[str, SampValue]) -> None:
        if self._closed:
            return
        message: dict[str, SampValue] = {"samp.mtype": mtype, "samp.params": params}
        for record in self._recipients(self.hub, mtype):
            self._deliver(record, "receiveNotification", (HUB_ID, message))

    # -- the hub as a recipient -------------------------------------------------------

    def _hub_answer(self, message: dict[str, SampValue]) -> dict[str, SampValue]:
        mtype = message.get("samp.mtype")
        if mtype in ("x-samp.query.by-meta", "samp.query.by-meta"):
            params = message.get("samp.params")
            params = params if isinstance(params, dict) else {}
            key, value = params.get("key"), params.get("value")
            ids: list[SampValue] = [
                r.public_id for r in self._by_id.values() if r.metadata.get(str(key)) == value
            ]
            return {"samp.status": SAMP_STATUS_OK, "samp.result": {"ids": ids}}
        return {"samp.status": SAMP_STATUS_OK, "samp.result": {}}

    # -- life cycle --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Tell everyone the hub is going, and fail every waiting callAndWait."""
        with self._lock:
            if self._closed:
                return
            self._event("samp.hub.event.shutdown", {})
            self._closed = True  # the last thing the hub sends
            for pending in self._pending.values():
                if pending.waiter is not None:
                    pending.waiter.fail("the hub is shutting down")
            self._pending.clear()


def _who(record: ClientRecord) -> str:
    name = record.metadata.get("samp.name")
    if not isinstance(name, str):
        return record.public_id
    return f"{record.public_id} ({' '.join(name.split())[:60]})"  # one line, whatever it says


def _log(
    method: str, sender: ClientRecord, recipients: list[ClientRecord], mtype: str, extra: str = ""
) -> None:
    """One INFO line per message: what, from whom, to whom (``minisamp hub -v``)."""
    if logger.isEnabledFor(logging.INFO):
        to = ", ".join(_who(r) for r in recipients) or "nobody"
        tail = f", {extra}" if extra else ""
        logger.info("%s %s: %s -> %s%s", method, mtype, _who(sender), to, tail)


def _error_response(text: str) -> dict[str, SampValue]:
    return Response.error_response(text).to_map()
