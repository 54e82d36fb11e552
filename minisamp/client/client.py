"""The SAMP client: connect to any Standard Profile hub, send and receive, never hang.

::

    with minisamp.Client("my-script") as client:
        topcat = client.find_client_id("topcat")
        result = client.request(topcat, "samp.app.ping", timeout=5)

        @client.on("table.load.votable")
        def load(msg):
            print("asked to load", msg.params["url"])   # returning means samp.ok

A client's life is the table of :class:`ClientState` in :mod:`.lifecycle`
(``TRANSITIONS``); every public method checks it through :meth:`Client._require`, so
using a client in the wrong state raises an error naming the state it is in and the one
it needs, and a client whose hub went away raises
:class:`~minisamp.errors.HubGoneError` instead of hanging.

:class:`Client` is built here from its parts, one concern each: so far the life and the
connection to the hub (:class:`~.lifecycle.Lifecycle`, the base of the others),
sending (:class:`~.sending.Sending`) and receiving (:class:`~.receiving.Receiving`);
the hub queries and the directory are still below.

The method names and arguments of pyvo's ``SAMPIntegratedClient`` are all here, with
its contract (hub faults raise ``SAMPProxyError``; an error response is returned as
a map); its thin ``e*`` and ``(un)bind_receive_*`` wrappers come from the mixin
:class:`~.pyvo_api.PyvoMethods`.  Beside them sit :meth:`Client.call_async`,
:meth:`Client.call_all_async`, :meth:`Client.request`, :meth:`Client.on` and
:meth:`Client.messages`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..datatypes import to_samp
from ..errors import SAMPProxyError, TransportError
from .directory import ClientDirectory, ClientInfo, find_client_id_in
from .handlers import Binding, HandlerRegistry
from .lifecycle import CONNECTED, ClientState
from .pyvo_api import PyvoMethods
from .receiving import Receiving
from .sending import Sending

__all__ = ["Client", "ClientState"]


class Client(Sending, Receiving, PyvoMethods):
    """A SAMP client (Standard Profile).  Use it as a context manager, or call
    :meth:`connect` and :meth:`close`.

    Where the hub is: *hub_params* (the lockfile's keys, as pyvo), else *lockfile* (a
    path or URL), else the usual discovery (``SAMP_HUB``, then ``~/.samp``).  A
    *callable* client runs a callback server on *addr* and receives messages on up to
    *workers* handler threads; ``callable=False`` gives a send-only client with no
    server and no threads.  *timeout* bounds every ordinary hub call.
    """

    def __init__(
        self,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        callable: bool = True,
        lockfile: str | None = None,
        hub_params: Mapping[str, str] | None = None,
        addr: str | None = "127.0.0.1",
        port: int = 0,
        workers: int = 8,
        timeout: float = 30.0,
    ) -> None:
        meta: dict[str, Any] = dict(metadata or {})
        if name is not None:
            meta["samp.name"] = name
        if description is not None:
            meta["samp.description.text"] = description
        encoded = to_samp(meta, "metadata")
        assert isinstance(encoded, dict)
        self._metadata = encoded
        self._callable = callable
        self._lockfile = lockfile
        self._hub_params = dict(hub_params) if hub_params is not None else None
        self._addr = addr or "127.0.0.1"
        self._port = port
        self._workers = workers
        self.timeout = timeout
        self._lock = threading.RLock()
        self._state = ClientState.UNREGISTERED
        self._gone_reason = ""
        self._registry = HandlerRegistry()
        self._registry.bind(Binding("samp.app.ping", lambda msg: {}))
        self._response_bindings = {}
        self._inboxes = []
        self._proxy = None
        self._key = ""
        self._self_id = ""
        self._hub_id = ""
        self._server = None
        self._inbound = None
        self._directory = ClientDirectory()

    # -- as a context manager ----------------------------------------------------------

    def __enter__(self) -> Client:
        if not self.is_connected:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asking the hub ----------------------------------------------------------------

    def ping(self) -> Any:
        """Check the hub answers (``samp.hub.ping``)."""
        self._require("ping", *CONNECTED)
        assert self._proxy is not None
        try:
            return self._proxy.call("samp.hub.ping")
        except TransportError as exc:
            raise self._hub_gone(f"ping failed: {exc}") from exc

    def declare_metadata(self, metadata: Mapping[str, Any] | None = None) -> None:
        """Add *metadata* to ours and declare the whole of it."""
        if metadata is not None:
            encoded = to_samp(dict(metadata), "metadata")
            assert isinstance(encoded, dict)
            self._metadata.update(encoded)
        self._hub("samp.hub.declareMetadata", self._metadata)

    def get_metadata(self, client_id: str) -> dict[str, Any]:
        """The metadata *client_id* declared (``getMetadata``)."""
        return dict(self._hub("samp.hub.getMetadata", client_id))

    def get_subscriptions(self, client_id: str) -> dict[str, Any]:
        """The subscriptions *client_id* declared (``getSubscriptions``)."""
        return dict(self._hub("samp.hub.getSubscriptions", client_id))

    def get_registered_clients(self) -> list[str]:
        """The ids of the other registered clients, the hub's included."""
        return list(self._hub("samp.hub.getRegisteredClients"))

    def get_subscribed_clients(self, mtype: str) -> dict[str, Any]:
        """id → subscription annotation of the other clients subscribed to *mtype*."""
        return dict(self._hub("samp.hub.getSubscribedClients", mtype))

    # -- the directory -----------------------------------------------------------------

    @property
    def clients(self) -> Mapping[str, ClientInfo]:
        """id → :class:`ClientInfo` of the other clients, hub included.

        Callable clients keep it current from hub events (no round trip); send-only
        clients ask the hub each time.
        """
        if self._state is ClientState.CALLABLE:
            return self._directory.snapshot()
        self._require("list clients", *CONNECTED)
        directory = ClientDirectory(self._self_id)
        self._fill(directory)
        return directory.snapshot()

    def find_client_id(self, name: str) -> str:
        """The id of the client called *name* (exact ``samp.name`` first, then ignoring
        case); :class:`~minisamp.errors.ClientNotFoundError` lists who is registered."""
        return find_client_id_in(self.clients, name)

    def _seed_directory(self) -> None:
        self._directory.begin_seed()
        try:
            self._fill(self._directory)
        finally:
            self._directory.end_seed()

    def _fill(self, directory: ClientDirectory) -> None:
        """Ask the hub about every other client and record the answers in *directory*."""
        for client_id in self.get_registered_clients():
            try:
                meta = self.get_metadata(client_id)
                subs = self.get_subscriptions(client_id)
            except SAMPProxyError:
                continue  # it left meanwhile
            directory.seed(client_id, meta, subs)
