"""One end of a bridge: its hub, its proxies, its exports, and the protocol between ends.

Control messages (JSON, :mod:`.framing`), each way:

========== ===================================================================
hello      protocol, version, host, file server port: the first message
bye        the reason this end is closing
client     a client of the sender's hub: id, metadata, subscriptions (new or changed)
gone       that client unregistered
notify     sender id, recipient id, message: deliver as the sender's proxy
call       sender id, recipient id, call tag, message: call as the sender's proxy
response   call tag, response: the answer to a ``call`` that crossed the other way
stream.*   open, head, ack, cancel, end, fail: a URL's bytes (:mod:`.urls`)
========== ===================================================================

Ids are each hub's own: a ``client`` message is answered by a proxy on the receiving
hub (:mod:`.proxies`), and messages name the real clients, so each end maps them to
its proxies.  Clients with ``bridge.*`` keys in their metadata (any bridge's proxies,
its own client, ``--status``) are never announced: two bridges between the same hubs cannot echo
each other's proxies back and forth.  URLs in messages and responses are rewritten on the way out
(:mod:`.urls`).  When the channel closes, every pending call gets an error response
and every proxy is unregistered.  A client that unregisters is announced ``gone``
only once the replies it sent to calls from across have been passed on (or after 5 s):
they travel by another path than the hub's events, and must not be overtaken.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from ..datatypes import SampValue
from ..errors import BridgeError, SampError
from ..version import __version__
from .channel import Channel
from .fileserver import LocalServer
from .framing import PROTOCOL
from .hublink import HubLink
from .proxies import Proxies, Proxy
from .urls import Exports, Senders
from .watcher import Watcher

__all__ = ["Endpoint", "Summary"]

logger = logging.getLogger(__name__)

#: (names of the clients here shown there, names of the clients there shown here)
Summary = tuple[tuple[str, ...], tuple[str, ...]]


def _error_response(text: str) -> dict[str, SampValue]:
    return {"samp.status": "samp.error", "samp.error": {"samp.errortxt": text}}


class Endpoint:
    """One end: *hub* linked to the far end through (*reader*, *writer*)."""

    def __init__(
        self,
        hub: HubLink,
        reader: BinaryIO,
        writer: BinaryIO,
        *,
        near: bool,
        on_change: Callable[[Summary], None] | None = None,
    ) -> None:
        self.hub = hub
        self.near = near
        self._on_change = on_change
        self.server = LocalServer()
        self.exports = Exports()
        self.channel = Channel(
            reader,
            writer,
            near=near,
            on_control=self._on_control,
            on_stream=self._on_stream,
            on_data=self.server.on_data,
            on_close=self._on_close,
            name="minisamp-bridge-" + ("near" if near else "far"),
        )
        self.server.channel = self.channel
        self.senders = Senders(self.exports, self.channel)
        self.proxies = Proxies(hub, self.server, self._proxy_callback)
        self.watcher = Watcher(hub, self.server, self._on_event)
        self.peer: dict[str, Any] = {}
        self._peer_port = 0
        self._lock = threading.Lock()
        self._announced: dict[str, str] = {}  # client id here → its samp.name
        self._pending: dict[str, tuple[str, str]] = {}  # call tag → (proxy key, msg-id)
        self._tags = itertools.count(1)
        self._repliers: list[threading.Thread] = []
        # calls made here for the far end, not answered yet: call tag → recipient id here
        self._outstanding: dict[str, str] = {}
        self._drained = threading.Condition(self._lock)
        self._ready = threading.Event()
        self.done = threading.Event()
        self.reason = ""

    # -- life --------------------------------------------------------------------------

    def start(self, timeout: float) -> None:
        """Join the hub, greet the far end, wait for its greeting; BridgeError if none."""
        try:
            self.hub.connect()
        except (SampError, OSError) as exc:
            reason = f"cannot join the SAMP hub on {socket.gethostname()}: {exc}"
            self.close(reason)  # nothing is running yet: no cleaning up to wait for
            raise BridgeError(reason) from exc
        self.server.start()
        self.exports.own_prefix = self.server.prefix
        self.channel.start()
        self._send(
            {
                "op": "hello",
                "protocol": PROTOCOL,
                "version": __version__,
                "host": socket.gethostname(),
                "port": self.server.address[1],
                "hub": self.hub.name,
            }
        )
        if not self._ready.wait(timeout):
            self.close(f"the far end did not greet within {timeout:g} s")
        if self.channel.closed:
            self.done.wait(10.0)
            raise BridgeError(self.reason or self.channel.reason)

    def close(self, reason: str = "the bridge was stopped") -> None:
        """Say goodbye and close; the cleaning up runs on the channel's worker."""
        if not self.channel.closed:
            with contextlib.suppress(BridgeError):
                self.channel.send({"op": "bye", "reason": reason})
        self.channel.close(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the link has ended and been cleaned up; True if it has."""
        return self.done.wait(timeout)

    def summary(self) -> Summary:
        """The names linked each way."""
        with self._lock:
            here = tuple(sorted(self._announced.values()))
        return here, tuple(self.proxies.names())

    def _changed(self) -> None:
        if not self._ready.is_set() or self.channel.closed:
            return
        here, there = self.summary()
        try:
            self.watcher.publish(list(here), list(there))
        except BridgeError as exc:
            logger.info("bridge: cannot publish who is linked: %s", exc)
        if self._on_change is not None:
            self._on_change((here, there))

    def _send(self, message: dict[str, Any]) -> bool:
        try:
            self.channel.send(message)
        except BridgeError:
            return False
        return True

    def _rewrite(self, value: SampValue) -> SampValue:
        return self.exports.rewrite(value, self._peer_port)

    def _restore(self, value: SampValue) -> SampValue:
        return self.exports.restore(value, self._peer_port)

    # -- from the far end --------------------------------------------------------------

    def _on_stream(self, message: dict[str, Any]) -> None:
        if not self.senders.on_stream(message):
            self.server.on_stream(message)

    def _on_control(self, message: dict[str, Any]) -> None:
        try:
            self._handle(message)
        except (BridgeError, KeyError, TypeError, ValueError) as exc:  # one message, not the link
            logger.info("bridge: cannot handle %s: %r", message.get("op"), exc)

    def _handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "hello":
            self._hello(message)
        elif op == "bye":
            self.channel.close(f"the far end closed: {message.get('reason', '')}")
        elif op == "client":
            self.proxies.ensure(str(message["id"]), message["metadata"], message["subscriptions"])
            self._changed()
        elif op == "gone":
            self.proxies.remove(str(message["id"]))
            self._changed()
        elif op == "notify":
            self._deliver_notify(message)
        elif op == "call":
            self._deliver_call(message)
        elif op == "response":
            self._deliver_response(message)
        else:
            logger.info("bridge: ignoring unknown operation %r", op)

    def _hello(self, message: dict[str, Any]) -> None:
        if message.get("protocol") != PROTOCOL:
            self.close(
                f"the far end runs minisamp {message.get('version', '?')} (bridge protocol "
                f"{message.get('protocol')}), this one {__version__} (protocol {PROTOCOL}): "
                "install the same minisamp version on both machines"
            )
            return
        self.peer = message
        self._peer_port = int(message["port"])
        self.proxies.host = str(message.get("host", "the far host"))
        try:
            reg = self.watcher.start(self.proxies.host)
            clients = self.hub.call("getRegisteredClients", reg.key)
        except BridgeError as exc:
            self.close(f"cannot join the hub here: {exc}")
            return
        self._ready.set()
        for client_id in clients if isinstance(clients, list) else []:
            self._announce(str(client_id))
        self._changed()

    def _deliver_notify(self, message: dict[str, Any]) -> None:
        proxy = self.proxies.get(str(message["sender"]))
        if proxy is None:
            logger.info("bridge: dropping a notification from unknown %s", message["sender"])
            return
        try:
            recipient, body = message["recipient"], self._restore(message["message"])
            self.hub.call("notify", proxy.reg.key, recipient, body)
        except BridgeError as exc:
            logger.info("bridge: notification to %s not delivered: %s", message["recipient"], exc)

    def _deliver_call(self, message: dict[str, Any]) -> None:
        proxy = self.proxies.get(str(message["sender"]))
        tag = str(message["tag"])
        try:
            if proxy is None:
                raise BridgeError(f"the sender {message['sender']} is not linked")
            body = self._restore(message["message"])
            with self._lock:
                self._outstanding[tag] = str(message["recipient"])
            self.hub.call("call", proxy.reg.key, message["recipient"], tag, body)
        except BridgeError as exc:
            self._answered(tag)
            text = f"not delivered across the bridge: {exc}"
            self._send({"op": "response", "tag": tag, "response": _error_response(text)})

    def _answered(self, tag: str) -> None:
        with self._drained:
            if self._outstanding.pop(tag, None) is not None:
                self._drained.notify_all()

    def _deliver_response(self, message: dict[str, Any]) -> None:
        with self._lock:
            pending = self._pending.pop(str(message["tag"]), None)
        if pending is None:
            return
        key, msg_id = pending
        try:
            self.hub.call("reply", key, msg_id, self._restore(message["response"]))
        except BridgeError as exc:
            logger.info("bridge: reply to %s not delivered: %s", msg_id, exc)

    # -- from this end's hub -----------------------------------------------------------

    def _linkable(self, client_id: str) -> bool:
        reg = self.watcher.reg
        if reg is None or client_id in (reg.id, reg.hub_id):
            return False
        return not self.proxies.is_proxy(client_id)

    def _announce(self, client_id: str) -> None:
        reg = self.watcher.reg
        if reg is None or not self._linkable(client_id):
            return
        try:
            metadata = self.hub.call("getMetadata", reg.key, client_id)
            subscriptions = self.hub.call("getSubscriptions", reg.key, client_id)
        except BridgeError as exc:
            logger.info("bridge: cannot describe %s: %s", client_id, exc)
            return
        if not isinstance(metadata, dict) or not isinstance(subscriptions, dict):
            return
        if any(key.startswith("bridge.") for key in metadata):  # a bridge's own: never echoed
            return
        message = {"op": "client", "id": client_id, "metadata": metadata}
        message["subscriptions"] = subscriptions
        if self._send(message):
            with self._lock:
                self._announced[client_id] = str(metadata.get("samp.name", client_id))

    def _on_event(self, mtype: str, params: dict[str, Any]) -> None:
        client_id = str(params.get("id", ""))
        if self.watcher.reg is not None and client_id == self.watcher.reg.id:
            return  # our own metadata, saying who is linked
        if mtype in ("samp.hub.event.metadata", "samp.hub.event.subscriptions"):
            self._announce(client_id)
        elif mtype == "samp.hub.event.unregister":
            with self._drained:  # its last replies may still be on their way to our proxies
                self._drained.wait_for(lambda: client_id not in self._outstanding.values(), 5.0)
                for tag in [t for t, who in self._outstanding.items() if who == client_id]:
                    del self._outstanding[tag]  # it left without answering
                known = self._announced.pop(client_id, None) is not None
            if known:
                self._send({"op": "gone", "id": client_id})
        elif mtype == "samp.hub.event.shutdown":
            self.close("the SAMP hub on this machine shut down")
            return
        else:
            return
        self._changed()

    def _proxy_callback(self, proxy: Proxy, method: str, args: tuple[Any, ...]) -> Any:
        """A proxy's ``samp.client.*`` callback: carry it across."""
        if method == "receiveResponse" and len(args) == 3:
            _, tag, response = args
            self._send({"op": "response", "tag": tag, "response": self._rewrite(response)})
            self._answered(str(tag))
            return ""
        if method not in ("receiveNotification", "receiveCall") or not args:
            return ""
        sender = str(args[0])
        if not self._linkable(sender):  # the hub itself, or a loop through a proxy
            if method == "receiveCall" and len(args) == 3:
                refusal = _error_response("the bridge does not carry this sender's calls")
                self._reply_later([(proxy.reg.key, str(args[1]))], refusal)
            return ""
        with self._lock:
            announced = sender in self._announced
        if not announced:
            self._announce(sender)  # a client that sends before it declares anything
        message = {"sender": sender, "recipient": proxy.remote_id, "message": args[-1]}
        message["message"] = self._rewrite(args[-1])
        if method == "receiveNotification":
            self._send({"op": "notify", **message})
            return ""
        tag = f"{'n' if self.near else 'f'}{next(self._tags)}"
        with self._lock:
            self._pending[tag] = (proxy.reg.key, str(args[1]))
        if not self._send({"op": "call", "tag": tag, **message}):
            with self._lock:
                self._pending.pop(tag, None)
            text = f"the bridge to {self.proxies.host} is closed: {self.channel.reason}"
            self._reply_later([(proxy.reg.key, str(args[1]))], _error_response(text))
        return ""

    def _reply_later(self, calls: list[tuple[str, str]], response: dict[str, SampValue]) -> None:
        """Answer *calls* (proxy key, msg-id) from a thread: never inside the hub's callback."""
        thread = threading.Thread(
            target=self._reply_all, args=(calls, response), name="minisamp-bridge-reply"
        )
        thread.daemon = True
        with self._lock:
            self._repliers = [t for t in self._repliers if t.is_alive()] + [thread]
        thread.start()

    def _reply_all(self, calls: list[tuple[str, str]], response: dict[str, SampValue]) -> None:
        for key, msg_id in calls:
            try:
                self.hub.call("reply", key, msg_id, response)
            except BridgeError as exc:
                logger.debug("bridge: cannot answer %s: %s", msg_id, exc)

    # -- the end -----------------------------------------------------------------------

    def _fail_pending(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        text = f"the bridge to {self.proxies.host} closed: {self.reason}"
        self._reply_all(pending, _error_response(text))

    def _on_close(self, reason: str) -> None:
        self.reason = reason
        self._ready.set()
        self.server.fail_streams(reason)
        self._fail_pending()
        with self._lock:
            repliers = list(self._repliers)
        for thread in repliers:
            thread.join(10.0)
        self.proxies.remove_all()
        self.watcher.stop()
        self.server.close()
        self.senders.join()
        self.exports.close()
        with self._lock:
            self._announced.clear()
        self.done.set()
