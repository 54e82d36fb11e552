"""pyvo's ``SAMPIntegratedClient``: :class:`minisamp.client.Client` with pyvo's constructor.

Every method of pyvo's class is there with the same arguments and contract.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..client.client import Client
from ..errors import SAMPClientError, SAMPWarning

if TYPE_CHECKING:
    from ..client.callback import Inbound
    from ..messages import Message

__all__ = ["NOBODY_RECEIVED", "SAMPIntegratedClient"]

#: pyvo's warning text when a broadcast reaches no client (its hub says it; we say it too).
NOBODY_RECEIVED = "No client was able to receive this message"


class SAMPIntegratedClient(Client):
    """pyvo's ``SAMPIntegratedClient``: a :class:`~minisamp.client.Client` built the pyvo way.

    Differences from pyvo, all deliberate: *addr* None means 127.0.0.1 (pyvo probes
    google.com and may bind the machine's public name); ``ecall_all`` returns its map;
    ``disconnect()`` of a non-callable client does unregister; the client is also a
    context manager and has the :class:`~minisamp.client.Client` extras.
    """

    def __init__(
        self,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        addr: str | None = None,
        port: int = 0,
        callable: bool = True,
    ) -> None:
        super().__init__(name, description, metadata, addr=addr, port=port, callable=callable)

    def connect(
        self,
        hub: Any = None,
        hub_params: Mapping[str, str] | None = None,
        pool_size: int | None = 20,
    ) -> None:
        """Find the hub (or use *hub* / *hub_params*), register, and start receiving.

        *pool_size* is accepted as in pyvo and unused (one kept-alive connection serves).
        """
        super().connect(hub, hub_params, pool_size)

    def notify_all(self, message: Mapping[str, Any] | Message) -> list[str]:
        """Send a notification to every subscribed client; returns who it went to.

        Warns (:class:`SAMPWarning`, pyvo's text) when nobody is subscribed.
        """
        recipients = super().notify_all(message)
        if not recipients:
            warnings.warn(NOBODY_RECEIVED, SAMPWarning, stacklevel=2)
        return recipients

    def call_all(self, msg_tag: str, message: Mapping[str, Any] | Message) -> dict[str, str]:
        """Send a call to every subscribed client; returns id → msg-id (warns if none)."""
        msg_ids = super().call_all(msg_tag, message)
        if not msg_ids:
            warnings.warn(NOBODY_RECEIVED, SAMPWarning, stacklevel=2)
        return msg_ids

    def receive_notification(
        self, private_key: str, sender_id: str, message: dict[str, Any]
    ) -> str:
        """pyvo: handle a notification as if the hub had delivered it."""
        self._check_key(private_key).notification(sender_id, message)
        return ""

    def receive_call(
        self, private_key: str, sender_id: str, msg_id: str, message: dict[str, Any]
    ) -> str:
        """pyvo: handle a call as if the hub had delivered it."""
        self._check_key(private_key).call(sender_id, msg_id, message)
        return ""

    def receive_response(
        self, private_key: str, responder_id: str, msg_tag: str, response: dict[str, Any]
    ) -> str:
        """pyvo: handle a response as if the hub had delivered it."""
        self._check_key(private_key).response(responder_id, msg_tag, response)
        return ""

    def _check_key(self, private_key: str) -> Inbound:
        if self._inbound is None or not self.is_connected:
            raise SAMPClientError("the client is not connected and callable")
        if private_key != self.get_private_key():
            raise SAMPClientError("wrong private key")
        return self._inbound
