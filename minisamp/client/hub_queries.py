"""What a client asks the hub about itself and the others, and its directory of them.

Metadata (``declare_metadata``, ``get_metadata``), subscriptions as declared by others,
who is registered, and the :attr:`~HubQueries.clients` directory: a callable client
keeps it current from hub events (seeded here once it becomes callable), a send-only one
asks the hub each time.  A part of :class:`~minisamp.client.Client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..datatypes import to_samp
from ..errors import SAMPProxyError, TransportError
from .directory import ClientDirectory, ClientInfo, find_client_id_in
from .lifecycle import CONNECTED, ClientState, Lifecycle

__all__ = ["HubQueries"]


class HubQueries(Lifecycle):
    """The hub's questions about clients, and the live directory of them."""

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
        """The id of the client called *name*: exact ``samp.name`` first, then ignoring
        case, then the only name containing it (``"ds9"`` finds ``SAOImageDS9``);
        :class:`~minisamp.errors.ClientNotFoundError` lists who is registered, or the
        candidates when several names contain it."""
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
