"""Per-client delivery queues: in order for each client, never one client waiting on another.

:class:`DeliveryPool` keeps one FIFO queue per recipient with at most one item in
flight per recipient, so each client gets its callbacks in the order the hub decided
them.  A worker thread waits on one client's socket only: when every worker is busy
the pool starts another (up to :data:`MAX_WORKERS`), so a slow, mute or dribbling
client delays only its own messages.  Extra workers end after :data:`LINGER` idle
seconds.  What is sent, and how, is the caller's ``send`` function
(:class:`~minisamp.hub.delivery.StandardDelivery`).
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LINGER", "MAX_QUEUE", "MAX_WORKERS", "DeliveryPool", "Send"]

logger = logging.getLogger("minisamp.hub.delivery")

#: Most worker threads at once: one per client with a callback in flight.
MAX_WORKERS = 512
#: Most callbacks queued for one client; past it new ones fail (it is not taking them).
MAX_QUEUE = 10_000
#: Seconds an extra worker (beyond the pool's core) stays idle before it ends.
LINGER = 5.0

#: ``send(target, item, sent)``: deliver *item* to *target*, calling ``sent()`` once written.
Send = Callable[[str, Any, Callable[[], None]], None]


class _Once:
    """Calls *func* the first time it is called, never again."""

    __slots__ = ("_func",)

    def __init__(self, func: Callable[[], None]) -> None:
        self._func: Callable[[], None] | None = func

    def __call__(self) -> None:
        func, self._func = self._func, None
        if func is not None:
            func()


class DeliveryPool:
    """Per-recipient FIFO queues, one item in flight per recipient, on named daemon threads.

    *core* workers stay; when work arrives and none is idle another starts, up to
    *limit*, and ends after *linger* idle seconds.  An idle worker waits on a condition
    of its own; new work wakes the worker that went idle last, and only that one.
    ``send(target, item, sent)`` must call ``sent()`` once the item is written out.
    """

    def __init__(
        self,
        send: Send,
        workers: int,
        name: str,
        *,
        limit: int = MAX_WORKERS,
        max_queue: int = MAX_QUEUE,
        linger: float = LINGER,
    ) -> None:
        self._send = send
        self._name = name
        self._core = max(1, workers)
        self._limit = max(self._core, limit)
        self._max_queue = max_queue
        self._linger = linger
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque[Any]] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._idle: list[threading.Condition] = []  # waiting workers, the latest last
        self._settled = threading.Condition(self._lock)  # queues ran dry, or items went out
        self._threads: set[threading.Thread] = set()
        self._numbers = itertools.count()
        self._busy = 0
        self._unsent = 0  # items queued or in flight and not yet written out
        self._closed = False
        with self._lock:
            for _ in range(self._core):
                self._start_worker()

    @property
    def thread_count(self) -> int:
        """How many worker threads run now."""
        return len(self._threads)

    def _start_worker(self) -> None:  # lock held
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-deliver-{next(self._numbers)}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def submit(self, target: str, item: Any) -> bool:
        """Queue *item* for *target*, after what is queued for it; False if its queue is full.

        After :meth:`close` nothing is queued (and True returned): nothing more is sent.
        """
        with self._lock:
            if self._closed:
                return True
            queue = self._queues.get(target)
            if queue is None:
                self._queues[target] = collections.deque([item])
                self._ready.append(target)
                if self._idle:
                    self._idle.pop().notify()
                elif len(self._threads) < self._limit:
                    self._start_worker()
            elif len(queue) >= self._max_queue:
                return False
            else:
                queue.append(item)
            self._unsent += 1
        return True

    def discard(self, target: str) -> None:
        """Forget what is still queued for *target* (not what is in flight)."""
        with self._lock:
            queue = self._queues.get(target)
            if queue is not None:
                self._unsent -= len(queue)
                queue.clear()
                self._settled.notify_all()

    def _work(self) -> None:
        wakeup = threading.Condition(self._lock)
        while True:
            with self._lock:
                while not self._ready and not self._closed:
                    self._idle.append(wakeup)
                    extra = len(self._threads) > self._core
                    woken = wakeup.wait(self._linger if extra else None)
                    if not woken and wakeup in self._idle:  # lingered long enough
                        self._idle.remove(wakeup)
                        if not self._ready and len(self._threads) > self._core:
                            self._threads.discard(threading.current_thread())
                            return
                if not self._ready:
                    return  # closed
                target = self._ready.popleft()
                self._busy += 1
            self._drain(target)

    def _drain(self, target: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[target]
                if not queue or self._closed:
                    del self._queues[target]
                    self._busy -= 1
                    self._settled.notify_all()
                    return
                item = queue.popleft()
            sent = _Once(self._written)
            try:
                self._send(target, item, sent)
            except Exception:
                logger.exception("delivery to %s failed unexpectedly", target)
            finally:
                sent()  # failed or not, it is no longer waiting to go out

    def _written(self) -> None:
        with self._lock:
            self._unsent -= 1
            if not self._unsent:
                self._settled.notify_all()

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is delivered; False if *timeout* ran out."""
        return self._wait(lambda: not self._queues and not self._busy, timeout)

    def wait_sent(self, timeout: float) -> bool:
        """Wait until everything queued so far is written out (answered or not)."""
        return self._wait(lambda: self._unsent <= 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Drop what is queued, stop the workers, join them for at most *timeout* s.

        A worker in a send stops when that send ends: cut it first (close its connection).
        """
        with self._lock:
            self._closed = True
            for queue in self._queues.values():
                self._unsent -= len(queue)
                queue.clear()
            self._ready.clear()
            idle, self._idle = self._idle, []
            for wakeup in idle:
                wakeup.notify()
            threads = list(self._threads)
            self._settled.notify_all()
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
