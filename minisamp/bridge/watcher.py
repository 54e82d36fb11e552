"""The bridge's own client on this end's hub: it learns who comes and goes.

:class:`Watcher` registers one client (``samp.name`` "minisamp bridge"), subscribes
to ``samp.hub.event.*`` and hands each event, in order, to ``on_event(mtype,
params)`` on a named thread of its own — never inside the hub's callback, so a hub
that waits on its deliveries is never called back into from one.  Its metadata also
says who is linked each way (``bridge.shown-here``, ``bridge.shown-there``: lists of
names), which is what ``minisamp bridge --status`` shows.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..datatypes import SampValue
from ..errors import BridgeError
from .fileserver import LocalServer
from .hublink import HubLink, Registration

__all__ = ["Watcher"]

logger = logging.getLogger(__name__)

EventHandler = Callable[[str, dict[str, Any]], None]
_EVENTS = ("register", "unregister", "metadata", "subscriptions", "shutdown")


class Watcher:
    """Hub events for one bridge end, on the ``minisamp-bridge-events`` thread."""

    def __init__(self, hub: HubLink, server: LocalServer, on_event: EventHandler) -> None:
        self._hub, self._server, self._on_event = hub, server, on_event
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._run, name="minisamp-bridge-events", daemon=True
        )
        self.reg: Registration | None = None
        self._metadata: dict[str, SampValue] = {}

    def start(self, far_host: str) -> Registration:
        """Register on the hub and start handing on its events."""
        reg = self._hub.register()
        self.reg = reg
        self._server.add_callback(reg.key, self._callback)
        self._metadata = {
            "samp.name": "minisamp bridge",
            "samp.description.text": f"links this hub to the SAMP hub on {far_host} (over SSH)",
            "bridge.host": far_host,
            "bridge.shown-there": [],
            "bridge.shown-here": [],
        }
        subscriptions: dict[str, SampValue] = {f"samp.hub.event.{e}": {} for e in _EVENTS}
        self._thread.start()
        self._hub.declare(reg, self._metadata, subscriptions, self._server.url)
        return reg

    def publish(self, here: list[str], there: list[str]) -> None:
        """Say in our metadata who is linked (``minisamp bridge --status`` reads it)."""
        reg = self.reg
        if reg is None:
            return
        if [here, there] == [
            self._metadata["bridge.shown-there"],
            self._metadata["bridge.shown-here"],
        ]:
            return
        shown_there: list[SampValue] = list(here)
        shown_here: list[SampValue] = list(there)
        self._metadata = {
            **self._metadata,
            "bridge.shown-there": shown_there,
            "bridge.shown-here": shown_here,
        }
        self._hub.call("declareMetadata", reg.key, self._metadata)

    def _callback(self, method: str, args: tuple[Any, ...]) -> Any:
        if method == "receiveNotification" and len(args) == 2 and isinstance(args[1], dict):
            mtype = str(args[1].get("samp.mtype", ""))
            params = args[1].get("samp.params")
            self._queue.put((mtype, params if isinstance(params, dict) else {}))
        return ""

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._on_event(*item)
            except BridgeError as exc:
                logger.info("bridge: handling %s: %s", item[0], exc)
            except Exception:
                logger.exception("bridge: error handling %s", item[0])

    def stop(self) -> None:
        """Unregister, and join the thread."""
        if self.reg is not None:
            self._hub.unregister(self.reg)
            self._server.remove_callback(self.reg.key)
        self._queue.put(None)
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
