"""A bare SAMP client for hub tests: raw XML-RPC calls, every callback recorded.

It uses only minisamp's wire layer, so hub tests do not depend on minisamp's client.
"""

from __future__ import annotations

import contextlib
import queue
from typing import Any

from minisamp.hub import Hub
from minisamp.xmlrpc.server import XmlRpcServer
from minisamp.xmlrpc.transport import XmlRpcProxy


class RawClient:
    """Registers on *hub*; if *callable*, records callbacks and (optionally) replies ok."""

    def __init__(
        self,
        hub: Hub,
        *,
        callable: bool = True,
        subscriptions: dict[str, Any] | None = None,
        auto_reply: bool = True,
    ) -> None:
        self.proxy = XmlRpcProxy(hub.url, timeout=10)
        reg = self.proxy.call("samp.hub.register", hub.secret)
        assert isinstance(reg, dict)
        self.id = str(reg["samp.self-id"])
        self.key = str(reg["samp.private-key"])
        self.hub_id = str(reg["samp.hub-id"])
        self.auto_reply = auto_reply
        self.received: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self.server: XmlRpcServer | None = None
        if callable:
            self.server = XmlRpcServer(self._dispatch, name=f"raw-{self.id}")
            self.server.start()
            self.hub("setXmlrpcCallback", self.server.url)
            if subscriptions is not None:
                self.hub("declareSubscriptions", subscriptions)

    def hub(self, method: str, *args: Any) -> Any:
        """Call ``samp.hub.<method>`` with our private key first."""
        return self.proxy.call(f"samp.hub.{method}", self.key, *args)

    def _dispatch(self, method: str, params: tuple[Any, ...], client: Any) -> str:
        if params[0] != self.key:
            raise ValueError("wrong private key")
        self.received.put((method, params[1:]))
        if method == "samp.client.receiveCall" and self.auto_reply:
            _sender, msg_id, message = params[1:]
            response = {"samp.status": "samp.ok", "samp.result": dict(message["samp.params"])}
            self.hub("reply", msg_id, response)
        return ""

    def next(self, timeout: float = 5.0) -> tuple[str, tuple[Any, ...]]:
        """The next callback received (method, args without the key)."""
        return self.received.get(timeout=timeout)

    def next_of(
        self, method: str, mtype: str | None = None, timeout: float = 5.0
    ) -> tuple[Any, ...]:
        """Skip callbacks until one of *method* (and *mtype*, if given) arrives."""
        while True:
            got, args = self.next(timeout)
            if got != f"samp.client.{method}":
                continue
            if mtype is None:
                return args
            message = args[-1]
            if message.get("samp.mtype") == mtype:
                return args

    def close(self, unregister: bool = True) -> None:
        """Unregister (if asked) and stop the callback server."""
        if unregister:
            with contextlib.suppress(Exception):
                self.hub("unregister")
        if self.server is not None:
            self.server.close()
        self.proxy.close()
