"""The SAMP client: connect to any Standard Profile hub, send and receive, never hang.

::

    with minisamp.Client("my-script") as client:
        topcat = client.find_client_id("topcat")
        result = client.request(topcat, "samp.app.ping", timeout=5)

        @client.on("table.load.votable")
        def load(msg):
            print("asked to load", msg.params["url"])   # returning means samp.ok

A client's life is the table below; every public method checks it through
:meth:`Client._require`, so using a client in the wrong state raises an error naming
the state it is in and the one it needs, and a client whose hub went away raises
:class:`~minisamp.errors.HubGoneError` instead of hanging.

The method names and arguments of pyvo's ``SAMPIntegratedClient`` are all here, with
its contract (hub faults raise ``SAMPProxyError``; an error response is returned as
a map); its thin ``e*`` and ``(un)bind_receive_*`` wrappers come from the mixin
:class:`~minisamp.pyvo_api.PyvoMethods`.  Beside them sit :meth:`Client.call_async`,
:meth:`Client.call_all_async`, :meth:`Client.request`, :meth:`Client.on` and
:meth:`Client.messages`.
"""

from __future__ import annotations

import atexit
import enum
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..datatypes import SampValue, to_samp
from ..errors import (
    HubGoneError,
    HubNotFoundError,
    SAMPClientError,
    SampError,
    SAMPHubError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SampTimeoutError,
    TransportError,
)
from ..messages import Message, Response
from ..xmlrpc.transport import XmlRpcProxy
from .directory import (
    HUB_DISCONNECT,
    HUB_MTYPES,
    HUB_SHUTDOWN,
    ClientDirectory,
    ClientInfo,
    find_client_id_in,
)
from .handlers import Binding, HandlerRegistry, Inbox
from .pyvo_api import PyvoMethods

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..lockfile import LockInfo
    from .callback import CallbackServer, Inbound

__all__ = ["Client", "ClientState"]

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
_CONNECTED = (ClientState.REGISTERED, ClientState.CALLABLE)
#: Extra seconds the transport waits beyond a callAndWait timeout, for the hub's own fault.
CALL_AND_WAIT_MARGIN = 5.0
_UNREGISTER_TIMEOUT = 2.0

F = TypeVar("F", bound=Callable[..., Any])
_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


def _close_live_clients() -> None:
    for client in list(_live_clients):
        client.close()


def _seconds(timeout: str | float | None) -> float:
    """A pyvo-style timeout (SAMP int string, int or float) as seconds; ≤0 means none."""
    if timeout is None:
        return 0.0
    try:
        return float(timeout)
    except ValueError:
        raise SAMPClientError(f"timeout {timeout!r} is not a number of seconds") from None


