"""Proxy clients: each client of the far hub, registered on this end's hub.

A proxy has the same metadata as the client it stands for — the same ``samp.name``
exactly, since unchanged scripts look clients up by name — plus ``bridge.host`` and
``bridge.remote-id``, and a ``samp.description.text`` saying where it really runs.
It has the same subscriptions, but for the hub's own messages (``samp.hub.*``), which
concern each hub alone.  Its callbacks come to this end's :class:`LocalServer`, keyed
by its private key.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..datatypes import SampValue
from ..errors import BridgeError
from .fileserver import LocalServer
from .hublink import HubLink, Registration

__all__ = ["Proxies", "Proxy", "proxy_metadata", "proxy_subscriptions"]

logger = logging.getLogger(__name__)

ProxyCallback = Callable[["Proxy", str, tuple[Any, ...]], Any]


def _local_only(url: str) -> bool:
    if url.startswith("file:"):
        return True
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return True
    return host in ("localhost", "::1") or host.startswith("127.")


def proxy_metadata(
    metadata: dict[str, SampValue], host: str, remote_id: str
) -> dict[str, SampValue]:
    """The metadata a proxy declares for a far client with *metadata*, on *host*."""
    result = dict(metadata)
    icon = result.get("samp.icon.url")
    if isinstance(icon, str) and _local_only(icon):
        del result["samp.icon.url"]  # it would not resolve here
    text = result.get("samp.description.text")
    where = f"on {host}, through minisamp bridge"
    result["samp.description.text"] = f"{text} ({where})" if isinstance(text, str) else where
    result["bridge.host"] = host
    result["bridge.remote-id"] = remote_id
    return result


def proxy_subscriptions(subscriptions: dict[str, SampValue]) -> dict[str, SampValue]:
    """The subscriptions of a proxy: the far client's, but for the hub's own MTypes."""
    return {mtype: v for mtype, v in subscriptions.items() if not mtype.startswith("samp.hub.")}


class Proxy:
    """One far client, as registered on this end's hub."""

    def __init__(self, remote_id: str, name: str, reg: Registration) -> None:
        self.remote_id, self.name, self.reg = remote_id, name, reg


class Proxies:
    """The proxies of one end, by the far client's id."""

    def __init__(self, hub: HubLink, server: LocalServer, callback: ProxyCallback) -> None:
        self._hub, self._server, self._callback = hub, server, callback
        self._lock = threading.Lock()
        self._by_remote: dict[str, Proxy] = {}
        self._local_ids: set[str] = set()
        self.host = "the far host"

    def is_proxy(self, client_id: str) -> bool:
        """Whether *client_id* (on this hub) is one of our proxies."""
        with self._lock:
            return client_id in self._local_ids

    def get(self, remote_id: str) -> Proxy | None:
        with self._lock:
            return self._by_remote.get(remote_id)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(p.name for p in self._by_remote.values())

    def ensure(
        self, remote_id: str, metadata: dict[str, SampValue], subscriptions: dict[str, SampValue]
    ) -> None:
        """Register or update the proxy of far client *remote_id*."""
        name = str(metadata.get("samp.name", remote_id))
        meta = proxy_metadata(metadata, self.host, remote_id)
        subs = proxy_subscriptions(subscriptions)
        proxy = self.get(remote_id)
        if proxy is not None:
            proxy.name = name
            self._hub.declare(proxy.reg, meta, subs)
            return
        reg = self._hub.register()
        proxy = Proxy(remote_id, name, reg)
        with self._lock:
            self._by_remote[remote_id] = proxy
            self._local_ids.add(reg.id)
        self._server.add_callback(reg.key, lambda method, args: self._callback(proxy, method, args))
        try:
            self._hub.declare(reg, meta, subs, self._server.url)
        except BridgeError:
            self.remove(remote_id)
            raise
        logger.info("proxy %s for %r (%s on %s)", reg.id, name, remote_id, self.host)

    def remove(self, remote_id: str) -> None:
        """Unregister the proxy of *remote_id*, if there is one."""
        with self._lock:
            proxy = self._by_remote.pop(remote_id, None)
        if proxy is None:
            return
        self._hub.unregister(proxy.reg)
        self._server.remove_callback(proxy.reg.key)
        with self._lock:
            self._local_ids.discard(proxy.reg.id)

    def remove_all(self) -> None:
        """Unregister every proxy."""
        with self._lock:
            remote_ids = list(self._by_remote)
        for remote_id in remote_ids:
            self.remove(remote_id)
