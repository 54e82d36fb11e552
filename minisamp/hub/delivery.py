"""Callbacks to Standard Profile clients: in order per client, never one client waiting on another.

The routing service hands the hub each callback it wants a client to receive; for a
Standard Profile client :class:`StandardDelivery` queues it and a worker sends it as
``samp.client.<method>`` to the client's callback URL.  :class:`DeliveryPool` keeps
one FIFO queue per recipient with at most one callback in flight per recipient, so each
client gets its messages in the order the hub decided them.  A worker thread waits on
one client's socket only: when every worker is busy the pool starts another (up to
:data:`MAX_WORKERS`), so a slow, mute or dribbling client delays only its own messages.
Extra workers end after :data:`LINGER` idle seconds.  Every send has an overall
deadline (``delivery_timeout``), and :meth:`StandardDelivery.close` cuts the sends still
in progress at once.

A callback that cannot be delivered is reported back to the service (a waiting
caller then gets ``samp.error`` at once); one whose encoding exceeds the hub's own
body limit is not sent at all and fails the same way.  A client is disconnected only
when its port refuses connections (its process is gone), or when the prober finds it
dead while it owes replies: a timeout, a refusal (HTTP 413…) or a cut connection is
that message's failure, never the recipient's.

Split from :mod:`minisamp.hub.hub`, which keeps the server, lockfile and life cycle.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence

from ..datatypes import SampValue
from ..errors import SAMPProxyError, TransportError
from ..xmlrpc import codec
from ..xmlrpc.transport import XmlRpcProxy
from .delivery_pool import MAX_QUEUE, MAX_WORKERS, DeliveryPool
from .service import ClientRecord, HubService

__all__ = [
    "DELIVERY_TIMEOUT",
    "MAX_QUEUE",
    "MAX_WORKERS",
    "PROBE_INTERVAL",
    "DeliveryPool",
    "StandardDelivery",
]

logger = logging.getLogger(__name__)

#: Seconds a client has to take a callback (connect, send, answer) before it counts as failed.
DELIVERY_TIMEOUT = 60.0
#: Seconds between checks that clients owing replies still listen (0: no checks).
PROBE_INTERVAL = 1.0
#: Seconds between two attempts of a delivery the client answered with a fault.
RETRY_DELAY = 0.01


def _is_unreachable(exc: BaseException) -> bool:
    """True if the connection was refused: nothing listens there, the client is gone."""
    return isinstance(exc.__cause__, ConnectionRefusedError) or "connection refused" in str(exc)


def _nothing_listens(url: str, timeout: float = 1.0) -> bool:
    """True only if a connection to *url*'s host and port is refused: its process is gone."""
    try:
        parts = urllib.parse.urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):  # slow, or unresolvable: the call's own timeout decides
        return False


class _Shared:
    """The encoding of a callback's last argument (the message or response map), made once
    by the first worker that needs it and shared by every recipient of that callback."""

    __slots__ = ("_lock", "_value", "_xml")

    def __init__(self, value: SampValue) -> None:
        self._value: SampValue | None = value
        self._xml: memoryview | None = None
        self._lock = threading.Lock()

    def xml(self) -> memoryview:
        """``<param>…</param>`` of the value, as XML-RPC encodes it."""
        with self._lock:
            if self._xml is None:
                body = codec.dump_request("m", (self._value,))
                start = body.index(b"<params>") + len(b"<params>")
                self._xml = memoryview(body)[start : body.rindex(b"</params>")]
                self._value = None
            return self._xml


