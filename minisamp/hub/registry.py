"""The hub's registry: who is registered, under which key and id, declaring what.

:class:`Registry` holds one :class:`ClientRecord` per client (the hub's own
included), finds them by private key or public id, and serves the registry half of
the hub API: register, unregister, callback addresses, metadata and subscriptions,
and the registered and subscribed clients.  It knows no transport and does no
routing: :class:`~minisamp.hub.service.HubService` builds on it and supplies, through
three hooks, how an event or the hub's own message reaches a client and what becomes
of the calls a removed client was part of.  Both halves share :attr:`Registry._lock`,
so a change of registry and the callbacks announcing it are ordered as one.
"""

from __future__ import annotations

import abc
import itertools
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import SampValue
from ..messages import best_match
from .faults import (
    FAULT_BAD_ID,
    FAULT_BAD_KEY,
    FAULT_BAD_SECRET,
    FAULT_GENERAL,
    as_map,
    as_str,
    callback_url,
    fault,
)

__all__ = ["HUB_ID", "ClientRecord", "Registry", "SendFilter"]

logger = logging.getLogger(__name__)

HUB_ID = "hub"

SendFilter = Callable[["ClientRecord", "ClientRecord", str], "str | None"]


@dataclass
class ClientRecord:
    """One registered client (the hub itself included)."""

    public_id: str
    private_key: str
    profile: str = "std"
    metadata: dict[str, SampValue] = field(default_factory=dict)
    subscriptions: dict[str, SampValue] = field(default_factory=dict)
    callback_url: str | None = None
    callable: bool = False

    def subscription_for(self, mtype: str) -> SampValue | None:
        """The annotation map of the most specific matching subscription, or None."""
        pattern = best_match(self.subscriptions, mtype)
        return None if pattern is None else self.subscriptions[pattern]


