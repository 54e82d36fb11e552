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

:class:`Client` is built here from its parts, one concern each: the life and the
connection to the hub (:class:`~.lifecycle.Lifecycle`, the base of the others), the
hub's questions and the directory of clients (:class:`~.hub_queries.HubQueries`),
sending (:class:`~.sending.Sending`) and receiving (:class:`~.receiving.Receiving`);
this module adds the constructor, which sets every attribute they share.

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
from .directory import ClientDirectory
from .handlers import Binding, HandlerRegistry
from .hub_queries import HubQueries
from .lifecycle import ClientState
from .pyvo_api import PyvoMethods
from .receiving import Receiving
from .sending import Sending

__all__ = ["Client", "ClientState"]


class Client(HubQueries, Sending, Receiving, PyvoMethods):
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
        self._deadline = None
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
