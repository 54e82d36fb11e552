"""pyvo's ``SAMPHubProxy``: the hub's Standard Profile methods, one Python method each.

A thin layer over minisamp's own :class:`~minisamp.xmlrpc.transport.XmlRpcProxy`
(kept-alive connection, a timeout on every call) and lockfile discovery: faults raise
:class:`~minisamp.errors.SAMPProxyError`, values come back as SAMP data (strings,
lists, maps), and maps go out as SAMP data (numbers and booleans as strings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..datatypes import SampValue, to_samp
from ..errors import HubNotFoundError, SampError, SAMPHubError
from ..xmlrpc.transport import XmlRpcProxy

__all__ = ["HUB_CALL_TIMEOUT", "SAMPHubProxy"]

#: Seconds any hub call may take (callAndWait: its own timeout plus this).
HUB_CALL_TIMEOUT = 30.0
_NO_HUB = "Unable to find a running SAMP Hub."


def _main_hub_params() -> dict[str, str]:
    """The lockfile of the hub ``SAMP_HUB`` or ``~/.samp`` names, if it answers."""
    from ..lockfile import find_lockfile, is_hub_alive, read_lockfile  # when connecting

    try:
        info = read_lockfile(find_lockfile(), timeout=5.0)
    except HubNotFoundError as exc:
        raise SAMPHubError(f"{_NO_HUB} ({exc})") from exc
    if info is None or not is_hub_alive(info.xmlrpc_url, timeout=5.0):
        raise SAMPHubError(_NO_HUB)
    return info.to_params()


class SAMPHubProxy:
    """pyvo's proxy to a SAMP hub: :meth:`connect`, then each hub method by its pyvo name.

    ``lockfile`` holds the connected hub's lockfile keys (``{}`` when disconnected).
    """

    def __init__(self) -> None:
        self.proxy: XmlRpcProxy | None = None
        self._connected = False
        self.lockfile: dict[str, str] = {}

    @property
    def is_connected(self) -> bool:
        """Whether the proxy is connected to a hub."""
        return self._connected

    def connect(
        self, hub: Any = None, hub_params: Mapping[str, str] | None = None, pool_size: int = 20
    ) -> None:
        """Connect to *hub* (a running hub object), *hub_params* (lockfile keys) or the hub
        that ``SAMP_HUB`` / ``~/.samp`` names.  *pool_size* is accepted and unused."""
        self.disconnect()
        if hub is not None and hub_params is not None:
            raise ValueError("Cannot specify both hub and hub_params")
        if hub_params is None:
            if hub is not None:
                if not hub.is_running:
                    raise SAMPHubError("Hub is not running")
                hub_params = hub.params
            else:
                hub_params = _main_hub_params()
        try:
            url = hub_params["samp.hub.xmlrpc.url"].replace("\\", "")
        except KeyError:
            raise SAMPHubError("hub_params has no samp.hub.xmlrpc.url") from None
        proxy = XmlRpcProxy(url, timeout=HUB_CALL_TIMEOUT)
        try:
            proxy.call("samp.hub.ping")
        except SampError as exc:
            proxy.close()
            raise SAMPHubError(f"the SAMP hub at {url} does not answer: {exc}") from exc
        self.proxy = proxy
        self.lockfile = dict(hub_params)
        self._connected = True

    def disconnect(self) -> None:
        """Close the connection to the hub."""
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        self._connected = False
        self.lockfile = {}

    def _call(self, method: str, *args: Any, timeout: float | bool | None = False) -> SampValue:
        if self.proxy is None:
            raise SAMPHubError("the hub proxy is not connected: call connect() first")
        # Maps go out as SAMP data: ints, floats and bools as strings, as the standard says.
        values = [to_samp(arg, method) if isinstance(arg, Mapping) else arg for arg in args]
        return self.proxy.call(f"samp.hub.{method}", *values, timeout=timeout)

    def ping(self) -> SampValue:
        """``samp.hub.ping``."""
        return self._call("ping")

    def set_xmlrpc_callback(self, private_key: str, xmlrpc_addr: str) -> SampValue:
        """``samp.hub.setXmlrpcCallback``."""
        return self._call("setXmlrpcCallback", private_key, xmlrpc_addr)

    def register(self, secret: str) -> SampValue:
        """``samp.hub.register``: the registration map."""
        return self._call("register", secret)

    def unregister(self, private_key: str) -> SampValue:
        """``samp.hub.unregister``."""
        return self._call("unregister", private_key)

    def declare_metadata(self, private_key: str, metadata: Mapping[str, Any]) -> SampValue:
        """``samp.hub.declareMetadata``."""
        return self._call("declareMetadata", private_key, metadata)

    def get_metadata(self, private_key: str, client_id: str) -> SampValue:
        """``samp.hub.getMetadata``."""
        return self._call("getMetadata", private_key, client_id)

    def declare_subscriptions(
        self, private_key: str, subscriptions: Mapping[str, Any]
    ) -> SampValue:
        """``samp.hub.declareSubscriptions``."""
        return self._call("declareSubscriptions", private_key, subscriptions)

    def get_subscriptions(self, private_key: str, client_id: str) -> SampValue:
        """``samp.hub.getSubscriptions``."""
        return self._call("getSubscriptions", private_key, client_id)

    def get_registered_clients(self, private_key: str) -> SampValue:
        """``samp.hub.getRegisteredClients``."""
        return self._call("getRegisteredClients", private_key)

    def get_subscribed_clients(self, private_key: str, mtype: str) -> SampValue:
        """``samp.hub.getSubscribedClients``."""
        return self._call("getSubscribedClients", private_key, mtype)

    def notify(self, private_key: str, recipient_id: str, message: Mapping[str, Any]) -> SampValue:
        """``samp.hub.notify``."""
        return self._call("notify", private_key, recipient_id, message)

    def notify_all(self, private_key: str, message: Mapping[str, Any]) -> SampValue:
        """``samp.hub.notifyAll``: the recipients' ids."""
        return self._call("notifyAll", private_key, message)

    def call(
        self, private_key: str, recipient_id: str, msg_tag: str, message: Mapping[str, Any]
    ) -> SampValue:
        """``samp.hub.call``: the message id."""
        return self._call("call", private_key, recipient_id, msg_tag, message)

    def call_all(self, private_key: str, msg_tag: str, message: Mapping[str, Any]) -> SampValue:
        """``samp.hub.callAll``: recipient id → message id."""
        return self._call("callAll", private_key, msg_tag, message)

    def call_and_wait(
        self,
        private_key: str,
        recipient_id: str,
        message: Mapping[str, Any],
        timeout: str | float,
    ) -> SampValue:
        """``samp.hub.callAndWait``: the response (*timeout* in seconds, "0": none)."""
        seconds = float(timeout)
        limit = seconds + HUB_CALL_TIMEOUT if seconds > 0 else None
        samp_timeout = str(math.ceil(seconds)) if seconds > 0 else "0"
        return self._call(
            "callAndWait", private_key, recipient_id, message, samp_timeout, timeout=limit
        )

    def reply(self, private_key: str, msg_id: str, response: Mapping[str, Any]) -> SampValue:
        """``samp.hub.reply``."""
        return self._call("reply", private_key, msg_id, response)