class Registry(abc.ABC):
    """The clients of one hub and what they declared; thread-safe; routing left to a subclass."""

    def __init__(self, secret: str, hub_metadata: Mapping[str, SampValue] | None = None) -> None:
        self.secret = secret
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._by_key: dict[str, ClientRecord] = {}
        self._by_id: dict[str, ClientRecord] = {}
        self._closed = False
        #: Called with a public id after that client is removed (to drop its connections).
        self.on_unregister: Callable[[str], None] | None = None
        #: Optional veto on sends (the Web Profile's MType restrictions):
        #: ``send_filter(sender, recipient, mtype)`` returns why it is refused, or None.
        self.send_filter: SendFilter | None = None
        self.hub = ClientRecord(HUB_ID, "hub:" + secrets.token_hex(16), profile="hub")
        self.hub.metadata = dict(hub_metadata or {"samp.name": "Hub"})
        self.hub.subscriptions = {
            "samp.app.ping": {},
            "x-samp.query.by-meta": {},
            "samp.query.by-meta": {},
        }
        self.hub.callable = True
        self._add(self.hub)

    # -- what the router supplies (called with the lock held) ----------------------------

    @abc.abstractmethod
    def _event(self, mtype: str, params: dict[str, SampValue]) -> None:
        """Tell the clients subscribed to hub event *mtype*."""

    @abc.abstractmethod
    def _send(self, recipient: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        """Pass the callback ``method(*args)`` to *recipient*."""

    @abc.abstractmethod
    def _drop_calls(self, record: ClientRecord, why: str) -> None:
        """Settle the calls *record* sent or owes a reply to, now that it is gone."""

    # -- lookup ------------------------------------------------------------------------

    def _add(self, record: ClientRecord) -> None:
        self._by_key[record.private_key] = record
        self._by_id[record.public_id] = record

    def client(self, private_key: Any) -> ClientRecord:
        """The record of the client holding *private_key*; fault if none does."""
        record = self._by_key.get(private_key) if isinstance(private_key, str) else None
        if record is None or record is self.hub:
            raise fault(FAULT_BAD_KEY, "Private-key is expired or invalid: register again")
        return record

    def _other(self, client_id: Any) -> ClientRecord:
        record = self._by_id.get(client_id) if isinstance(client_id, str) else None
        if record is None:
            raise fault(FAULT_BAD_ID, f"No registered client with ID {client_id!r}")
        return record

    def profile_of(self, client_id: str) -> str | None:
        """The profile (``"std"``, ``"web"``, ``"hub"``) of client *client_id*, None if unknown."""
        record = self._by_id.get(client_id)
        return None if record is None else record.profile

    def is_registered(self, client_id: str) -> bool:
        """True while *client_id* is registered."""
        return client_id in self._by_id

    def records(self) -> list[ClientRecord]:
        """A snapshot of every registered client, the hub first."""
        with self._lock:
            return list(self._by_id.values())

    @staticmethod
    def _annotation(record: ClientRecord, mtype: str) -> SampValue | None:
        return record.subscription_for(mtype) if record.callable else None

    def _refusal(self, sender: ClientRecord, recipient: ClientRecord, mtype: str) -> str | None:
        return None if self.send_filter is None else self.send_filter(sender, recipient, mtype)

    # -- joining and leaving -------------------------------------------------------------

    def register(self, secret: Any, *, profile: str = "std") -> dict[str, SampValue]:
        """Register a new client if *secret* is right; returns its reg-info map."""
        if profile == "std" and secret != self.secret:
            raise fault(FAULT_BAD_SECRET, "Bad secret: read it from the current SAMP lockfile")
        with self._lock:
            if self._closed:
                raise fault(FAULT_GENERAL, "the hub is shutting down")
            record = ClientRecord(f"c{next(self._ids)}", f"k:{secrets.token_hex(16)}", profile)
            self._add(record)
            self._event("samp.hub.event.register", {"id": record.public_id})
        logger.info("registered %s (%s profile)", record.public_id, profile)
        return {
            "samp.hub-id": HUB_ID,
            "samp.self-id": record.public_id,
            "samp.private-key": record.private_key,
        }

    def unregister(self, private_key: Any) -> str:
        """Unregister the caller."""
        with self._lock:
            record = self.client(private_key)
            self._remove(record, "unregistered")
        return ""

    def _remove(self, record: ClientRecord, why: str) -> None:
        del self._by_key[record.private_key]
        del self._by_id[record.public_id]
        self._drop_calls(record, why)
        self._event("samp.hub.event.unregister", {"id": record.public_id})
        logger.info("%s %s", record.public_id, why)
        if self.on_unregister is not None:
            self.on_unregister(record.public_id)

    def disconnect(self, client_id: str, reason: str) -> None:
        """Forcibly unregister *client_id* (e.g. unreachable), telling it first if it listens."""
        with self._lock:
            record = self._by_id.get(client_id)
            if record is None or record is self.hub:
                return
            if record.subscription_for("samp.hub.disconnect") is not None:
                message: dict[str, SampValue] = {
                    "samp.mtype": "samp.hub.disconnect",
                    "samp.params": {"reason": reason},
                }
                self._send(record, "receiveNotification", (HUB_ID, message))
            self._remove(record, f"disconnected by the hub ({reason})")

    def set_xmlrpc_callback(self, private_key: Any, url: Any) -> str:
        """Record where the caller receives callbacks."""
        url = callback_url(url)
        with self._lock:
            record = self.client(private_key)
            record.callback_url = url
            record.callable = True
        return ""

    def make_callable(self, private_key: Any, flag: bool = True) -> None:
        """Mark a client callable without a URL (Web Profile reverse callbacks)."""
        with self._lock:
            self.client(private_key).callable = flag

    # -- declarations --------------------------------------------------------------------

    def declare_metadata(self, private_key: Any, metadata: Any) -> str:
        """Replace the caller's metadata and tell the others."""
        metadata = as_map(metadata, "metadata")
        with self._lock:
            record = self.client(private_key)
            record.metadata = metadata
            self._event("samp.hub.event.metadata", {"id": record.public_id, "metadata": metadata})
        return ""

    def get_metadata(self, private_key: Any, client_id: Any) -> dict[str, SampValue]:
        """The metadata of *client_id*."""
        with self._lock:
            self.client(private_key)
            return self._other(client_id).metadata

    def declare_subscriptions(self, private_key: Any, subscriptions: Any) -> str:
        """Replace the caller's subscriptions and tell the others."""
        subscriptions = as_map(subscriptions, "subscriptions")
        for pattern, annotation in subscriptions.items():
            as_map(annotation, f"annotation of subscription {pattern!r}")
        with self._lock:
            record = self.client(private_key)
            if not record.callable:
                raise fault(FAULT_GENERAL, "Client is not callable: call setXmlrpcCallback first")
            record.subscriptions = subscriptions
            params = {"id": record.public_id, "subscriptions": subscriptions}
            self._event("samp.hub.event.subscriptions", params)
        return ""

    def get_subscriptions(self, private_key: Any, client_id: Any) -> dict[str, SampValue]:
        """The subscriptions of *client_id*."""
        with self._lock:
            self.client(private_key)
            return self._other(client_id).subscriptions

    def get_registered_clients(self, private_key: Any) -> list[SampValue]:
        """Every other registered client's id, the hub's included."""
        with self._lock:
            record = self.client(private_key)
            return [cid for cid in self._by_id if cid != record.public_id]

    def get_subscribed_clients(self, private_key: Any, mtype: Any) -> dict[str, SampValue]:
        """Every other client subscribed to *mtype*, with its annotation map."""
        mtype = as_str(mtype, "mtype")
        with self._lock:
            record = self.client(private_key)
            return {
                other.public_id: annotation
                for other in self._by_id.values()
                if other is not record
                and (annotation := self._annotation(other, mtype)) is not None
                and self._refusal(record, other, mtype) is None
            }
