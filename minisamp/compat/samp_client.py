"""pyvo's ``SAMPClient``: one client on a :class:`~minisamp.compat.SAMPHubProxy`.

A thin layer over minisamp's own client (:class:`~minisamp.compat.SAMPIntegratedClient`,
a :class:`~minisamp.client.Client`): :meth:`SAMPClient.register` registers it with the
hub the proxy is connected to (its ``lockfile`` keys), the ``bind_receive_*`` methods
are the client's own.  pyvo's order — ``start()``, ``register()``, …,
``unregister()``, ``stop()`` — works; the callback server runs from registration
until ``unregister()`` or ``stop()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SAMPClientError
from .integrated import SAMPIntegratedClient

__all__ = ["SAMPClient"]


class SAMPClient:
    """pyvo's ``SAMPClient(hub, name, description, metadata, addr, port, callable)``.

    *hub* is a connected :class:`~minisamp.compat.SAMPHubProxy` (pyvo's works too).
    Deliberate differences: *addr* None means 127.0.0.1; :meth:`stop` of a registered
    client also unregisters it (pyvo leaves it registered with a dead callback); a
    subclass's ``receive_*`` overrides are not what the hub's callbacks reach — bind
    handlers with ``bind_receive_*`` instead.
    """

    def __init__(
        self,
        hub: Any,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        addr: str | None = None,
        port: int = 0,
        callable: bool = True,
    ) -> None:
        self.hub = hub
        self._callable = callable
        self._is_running = False
        self.client = SAMPIntegratedClient(name, description, metadata, addr, port, callable)

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        """Mark a callable client running (its server starts when it registers)."""
        if self._callable:
            self._is_running = True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop receiving; a client still registered is unregistered too."""
        self._is_running = False
        if self.client.is_connected:
            self.client.close()

    @property
    def is_running(self) -> bool:
        """Whether :meth:`start` was called (and not :meth:`stop`)."""
        return self._is_running

    @property
    def is_registered(self) -> bool:
        """Whether the client is registered with the hub."""
        return self.client.is_connected

    def register(self) -> None:
        """Register with the hub the proxy is connected to; declare metadata and
        subscriptions; start the callback server of a callable client."""
        if not self.hub.is_connected:
            raise SAMPClientError("Unable to register to the SAMP Hub. Hub proxy not connected.")
        if self.client.is_connected:
            raise SAMPClientError("Client already registered")
        self.client.connect(hub_params=self.hub.lockfile)

    def unregister(self) -> None:
        """Unregister from the hub (and stop the callback server)."""
        if not self.hub.is_connected:
            raise SAMPClientError(
                "Unable to unregister from the SAMP Hub. Hub proxy not connected."
            )
        self.client.close()

    def get_private_key(self) -> str | None:
        """Our private key, or None when not registered."""
        return self.client.get_private_key() if self.client.is_connected else None

    def get_public_id(self) -> str | None:
        """Our public id, or None when not registered."""
        return self.client.get_public_id() if self.client.is_connected else None

    # -- declarations ------------------------------------------------------------------

    def declare_metadata(self, metadata: Mapping[str, Any] | None = None) -> None:
        """Add *metadata* to ours and declare the whole of it."""
        self._check_registered("declare metadata")
        self.client.declare_metadata(metadata)

    def declare_subscriptions(self, subscriptions: Mapping[str, Any] | None = None) -> None:
        """Declare the bound MTypes, plus *subscriptions*."""
        if not self._callable:
            raise SAMPClientError("Client not callable.")
        self._check_registered("declare subscriptions")
        self.client.declare_subscriptions(subscriptions)

    def _check_registered(self, what: str) -> None:
        if not self.client.is_connected:
            raise SAMPClientError(
                f"Unable to {what}. Hub unreachable or not connected or client not registered."
            )

    # -- receiving (the hub's callbacks, and pyvo-style handlers) -----------------------

    def receive_notification(
        self, private_key: str, sender_id: str, message: dict[str, Any]
    ) -> str:
        """Handle a notification as if the hub had delivered it."""
        return self.client.receive_notification(private_key, sender_id, message)

    def receive_call(
        self, private_key: str, sender_id: str, msg_id: str, message: dict[str, Any]
    ) -> str:
        """Handle a call as if the hub had delivered it."""
        return self.client.receive_call(private_key, sender_id, msg_id, message)

    def receive_response(
        self, private_key: str, responder_id: str, msg_tag: str, response: dict[str, Any]
    ) -> str:
        """Handle a response as if the hub had delivered it."""
        return self.client.receive_response(private_key, responder_id, msg_tag, response)

    def bind_receive_message(
        self, mtype: str, function: Callable[..., Any], declare: bool = True, metadata: Any = None
    ) -> None:
        """*function* gets calls and notifications of *mtype* (``msg_id`` None for these)."""
        self.client.bind_receive_message(mtype, function, declare, metadata)

    def bind_receive_notification(
        self, mtype: str, function: Callable[..., Any], declare: bool = True, metadata: Any = None
    ) -> None:
        """``function(private_key, sender_id, mtype, params, extra)`` for notifications."""
        self.client.bind_receive_notification(mtype, function, declare, metadata)

    def bind_receive_call(
        self, mtype: str, function: Callable[..., Any], declare: bool = True, metadata: Any = None
    ) -> None:
        """``function(private_key, sender_id, msg_id, mtype, params, extra)``; it replies
        through ``hub.reply(private_key, msg_id, response)``."""
        self.client.bind_receive_call(mtype, function, declare, metadata)

    def bind_receive_response(self, msg_tag: str, function: Callable[..., Any]) -> None:
        """``function(private_key, responder_id, msg_tag, response)`` for *msg_tag*."""
        self.client.bind_receive_response(msg_tag, function)

    def unbind_receive_notification(self, mtype: str, declare: bool = True) -> None:
        """Stop receiving notifications of *mtype*."""
        self.client.unbind_receive_notification(mtype, declare)

    def unbind_receive_call(self, mtype: str, declare: bool = True) -> None:
        """Stop receiving calls of *mtype*."""
        self.client.unbind_receive_call(mtype, declare)

    def unbind_receive_response(self, msg_tag: str) -> None:
        """Forget the response handler of *msg_tag*."""
        self.client.unbind_receive_response(msg_tag)