class StandardDelivery:
    """Sends the service's callbacks to Standard Profile clients, one XML-RPC proxy each.

    A callback whose request would exceed *max_body* bytes is not sent: it fails (a
    caller gets ``samp.error``), since the hub would refuse such a body itself.  Its
    threads (the pool's ``<name>-deliver-<i>`` workers, and the ``<name>-probe``
    prober once :meth:`start_probing` is called) are daemons, stopped and joined by
    :meth:`stop_probing` and :meth:`close`.
    """

    def __init__(
        self,
        service: HubService,
        *,
        workers: int,
        timeout: float,
        name: str,
        max_body: int,
        max_workers: int = MAX_WORKERS,
        retries: int = 0,
    ) -> None:
        self.service = service
        self._timeout = timeout
        self._retries = retries
        self._name = name
        self._max_body = max_body
        self._proxies: dict[str, XmlRpcProxy] = {}
        self._departed: set[XmlRpcProxy] = set()  # one-call proxies to clients that left
        self._proxies_lock = threading.Lock()
        self._probing = threading.Event()
        self._prober: threading.Thread | None = None
        self._pool = DeliveryPool(self._send, workers, name, limit=max_workers)
        self._last: tuple[SampValue, _Shared] | None = None  # a broadcast's shared encoding
        self._last_lock = threading.Lock()

    def submit(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        """Queue ``method(*args)`` for *record*, after what is already queued for it.

        The recipients of one broadcast or event (the same map object, passed on in a
        row) share one encoding of it: a large message is encoded once, not per client.
        """
        with self._last_lock:
            if self._last is not None and self._last[0] is args[-1]:
                shared = self._last[1]
            else:
                shared = _Shared(args[-1])
                self._last = (args[-1], shared)
        if not self._pool.submit(record.public_id, (record, method, args, shared)):
            why = f"{MAX_QUEUE} callbacks are waiting for it: it is not taking them"
            logger.info("cannot queue %s for %s: %s", method, record.public_id, why)
            self.service.delivery_failed(record.public_id, method, args, why)

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is delivered; False if *timeout* ran out."""
        return self._pool.flush(timeout)

    def wait_sent(self, timeout: float) -> bool:
        """Wait until everything queued so far is written to its client (answered or not)."""
        return self._pool.wait_sent(timeout)

    def forget(self, target: str) -> None:
        """*target* has left the hub: close its connection once the call in progress ends."""
        with self._proxies_lock:
            proxy = self._proxies.pop(target, None)
        if proxy is not None:
            proxy.retire()  # never waits: the client may be unregistering from its handler

    def close(self, timeout: float = 1.0) -> None:
        """Drop what is queued, cut every send in progress, join the workers."""
        with self._proxies_lock:
            proxies = [*self._proxies.values(), *self._departed]
            self._proxies = {}
        self._pool.close(0.0)  # no new sends...
        for proxy in proxies:
            proxy.close()  # ...and those in progress end now
        self._pool.close(timeout)

    def _proxy(self, record: ClientRecord) -> tuple[XmlRpcProxy, bool]:
        """The proxy for *record*, and whether it is kept (False: the client has left)."""
        assert record.callback_url is not None
        with self._proxies_lock:
            kept = self.service.is_registered(record.public_id)
            proxy = self._proxies.get(record.public_id) if kept else None
            if proxy is None or proxy.url != record.callback_url:
                if proxy is not None:
                    proxy.retire()
                proxy = XmlRpcProxy(record.callback_url, timeout=self._timeout)
                if kept:
                    self._proxies[record.public_id] = proxy
                else:
                    self._departed.add(proxy)
            return proxy, kept

    def _send(
        self,
        target: str,
        item: tuple[ClientRecord, str, tuple[SampValue, ...], _Shared],
        sent: Callable[[], None],
    ) -> None:
        record, method, args, shared = item
        name = f"samp.client.{method}"
        head = codec.dump_request(name, (record.private_key, *args[:-1]))
        split = head.rindex(b"</params>")
        body = (memoryview(head)[:split], shared.xml(), memoryview(head)[split:])
        size = sum(len(part) for part in body)
        if size > self._max_body:
            why = f"it is {size} bytes once encoded, over the hub's limit of {self._max_body}"
            logger.warning("not sending %s to %s: %s", method, target, why)
            self.service.delivery_failed(target, method, args, why)
            return
        try:
            proxy, kept = self._proxy(record)
        except TransportError as exc:  # a URL the transport cannot call
            self.service.delivery_failed(target, method, args, str(exc))
            return
        try:
            self._request(proxy, body, name, sent)
        except SAMPProxyError as exc:
            logger.info("%s refused %s: %s", target, method, exc.faultString)
            self.service.delivery_failed(target, method, args, exc.faultString)
        except TransportError as exc:
            unreachable = _is_unreachable(exc)
            level = logging.WARNING if unreachable else logging.INFO
            logger.log(level, "cannot deliver %s to %s: %s", method, target, exc)
            self.service.delivery_failed(target, method, args, str(exc))
            if unreachable:
                self._pool.discard(target)
                self.service.disconnect(target, "the hub cannot reach it")
        except Exception as exc:
            logger.warning("cannot deliver %s to %s: %s", method, target, exc)
            self.service.delivery_failed(target, method, args, str(exc))
        finally:
            if not kept:
                proxy.close()
                with self._proxies_lock:
                    self._departed.discard(proxy)

    def _request(
        self,
        proxy: XmlRpcProxy,
        body: Sequence[bytes | memoryview],
        name: str,
        sent: Callable[[], None],
    ) -> None:
        """Send once, then up to ``retries`` more times, 10 ms apart, if it answers a fault
        (pyvo's ``conf.n_retries``; a client that cannot be reached is not retried)."""
        for attempt in range(self._retries + 1):
            try:
                proxy.send_request(body, name, sent=sent)
                return
            except SAMPProxyError:
                if attempt == self._retries:
                    raise
            time.sleep(RETRY_DELAY)

    # -- probing -----------------------------------------------------------------------

    def start_probing(self, interval: float) -> None:
        """Every *interval* seconds, drop clients that owe replies but no longer listen."""
        self._prober = threading.Thread(
            target=self._probe, args=(interval,), name=f"{self._name}-probe", daemon=True
        )
        self._prober.start()

    def stop_probing(self, timeout: float) -> None:
        """Stop the prober, waiting at most *timeout* seconds for it."""
        self._probing.set()
        if self._prober is not None:
            self._prober.join(timeout)

    def _probe(self, interval: float) -> None:
        """Drop clients that owe replies but have died, so their callers get samp.error now
        instead of waiting out their timeout (or, with callAndWait timeout 0, for hours)."""
        while not self._probing.wait(interval):
            for record in self.service.overdue_recipients(interval):
                url = record.callback_url
                if self._probing.is_set():
                    return
                if record.profile != "std" or url is None or not _nothing_listens(url):
                    continue
                logger.warning("%s owes replies but nothing listens at %s", record.public_id, url)
                self._pool.discard(record.public_id)
                self.service.disconnect(record.public_id, "the hub cannot reach it")
