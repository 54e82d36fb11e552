"""A live directory of the other clients on the hub, fed by ``samp.hub.event.*``.

The client seeds it once at connect (``getRegisteredClients``, ``getMetadata``,
``getSubscriptions``) and then keeps it current from the hub's register,
unregister, metadata and subscriptions events, so that looking a client up costs
no round trip.  Events may arrive while seeding is under way: what an event says
is never overwritten by older seeding data.  Events about ids we have not seen are
tolerated (some hubs send them, e.g. DS9's on shutdown); events about ourselves are
ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..datatypes import SampValue
from ..errors import ClientNotFoundError
from ..messages import FrozenValue

__all__ = [
    "HUB_DISCONNECT",
    "HUB_EVENTS",
    "HUB_MTYPES",
    "HUB_SHUTDOWN",
    "ClientDirectory",
    "ClientInfo",
    "find_client_id_in",
]

EVENT_REGISTER = "samp.hub.event.register"
EVENT_UNREGISTER = "samp.hub.event.unregister"
EVENT_METADATA = "samp.hub.event.metadata"
EVENT_SUBSCRIPTIONS = "samp.hub.event.subscriptions"
#: The hub events that feed a directory.
HUB_EVENTS = (EVENT_REGISTER, EVENT_UNREGISTER, EVENT_METADATA, EVENT_SUBSCRIPTIONS)
HUB_SHUTDOWN = "samp.hub.event.shutdown"
HUB_DISCONNECT = "samp.hub.disconnect"
#: What only the hub may send a client: its events, and being disconnected.
HUB_MTYPES = (*HUB_EVENTS, HUB_SHUTDOWN, HUB_DISCONNECT)


class ClientInfo(FrozenValue):
    """What we know about one registered client."""

    _fields = ("id", "metadata", "subscriptions")
    id: str
    metadata: dict[str, SampValue]
    subscriptions: dict[str, SampValue]

    def __init__(
        self,
        id: str,
        metadata: dict[str, SampValue] | None = None,
        subscriptions: dict[str, SampValue] | None = None,
    ) -> None:
        self._store(
            id=id,
            metadata={} if metadata is None else metadata,
            subscriptions={} if subscriptions is None else subscriptions,
        )

    @property
    def name(self) -> str | None:
        """The client's ``samp.name``, if it declared one."""
        name = self.metadata.get("samp.name")
        return name if isinstance(name, str) else None


def _as_dict(value: Any) -> dict[str, SampValue]:
    return dict(value) if isinstance(value, Mapping) else {}


class ClientDirectory:
    """Thread-safe id → :class:`ClientInfo` map of the *other* clients on the hub."""

    def __init__(self, self_id: str = "") -> None:
        self.self_id = self_id
        self._lock = threading.Lock()
        self._clients: dict[str, ClientInfo] = {}
        self._seeding = False
        self._touched: set[tuple[str, str]] = set()  # (id, field) set by events while seeding

    def snapshot(self) -> Mapping[str, ClientInfo]:
        """A read-only copy of the directory as it is now."""
        with self._lock:
            return MappingProxyType(dict(self._clients))

    def clear(self) -> None:
        """Forget every client."""
        with self._lock:
            self._clients.clear()

    # -- seeding -----------------------------------------------------------------------

    def begin_seed(self) -> None:
        """Start seeding: from now on, remember what events change."""
        with self._lock:
            self._seeding = True
            self._touched.clear()

    def seed(
        self, client_id: str, metadata: Mapping[str, Any], subscriptions: Mapping[str, Any]
    ) -> None:
        """Record what a query at connect said about *client_id*, unless events were newer."""
        with self._lock:
            if client_id == self.self_id or (client_id, "gone") in self._touched:
                return
            info = self._clients.get(client_id) or ClientInfo(client_id)
            if (client_id, "metadata") not in self._touched:
                info = ClientInfo(client_id, dict(metadata), info.subscriptions)
            if (client_id, "subscriptions") not in self._touched:
                info = ClientInfo(client_id, info.metadata, dict(subscriptions))
            self._clients[client_id] = info

    def end_seed(self) -> None:
        """Seeding is over: events alone keep the directory current."""
        with self._lock:
            self._seeding = False
            self._touched.clear()

    # -- events ------------------------------------------------------------------------

    def apply_event(self, mtype: str, params: Mapping[str, Any]) -> None:
        """Update the directory from a ``samp.hub.event.*`` notification's params."""
        client_id = params.get("id")
        if not isinstance(client_id, str) or client_id == self.self_id:
            return
        with self._lock:
            if mtype == EVENT_UNREGISTER:
                self._clients.pop(client_id, None)
                self._touch(client_id, "gone")
                return
            info = self._clients.get(client_id) or ClientInfo(client_id)
            if mtype == EVENT_METADATA:
                info = ClientInfo(client_id, _as_dict(params.get("metadata")), info.subscriptions)
                self._touch(client_id, "metadata")
            elif mtype == EVENT_SUBSCRIPTIONS:
                subs = _as_dict(params.get("subscriptions"))
                info = ClientInfo(client_id, info.metadata, subs)
                self._touch(client_id, "subscriptions")
            elif mtype != EVENT_REGISTER:
                return
            self._clients[client_id] = info

    def _touch(self, client_id: str, what: str) -> None:
        if self._seeding:
            self._touched.add((client_id, what))

    # -- lookups -----------------------------------------------------------------------

    def find_id(self, name: str) -> str:
        """The id of the client whose ``samp.name`` is *name* (see :func:`find_client_id_in`)."""
        return find_client_id_in(self.snapshot(), name)


def find_client_id_in(clients: Mapping[str, ClientInfo], name: str) -> str:
    """The id of the client called *name* among *clients* (id → :class:`ClientInfo`).

    The rule for every ``client_name=`` and ``--to``: an exact ``samp.name`` wins,
    then one equal ignoring case, then the only name that contains *name* ignoring
    case (``"ds9"`` finds ``SAOImageDS9``).  Raises
    :class:`~minisamp.errors.ClientNotFoundError` (a ``KeyError``) naming the
    registered clients when nothing matches, or the candidates when several names
    contain *name*.
    """
    named = [(cid, info.name) for cid, info in clients.items() if info.name is not None]
    folded = name.casefold()
    for client_id, cname in named:
        if cname == name:
            return client_id
    for client_id, cname in named:
        if cname.casefold() == folded:
            return client_id
    containing = [(cid, cname) for cid, cname in named if folded and folded in cname.casefold()]
    if len(containing) == 1:
        return containing[0][0]
    if containing:
        listed = ", ".join(sorted(f"{cname!r} ({cid})" for cid, cname in containing))
        raise ClientNotFoundError(
            f"{name!r} is part of the name of several SAMP clients: {listed}; "
            "give a longer part of the name, or the exact one"
        )
    names = sorted(
        f"{info.name!r} ({cid})" if info.name else f"(no name) ({cid})"
        for cid, info in clients.items()
    )
    known = ", ".join(names) if names else "none"
    raise ClientNotFoundError(f"no SAMP client called {name!r} is registered; registered: {known}")