class Client(PyvoMethods):
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
        self._metadata: dict[str, SampValue] = encoded
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
        self._response_bindings: dict[str, Callable[..., Any]] = {}
        self._inboxes: list[Inbox] = []
        self._proxy: XmlRpcProxy | None = None
        self._key = ""
        self._self_id = ""
        self._hub_id = ""
        self._server: CallbackServer | None = None
        self._inbound: Inbound | None = None
        self._directory = ClientDirectory()

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
        hint = ": call connect() first" if state not in _CONNECTED else ""
        raise SAMPClientError(f"cannot {what}: the client is {state.value}, not {needed}{hint}")

    @property
    def is_connected(self) -> bool:
        """True while registered with a hub that has not gone away."""
        return self._state in _CONNECTED

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

    def __enter__(self) -> Client:
        if not self.is_connected:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            info = self._find_hub(params if params is not None else self._hub_params)
            self._register(info)
            try:
                self._hub("samp.hub.declareMetadata", self._metadata)
                if self._callable:
                    self._become_callable()
            except BaseException:
                self.close()
                raise
            _watch_for_exit(self)

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
            proxy.call("samp.hub.ping", timeout=min(self.timeout, 5.0))
        except (TransportError, SampError) as exc:
            proxy.close()
            raise HubNotFoundError(
                f"the SAMP hub named in {where} does not answer at {info.xmlrpc_url} ({exc}): "
                "it has died; start a hub again (it will replace the stale lockfile)"
            ) from exc
        try:
            reg = proxy.call("samp.hub.register", info.secret)
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

    def close(self) -> None:
        """Unregister, stop the callback server and join every thread.

        Safe to call twice, after the hub died, from a handler and from ``atexit``.
        """
        with self._lock:
            state = self._state
            if state in (ClientState.UNREGISTERED, ClientState.CLOSED):
                return
            self._set_state(ClientState.CLOSED)
        if state in _CONNECTED and self._proxy is not None:
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
            if self._state in _CONNECTED:
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
        self._require(method.rpartition(".")[2], *_CONNECTED)
        proxy = self._proxy
        assert proxy is not None
        try:
            return proxy.call(method, self._key, *args, timeout=timeout)
        except TransportError as exc:
            from ..lockfile import is_hub_alive

            if self._state is ClientState.HUB_GONE or not is_hub_alive(proxy.url, timeout=1.0):
                raise self._hub_gone(f"{method} failed: {exc}") from exc
            raise

    def _subscriptions(self) -> dict[str, SampValue]:
        subs = self._registry.subscriptions()
        for mtype in HUB_MTYPES:
            subs.setdefault(mtype, {})
        return subs

    def ping(self) -> Any:
        """Check the hub answers (``samp.hub.ping``)."""
        self._require("ping", *_CONNECTED)
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

    def declare_subscriptions(self, subscriptions: Mapping[str, Any] | None = None) -> None:
        """Declare what we have handlers for, plus *subscriptions* (pyvo semantics)."""
        if not self._callable:
            raise SAMPClientError("Client not callable.")
        subs = self._subscriptions()
        if subscriptions:
            encoded = to_samp(dict(subscriptions), "subscriptions")
            assert isinstance(encoded, dict)
            subs.update(encoded)
        self._require("declare subscriptions", ClientState.CALLABLE)
        self._hub("samp.hub.declareSubscriptions", subs)

    def _redeclare(self) -> None:
        if self._state is ClientState.CALLABLE:
            self.declare_subscriptions()

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
        self._require("list clients", *_CONNECTED)
        directory = ClientDirectory(self._self_id)
        self._fill(directory)
        return directory.snapshot()

    def find_client_id(self, name: str) -> str:
        """The id of the client called *name* (exact ``samp.name`` first, then ignoring
        case); :class:`~minisamp.errors.ClientNotFoundError` lists who is registered."""
        return find_client_id_in(self.clients, name)

    # -- sending: pyvo's methods -------------------------------------------------------

    def notify(self, recipient_id: str, message: Mapping[str, Any] | Message) -> None:
        """Send a notification to *recipient_id*."""
        self._hub("samp.hub.notify", recipient_id, Message.from_user(message).to_map())

    def notify_all(self, message: Mapping[str, Any] | Message) -> list[str]:
        """Send a notification to every subscribed client; returns who it went to."""
        return list(self._hub("samp.hub.notifyAll", Message.from_user(message).to_map()))

    def call(self, recipient_id: str, msg_tag: str, message: Mapping[str, Any] | Message) -> str:
        """Send a call; the response comes to ``bind_receive_response(msg_tag, ...)``."""
        msg = Message.from_user(message).to_map()
        return str(self._hub("samp.hub.call", recipient_id, msg_tag, msg))

    def call_all(self, msg_tag: str, message: Mapping[str, Any] | Message) -> dict[str, str]:
        """Send a call to every subscribed client; returns id → msg-id."""
        msg = Message.from_user(message).to_map()
        return dict(self._hub("samp.hub.callAll", msg_tag, msg))

    def call_and_wait(
        self, recipient_id: str, message: Mapping[str, Any] | Message, timeout: str | float
    ) -> dict[str, Any]:
        """The hub's ``callAndWait``: the response map (an error response is returned,
        not raised); :class:`~minisamp.errors.SAMPProxyTimeoutError` if it times out.
        *timeout* is in seconds, ≤0 for no limit."""
        secs = _seconds(timeout)
        samp_timeout = str(math.ceil(secs)) if secs > 0 else "0"
        limit = secs + CALL_AND_WAIT_MARGIN if secs > 0 else None
        msg = Message.from_user(message).to_map()
        started = time.monotonic()
        try:
            args = (recipient_id, msg, samp_timeout)
            return dict(self._hub("samp.hub.callAndWait", *args, timeout=limit))
        except SAMPProxyError as exc:
            text = exc.faultString.lower()
            late = secs > 0 and time.monotonic() - started >= secs
            if isinstance(exc, SAMPProxyTimeoutError) or ("time" in text and "out" in text) or late:
                raise SAMPProxyTimeoutError(exc.faultCode, exc.faultString) from None
            raise
        except TransportError as exc:  # the hub is alive but did not time the call out
            raise SAMPProxyTimeoutError(1, f"no response from {recipient_id}: {exc}") from exc

    def reply(self, msg_id: str, response: Mapping[str, Any] | Response) -> None:
        """Answer the call *msg_id*."""
        self._hub("samp.hub.reply", msg_id, Response.from_user(response).to_map())

    # -- sending: futures and blocking requests ----------------------------------------

    @staticmethod
    def _message(mtype_or_message: str | Mapping[str, Any] | Message, params: Any) -> Message:
        if isinstance(mtype_or_message, str):
            return Message.create(mtype_or_message, params)
        return Message.from_user(mtype_or_message)

    def call_async(
        self,
        recipient_id: str,
        mtype_or_message: str | Mapping[str, Any] | Message,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Future[Response]:
        """Send a call; the future gets the :class:`~minisamp.messages.Response`, or fails
        with :class:`~minisamp.errors.SampTimeoutError` after *timeout* seconds, a hub
        fault, or :class:`~minisamp.errors.HubGoneError`.  Needs a callable client."""
        return self._tracked_call(recipient_id, self._message(mtype_or_message, params), timeout)

    def call_all_async(
        self,
        mtype_or_message: str | Mapping[str, Any] | Message,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Future[dict[str, Response]]:
        """Call every subscribed client; the future gets ``{client_id: Response}`` once
        all have answered or *timeout* seconds have passed (with who answered by then)."""
        return self._tracked_call(None, self._message(mtype_or_message, params), timeout)

    def _tracked_call(
        self, recipient_id: str | None, message: Message, timeout: float | None
    ) -> Future[Any]:
        """``call`` (or ``callAll`` if *recipient_id* is None) under a fresh pending tag."""
        self._require("receive responses", ClientState.CALLABLE)
        assert self._inbound is not None
        pending = self._inbound.pending
        broadcast = recipient_id is None
        tag, future = pending.add(
            broadcast=broadcast, recipient=recipient_id or "", timeout=timeout
        )
        try:
            if recipient_id is None:
                recipients = self._hub("samp.hub.callAll", tag, message.to_map())
                pending.set_recipients(tag, set(recipients))
            else:
                self._hub("samp.hub.call", recipient_id, tag, message.to_map())
        except SampError as exc:
            pending.fail(tag, exc)
        return future

    def request(
        self,
        recipient_id: str,
        mtype: str | Mapping[str, Any] | Message,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> dict[str, Any]:
        """Call *recipient_id* and wait: returns the result map.

        Raises :class:`~minisamp.errors.SampResponseError` if it answers ``samp.error``
        (``.error`` holds the map, ``.responder_id`` who said it) and
        :class:`~minisamp.errors.SampTimeoutError` if no answer comes in *timeout*
        seconds.  Built on :meth:`call_async`; send-only clients use the hub's
        ``callAndWait`` instead.
        """
        message = self._message(mtype, params)
        if self._state is ClientState.REGISTERED:
            try:
                raw = self.call_and_wait(recipient_id, message, timeout or 0)
            except SAMPProxyTimeoutError as exc:
                raise SampTimeoutError(str(exc), responder_id=recipient_id) from exc
            response = Response.from_map(raw)
        else:
            response = self.call_async(recipient_id, message, timeout=timeout).result()
        response.raise_for_error(recipient_id)
        return dict(response.result or {})

    # -- receiving ---------------------------------------------------------------------

    def on(
        self,
        pattern: str,
        handler: F | None = None,
        *,
        calls: bool = True,
        notifications: bool = True,
        annotation: Mapping[str, Any] | None = None,
    ) -> Any:
        """Handle messages whose MType matches *pattern*; usable as a decorator.

        The handler gets a :class:`~minisamp.handlers.ReceivedMessage`; for a call its
        return value is the reply (see :mod:`minisamp.handlers`)."""

        def register(function: F) -> F:
            binding = Binding(pattern, function, dict(annotation or {}))
            self._registry.bind(binding, calls=calls, notifications=notifications)
            self._redeclare()
            return function

        return register if handler is None else register(handler)

    def off(self, pattern: str) -> None:
        """Stop handling *pattern* (calls and notifications)."""
        if self._registry.unbind(pattern):
            self._redeclare()

    def messages(self, *patterns: str, timeout: float | None = None) -> Inbox:
        """Queue messages matching *patterns* (default ``*``) for a script to take::

        with client.messages("table.load.votable", timeout=60) as inbox:
            for msg in inbox:
                ...; msg.reply({})     # calls must be answered
        """
        inbox = Inbox(patterns or ("*",), timeout, self._close_inbox)
        for pattern in inbox.patterns:
            self._registry.bind(Binding(pattern, inbox.put))
        self._inboxes.append(inbox)
        self._redeclare()
        return inbox

    def _close_inbox(self, inbox: Inbox) -> None:
        for pattern in inbox.patterns:
            self._registry.unbind(pattern)
        self._inboxes.remove(inbox)
        if self.is_connected:
            self._redeclare()


def _watch_for_exit(client: Client) -> None:
    """Close *client* at interpreter exit if nobody did (unregisters it from the hub)."""
    global _atexit_registered
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(_close_live_clients)
            _atexit_registered = True
    _live_clients.add(client)
