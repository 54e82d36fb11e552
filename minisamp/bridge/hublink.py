"""One end's hub: found through ``SAMP_HUB`` / ``~/.samp``, or started here.

:class:`HubLink` finds the hub a local script would find (TOPCAT's, JSAMP's, pyvo's
or ours); when none runs it starts our :class:`~minisamp.hub.Hub`, which writes the
standard lockfile, so unchanged scripts find it.  It makes raw Standard Profile calls
(``samp.hub.*``) for the proxies and the watcher, each within a deadline.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from ..datatypes import SampValue
from ..errors import BridgeError, SampError
from ..hub import Hub
from ..lockfile import find_lockfile, is_hub_alive, read_lockfile
from ..xmlrpc.transport import XmlRpcProxy

__all__ = ["HubLink", "Registration"]

logger = logging.getLogger(__name__)

#: Deadline of each call to the hub.
HUB_TIMEOUT = 10.0


class Registration:
    """One client of ours on the hub: its private key and public id."""

    def __init__(self, key: str, client_id: str, hub_id: str) -> None:
        self.key, self.id, self.hub_id = key, client_id, hub_id


class HubLink:
    """The hub of this machine, for one bridge end (``start_hub``: start one if none runs).

    *lockfile_url*: the hub's lockfile, a URL or a path (default: ``SAMP_HUB``, ``~/.samp``).
    """

    def __init__(self, lockfile_url: str | None = None, *, start_hub: bool = True) -> None:
        self._lockfile_url = lockfile_url
        self._start_hub = start_hub
        self._lock = threading.Lock()
        self.hub: Hub | None = None  # the hub we started, if we did
        self._proxy: XmlRpcProxy | None = None
        self._secret = ""
        self.name = ""

    def connect(self) -> None:
        """Find the running hub, or start ours; BridgeError if neither works."""
        with self._lock:
            if self._proxy is not None and is_hub_alive(self._proxy.url):
                return
            if self._proxy is not None:
                self._proxy.close()
                self._proxy = None
            url = self._lockfile_url or find_lockfile()
            if "://" not in url and not url.startswith("file:"):  # a path
                url = Path(url).absolute().as_uri()
            info = read_lockfile(url)
            if info is None or not is_hub_alive(info.xmlrpc_url):
                if not self._start_hub:
                    raise BridgeError(f"no SAMP hub runs here ({url}): start one first")
                if self.hub is not None:
                    self.hub.stop()
                lockfile = url if url.startswith("file:") else None
                self.hub = Hub(lockfile, name="Hub").start()
                logger.info("no hub was running: started one, lockfile %s", self.hub.lockfile)
                info = read_lockfile(self.hub.lock_url)
                assert info is not None
            self._secret = info.secret
            self._proxy = XmlRpcProxy(info.xmlrpc_url, timeout=HUB_TIMEOUT)
            self.name = "our hub" if self.hub is not None else info.xmlrpc_url

    def call(self, method: str, *params: Any) -> SampValue:
        """Call ``samp.hub.<method>``; BridgeError when the hub is unreachable or faults."""
        proxy = self._proxy
        if proxy is None:
            raise BridgeError("not connected to a hub")
        try:
            return proxy.call(f"samp.hub.{method}", *params)
        except SampError as exc:
            raise BridgeError(f"the hub refused samp.hub.{method}: {exc}") from exc

    def register(self) -> Registration:
        """Register a new client (it declares its callback and metadata next)."""
        info = self.call("register", self._secret)
        if not isinstance(info, dict):
            raise BridgeError("the hub answered samp.hub.register with no map")
        return Registration(
            str(info["samp.private-key"]), str(info["samp.self-id"]), str(info["samp.hub-id"])
        )

    def declare(
        self,
        reg: Registration,
        metadata: dict[str, SampValue],
        subscriptions: dict[str, SampValue],
        callback_url: str | None = None,
    ) -> None:
        """Declare *reg*'s metadata, subscriptions and (the first time) its callback URL."""
        if callback_url is not None:
            self.call("setXmlrpcCallback", reg.key, callback_url)
        self.call("declareMetadata", reg.key, metadata)
        self.call("declareSubscriptions", reg.key, subscriptions)

    def unregister(self, reg: Registration) -> None:
        """Unregister *reg*, quietly (the hub may be gone)."""
        try:
            self.call("unregister", reg.key)
        except BridgeError as exc:
            logger.debug("unregister %s: %s", reg.id, exc)

    def close(self) -> None:
        """Drop the connection and stop the hub we started, if we did."""
        with self._lock:
            if self._proxy is not None:
                self._proxy.close()
                self._proxy = None
            if self.hub is not None:
                self.hub.stop()
                self.hub = None
