"""A client's life: the state table, registering, becoming callable, closing, hub gone.

:class:`ClientState` and :data:`TRANSITIONS` are the whole state machine; every public
method of :class:`~minisamp.client.Client` checks it through :meth:`Lifecycle._require`,
whose error names the state the client is in and the one it needs.  :class:`Lifecycle`
is the base the other parts of ``Client`` (``hub_queries``, ``sending``, ``receiving``)
build on: it owns the connection to the hub, and :meth:`Lifecycle._hub` is the one way
they call it, turning a dead hub into :class:`~minisamp.errors.HubGoneError`.  Clients
left open are closed (and unregistered) at interpreter exit.
"""

from __future__ import annotations

import atexit
import enum
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..datatypes import SampValue
from ..errors import (
    HubGoneError,
    HubNotFoundError,
    SAMPClientError,
    SampError,
    SAMPHubError,
    SAMPProxyError,
    TransportError,
)
from ..xmlrpc.transport import XmlRpcProxy
from .directory import HUB_DISCONNECT, HUB_SHUTDOWN, ClientDirectory
from .handlers import HandlerRegistry, Inbox

if TYPE_CHECKING:
    from ..lockfile import LockInfo
    from ..messages import Message, Response
    from .callback import CallbackServer, Inbound

__all__ = ["CONNECTED", "TRANSITIONS", "ClientState", "Lifecycle"]

logger = logging.getLogger(__name__)


class ClientState(enum.Enum):
    """Where a client is in its life."""

    UNREGISTERED = "unregistered"  # built, not yet connected
    REGISTERED = "registered"  # registered with a hub, send-only (not callable)
    CALLABLE = "callable"  # registered, with a callback server: receives messages
    HUB_GONE = "hub gone"  # the hub shut down, disconnected us or died
    CLOSED = "closed"  # closed by us; connect() may register afresh


#: The only state changes a client makes.
TRANSITIONS: dict[ClientState, frozenset[ClientState]] = {
    ClientState.UNREGISTERED: frozenset({ClientState.REGISTERED, ClientState.CLOSED}),
    ClientState.REGISTERED: frozenset(
        {ClientState.CALLABLE, ClientState.HUB_GONE, ClientState.CLOSED}
    ),
    ClientState.CALLABLE: frozenset({ClientState.HUB_GONE, ClientState.CLOSED}),
    ClientState.HUB_GONE: frozenset({ClientState.CLOSED}),
    ClientState.CLOSED: frozenset({ClientState.REGISTERED}),
}
#: The states in which a client is registered with a live hub.
CONNECTED = (ClientState.REGISTERED, ClientState.CALLABLE)
_UNREGISTER_TIMEOUT = 2.0

_live_clients: weakref.WeakSet[Lifecycle] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


def _close_live_clients() -> None:
    for client in list(_live_clients):
        client.close()


