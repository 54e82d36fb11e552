"""Callbacks to Standard Profile clients: in order per client, over a bounded thread pool.

The routing service hands the hub each callback it wants a client to receive; for a
Standard Profile client :class:`StandardDelivery` queues it and a worker sends it as
``samp.client.<method>`` to the client's callback URL.  :class:`DeliveryPool` keeps
one FIFO queue per recipient drained by a fixed set of threads, so each client gets
its messages in the order the hub decided them and a slow client slows nobody else.
A callback that cannot be delivered is reported back to the service (a waiting
caller then gets ``samp.error`` at once); a client whose port refuses connections is
disconnected, and so is one found dead by the prober while it owes replies.

Split from :mod:`minisamp.hub.hub`, which keeps the server, lockfile and life cycle.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..datatypes import SampValue
from ..errors import SAMPProxyError, TransportError
from ..xmlrpc.transport import XmlRpcProxy
from .service import ClientRecord, HubService

__all__ = ["DELIVERY_TIMEOUT", "PROBE_INTERVAL", "DeliveryPool", "StandardDelivery"]

logger = logging.getLogger(__name__)

#: Seconds a client has to accept a callback before the delivery counts as failed.
DELIVERY_TIMEOUT = 60.0
#: Seconds between checks that clients owing replies still listen (0: no checks).
PROBE_INTERVAL = 1.0
#: Seconds between two attempts of a delivery the client answered with a fault.
RETRY_DELAY = 0.01

_UNREACHABLE = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError)


def _is_unreachable(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(cause, _UNREACHABLE) or "connection refused" in str(exc)


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


class DeliveryPool:
    """Per-recipient FIFO queues drained by a fixed set of named daemon threads.

    An idle worker waits on a condition of its own; new work wakes the worker that
    went idle last (its connections and caches are warm), and only that one.
    """

    def __init__(self, send: Callable[[str, Any], None], workers: int, name: str) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque[Any]] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._idle: list[threading.Condition] = []  # waiting workers, the latest last
        self._settled = threading.Condition(self._lock)  # a target's queue ran dry
        self._busy = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-deliver-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, target: str, item: Any) -> None:
        """Queue *item* for *target*; items for one target are sent one at a time, in order."""
        with self._lock:
            queue = self._queues.get(target)
            if queue is None:
                self._queues[target] = collections.deque([item])
                self._ready.append(target)
                if self._idle:
                    self._idle.pop().notify()
            else:
                queue.append(item)

    def discard(self, target: str) -> None:
        """Forget what is still queued for *target*."""
        with self._lock:
            queue = self._queues.get(target)
            if queue is not None:
                queue.clear()

    def _work(self) -> None:
        wakeup = threading.Condition(self._lock)
        while True:
            with self._lock:
                while not self._ready and not self._closed:
                    self._idle.append(wakeup)
                    wakeup.wait()  # submit() or close() takes it off the idle list
                if not self._ready:
                    return
                target = self._ready.popleft()
                self._busy += 1
            self._drain(target)

    def _drain(self, target: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[target]
                if not queue:
                    del self._queues[target]
                    self._busy -= 1
                    self._settled.notify_all()
                    return
                item = queue.popleft()
            try:
                self._send(target, item)
            except Exception:
                logger.exception("delivery to %s failed unexpectedly", target)

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent; False if *timeout* ran out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queues or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (after the item each is sending) and join them."""
        with self._lock:
            self._closed = True
            for queue in self._queues.values():
                queue.clear()
            self._ready.clear()
            idle, self._idle = self._idle, []
            for wakeup in idle:
                wakeup.notify()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)


class StandardDelivery:
    """Sends the service's callbacks to Standard Profile clients, one XML-RPC proxy each.

    Its threads (the pool's ``<name>-deliver-<i>`` workers, and the
    ``<name>-probe`` prober once :meth:`start_probing` is called) are daemons,
    stopped and joined by :meth:`stop_probing` and :meth:`close`.
    """

    def __init__(
        self, service: HubService, *, workers: int, timeout: float, name: str, retries: int = 0
    ) -> None:
        self.service = service
        self._timeout = timeout
        self._retries = retries
        self._name = name
        self._proxies: dict[str, XmlRpcProxy] = {}
        self._proxies_lock = threading.Lock()
        self._probing = threading.Event()
        self._prober: threading.Thread | None = None
        self._pool = DeliveryPool(self._send, workers, name)

    def submit(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        """Queue ``method(*args)`` for *record*, after what is already queued for it."""
        self._pool.submit(record.public_id, (record, method, args))

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent; False if *timeout* ran out."""
        return self._pool.flush(timeout)

    def forget(self, target: str) -> None:
        """Close the connection to *target*, which has left the hub."""
        with self._proxies_lock:
            proxy = self._proxies.pop(target, None)
        if proxy is not None:
            proxy.close()

    def close(self) -> None:
        """Stop the workers and close every connection."""
        self._pool.close()
        with self._proxies_lock:
            proxies, self._proxies = self._proxies, {}
        for proxy in proxies.values():
            proxy.close()

    def _proxy(self, record: ClientRecord) -> XmlRpcProxy:
        with self._proxies_lock:
            proxy = self._proxies.get(record.public_id)
            if proxy is None or proxy.url != record.callback_url:
                assert record.callback_url is not None
                proxy = XmlRpcProxy(record.callback_url, timeout=self._timeout)
                self._proxies[record.public_id] = proxy
            return proxy

    def _send(self, target: str, item: tuple[ClientRecord, str, tuple[SampValue, ...]]) -> None:
        record, method, args = item
        try:
            self._call(record, method, args)
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

    def _call(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        """Deliver once, then up to ``retries`` more times, 10 ms apart, if it answers a fault
        (pyvo's ``conf.n_retries``; a client that cannot be reached is not retried)."""
        for attempt in range(self._retries + 1):
            try:
                self._proxy(record).call(f"samp.client.{method}", record.private_key, *args)
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
                if record.profile != "std" or url is None or not _nothing_listens(url):
                    continue
                logger.warning("%s owes replies but nothing listens at %s", record.public_id, url)
                self._pool.discard(record.public_id)
                self.service.disconnect(record.public_id, "the hub cannot reach it")