class Lifecycle:
    """The state machine and the connection to the hub: the base of
    :class:`~minisamp.client.Client`, whose constructor sets the attributes below."""

    _metadata: dict[str, SampValue]
    _callable: bool
    _lockfile: str | None
    _hub_params: dict[str, str] | None
    _addr: str
    _port: int
    _workers: int
    timeout: float
    _lock: threading.RLock
    _state: ClientState
    _gone_reason: str
    _registry: HandlerRegistry
    _response_bindings: dict[str, Callable[..., Any]]
    _inboxes: list[Inbox]
    _proxy: XmlRpcProxy | None
    _deadline: float | None  # connect's, while it runs
    _key: str
    _self_id: str
    _hub_id: str
    _server: CallbackServer | None
    _inbound: Inbound | None
    _directory: ClientDirectory

    if TYPE_CHECKING:  # provided by the other parts of Client

        def reply(self, msg_id: str, response: Mapping[str, Any] | Response) -> None: ...

        def _subscriptions(self) -> dict[str, SampValue]: ...

        def _seed_directory(self) -> None: ...

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The client's current :class:`ClientState`."""
        return self._state

    def _set_state(self, new: ClientState) -> None:
        if new not in TRANSITIONS[self._state]:
            raise SAMPClientError(f"a client cannot go from {self._state.value} to {new.value}")
        logger.debug("client %s: %s -> %s", self._self_id, self._state.value, new.value)
        self._state = new

    def _require(self, what: str, *states: ClientState) -> None:
        state = self._state
        if state in states:
            return
        if state is ClientState.HUB_GONE:
            raise HubGoneError(f"cannot {what}: the SAMP hub has gone away: {self._gone_reason}")
        if state is ClientState.REGISTERED and ClientState.CALLABLE in states:
            raise SAMPClientError(f"cannot {what}: the client is not callable (callable=False)")
        needed = " or ".join(s.value for s in states)
        hint = ": call connect() first" if state not in CONNECTED else ""
        raise SAMPClientError(f"cannot {what}: the client is {state.value}, not {needed}{hint}")

    @property
    def is_connected(self) -> bool:
        """True while registered with a hub that has not gone away."""
        return self._state in CONNECTED

    def get_public_id(self) -> str:
        """Our public client id (``samp.self-id``)."""
        return self._self_id

    def get_private_key(self) -> str:
        """Our private key (``samp.private-key``); keep it to yourself."""
        return self._key

    @property
    def hub_id(self) -> str:
        """The hub's own client id (``samp.hub-id``)."""
        return self._hub_id

    # -- connecting --------------------------------------------------------------------

    def connect(
        self,
        hub: Any = None,
        hub_params: Mapping[str, str] | None = None,
        pool_size: int | None = None,
    ) -> None:
        """Find the hub, register, declare metadata and, if callable, start receiving.

        *hub* (an object with ``.params``, e.g. a running hub) or *hub_params* override
        where the constructor said to look.  *pool_size* is accepted for pyvo and unused.
        """
        if hub is not None and hub_params is not None:
            raise ValueError("give hub or hub_params, not both")
        with self._lock:
            if self._state is ClientState.HUB_GONE:
                self.close()
            self._require("connect", ClientState.UNREGISTERED, ClientState.CLOSED)
            params = getattr(hub, "params", None) if hub is not None else hub_params
            # One deadline for the whole of connect, not one per call (issue 13).
            self._deadline = time.monotonic() + self.timeout
            try:
                info = self._find_hub(params if params is not None else self._hub_params)
                self._register(info)
                try:
                    self._hub("samp.hub.declareMetadata", self._metadata)
                    if self._callable:
                        self._become_callable()
                except BaseException:
                    self.close()
                    raise
            finally:
                self._deadline = None
            _watch_for_exit(self)

    def _left(self, cap: float | None = None) -> float | bool:
        """Seconds left of :meth:`connect`'s deadline (at most *cap*); False outside it."""
        if self._deadline is None:
            return False if cap is None else cap
        left = max(0.001, self._deadline - time.monotonic())
        return left if cap is None else min(left, cap)

    def _find_hub(self, params: Mapping[str, str] | None) -> LockInfo:
        from pathlib import Path

        from .. import lockfile  # imported now: not needed before connecting

        if params is not None:
            text = "\n".join(f"{k}={v}" for k, v in params.items())
            return lockfile.parse_lockfile(text, "hub_params")
        url = self._lockfile or lockfile.find_lockfile()
        if "://" not in url and not url.startswith("file:"):
            url = Path(url).absolute().as_uri()
        info = lockfile.read_lockfile(url, timeout=min(self.timeout, 5.0))
        if info is None:
            raise HubNotFoundError(
                "no SAMP hub is running: start TOPCAT, or run `minisamp hub` "
                f"(there is no lockfile at {url})"
            )
        return info

    def _register(self, info: LockInfo) -> None:
        where = info.source or "the lockfile"
        try:
            proxy = XmlRpcProxy(info.xmlrpc_url, timeout=self.timeout)
        except TransportError as exc:
            raise HubNotFoundError(
                f"{where} names no usable hub: samp.hub.xmlrpc.url={info.xmlrpc_url[:100]!r} "
                f"({exc}); delete it and restart your SAMP hub"
            ) from exc
        try:
            proxy.call("samp.hub.ping", timeout=self._left(min(self.timeout, 5.0)))
        except TransportError as exc:
            proxy.close()
            from ..liveness import is_no_answer, port_accepts

            if is_no_answer(exc) and port_accepts(info.xmlrpc_url, timeout=min(self.timeout, 2.0)):
                raise SAMPHubError(
                    f"the SAMP hub named in {where} did not answer at {info.xmlrpc_url} ({exc}), "
                    "but it is running (its port accepts connections): it is busy or stuck; "
                    "try again later, or stop it (do not start a second hub)"
                ) from exc
            raise HubNotFoundError(
                f"the SAMP hub named in {where} does not answer at {info.xmlrpc_url} ({exc}): "
                "it has died; start a hub again (it will replace the stale lockfile)"
            ) from exc
        except SampError as exc:  # an answer, but not a hub's: another program has the port
            proxy.close()
            raise HubNotFoundError(
                f"what answers at {info.xmlrpc_url}, named in {where}, is not a SAMP hub "
                f"({exc}): the hub has died; start a hub again (it will replace the lockfile)"
            ) from exc
        try:
            reg = proxy.call("samp.hub.register", info.secret, timeout=self._left())
        except SAMPProxyError as exc:
            proxy.close()
            raise SAMPHubError(
                f"the SAMP hub at {info.xmlrpc_url} refused to register us "
                f"({exc.faultString}): is the samp.secret in {where} right?"
            ) from exc
        except SampError as exc:  # no answer in time, or garbage: not a working hub
            proxy.close()
            raise SAMPHubError(
                f"the SAMP hub at {info.xmlrpc_url} did not register us: {exc}"
            ) from exc
        if not isinstance(reg, dict) or not all(
            isinstance(reg.get(k), str) for k in ("samp.private-key", "samp.self-id", "samp.hub-id")
        ):
            proxy.close()
            raise SAMPHubError(f"the SAMP hub at {info.xmlrpc_url} sent a malformed reg-info")
        self._proxy = proxy
        self._key = str(reg["samp.private-key"])
        self._self_id, self._hub_id = str(reg["samp.self-id"]), str(reg["samp.hub-id"])
        self._directory = ClientDirectory(self._self_id)
        self._set_state(ClientState.REGISTERED)
        logger.info("registered with the hub at %s as %s", info.xmlrpc_url, self._self_id)

    def _become_callable(self) -> None:
        # Imported now: a client that is not (yet) callable needs no server machinery.
        from .callback import CallbackServer, Inbound

        name = f"minisamp-{self._self_id}"
        self._inbound = inbound = Inbound(
            self._registry,
            reply=self.reply,
            private_key=self._key,
            hub_id=self._hub_id,
            on_hub_message=self._on_hub_message,
            response_handlers=self._response_bindings,
            workers=self._workers,
            name=name,
        )
        self._server = CallbackServer(
            self._key,
            on_notification=inbound.notification,
            on_call=inbound.call,
            on_response=inbound.response,
            host=self._addr,
            port=self._port,
            name=f"{name}-callback",
        )
        self._server.start()
        self._hub("samp.hub.setXmlrpcCallback", self._server.url)
        self._set_state(ClientState.CALLABLE)
        self._hub("samp.hub.declareSubscriptions", self._subscriptions())
        self._seed_directory()

    # -- closing, and the hub going away -----------------------------------------------

    def close(self) -> None:
        """Unregister, stop the callback server and join every thread.

        Safe to call twice, after the hub died, from a handler and from ``atexit``.
        """
        with self._lock:
            state = self._state
            if state in (ClientState.UNREGISTERED, ClientState.CLOSED):
                return
            self._set_state(ClientState.CLOSED)
        if state in CONNECTED and self._proxy is not None:
            try:
                self._proxy.call("samp.hub.unregister", self._key, timeout=_UNREGISTER_TIMEOUT)
            except SampError as exc:
                logger.info("could not unregister from the hub: %s", exc)
        self._release()
        if self._inbound is not None:
            self._inbound.close(SAMPClientError("the SAMP client was closed"))
        _live_clients.discard(self)

    disconnect = close

    def _release(self) -> None:
        """Stop the callback server and the hub connection; wake up inboxes."""
        if self._server is not None:
            self._server.close()
        if self._proxy is not None:
            self._proxy.close()
        for inbox in list(self._inboxes):
            inbox.end()
        self._directory.clear()

    def _hub_gone(self, reason: str) -> HubGoneError:
        """Note that the hub went away (once); returns the error later calls raise."""
        with self._lock:
            if self._state in CONNECTED:
                self._gone_reason = reason
                self._set_state(ClientState.HUB_GONE)
                logger.warning("the SAMP hub has gone away: %s", reason)
                error = HubGoneError(f"the SAMP hub has gone away: {reason}")
                if self._inbound is not None:  # not on the server's thread: it joins that
                    self._inbound.pending.fail_all(error)
                    self._inbound.pool.submit(self._release)
                else:
                    self._release()
        return HubGoneError(f"the SAMP hub has gone away: {self._gone_reason or reason}")

    def _on_hub_message(self, msg: Message) -> None:
        """A hub event or disconnect, on the callback server's thread, before handlers."""
        self._directory.apply_event(msg.mtype, msg.params)
        if msg.mtype in (HUB_SHUTDOWN, HUB_DISCONNECT):
            reason = msg.params.get("reason", "")
            self._hub_gone(f"{msg.mtype} {reason}".strip())

    # -- talking to the hub ------------------------------------------------------------

    def _hub(self, method: str, *args: Any, timeout: float | bool | None = False) -> Any:
        """Call hub *method* with our key first; a dead hub becomes :class:`HubGoneError`."""
        self._require(method.rpartition(".")[2], *CONNECTED)
        proxy = self._proxy
        assert proxy is not None
        if timeout is False:
            timeout = self._left()  # within connect: what is left of its deadline
        try:
            return proxy.call(method, self._key, *args, timeout=timeout)
        except TransportError as exc:
            from ..lockfile import hub_may_be_alive

            if self._state is ClientState.HUB_GONE or not hub_may_be_alive(proxy.url, timeout=1.0):
                raise self._hub_gone(f"{method} failed: {exc}") from exc
            raise


def _watch_for_exit(client: Lifecycle) -> None:
    """Close *client* at interpreter exit if nobody did (unregisters it from the hub)."""
    global _atexit_registered
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(_close_live_clients)
            _atexit_registered = True
    _live_clients.add(client)
