"""What a client does with the messages it receives: MType handlers, replies, workers.

A *handler* is bound to an MType pattern (``"table.load.votable"``, ``"image.*"``,
``"*"``); an incoming message goes to the most specific matching handler only
(:func:`minisamp.messages.best_match`).  A native handler takes one
:class:`ReceivedMessage` and, for a call, its outcome becomes the reply:

* returns a mapping (or None)      → ``samp.ok`` with that result (``{}``);
* returns a :class:`~minisamp.messages.Response` → sent as it is;
* raises                           → ``samp.error``, the exception text in
  ``samp.errortxt``, the traceback in ``samp.debugtxt``;
* returns :data:`REPLY_LATER`       → nothing is sent: the handler (or whoever it
  hands the message to) must call ``message.reply(...)`` later, exactly once.

pyvo-style handlers (``f(private_key, sender_id, msg_id, mtype, params, extra)``)
are wrapped by :func:`pyvo_call_adapter` / :func:`pyvo_notification_adapter` and,
as in pyvo, reply themselves.  Handlers run on a :class:`WorkerPool`, never on the
thread that answers the hub, so a handler may itself call the hub.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..datatypes import SampValue, to_samp
from ..errors import SampDataError
from ..messages import FrozenValue, Response, best_match, is_mtype_pattern

__all__ = [
    "REPLY_LATER",
    "Binding",
    "HandlerRegistry",
    "Inbox",
    "ReceivedMessage",
    "WorkerPool",
    "pyvo_call_adapter",
    "pyvo_notification_adapter",
    "response_for",
]

logger = logging.getLogger(__name__)


class _ReplyLater:
    """Type of :data:`REPLY_LATER`."""

    def __repr__(self) -> str:
        return "REPLY_LATER"


#: Returned by a call handler that will reply itself, later, via ``message.reply()``.
REPLY_LATER: Any = _ReplyLater()

Replier = Callable[[str, Response], None]


class ReceivedMessage(FrozenValue):
    """A message another client sent us: a notification (``msg_id`` None) or a call."""

    _fields = ("mtype", "params", "sender_id", "msg_id", "extra", "_replier")
    _compared = _fields[:-1]
    mtype: str
    params: dict[str, SampValue]
    sender_id: str
    msg_id: str | None
    extra: dict[str, SampValue]
    _replier: Replier | None

    def __init__(
        self,
        mtype: str,
        params: dict[str, SampValue],
        sender_id: str,
        msg_id: str | None = None,
        extra: dict[str, SampValue] | None = None,
        _replier: Replier | None = None,
    ) -> None:
        self._store(
            mtype=mtype,
            params=params,
            sender_id=sender_id,
            msg_id=msg_id,
            extra={} if extra is None else extra,
            _replier=_replier,
        )

    @property
    def is_call(self) -> bool:
        """True if the sender expects a reply."""
        return self.msg_id is not None

    def reply(self, result: Response | Mapping[str, Any] | None = None) -> None:
        """Reply to this call: a :class:`Response`, or a result map meaning ``samp.ok``."""
        if self.msg_id is None or self._replier is None:
            raise SampDataError(f"cannot reply to a notification ({self.mtype})")
        response = result if isinstance(result, Response) else Response.ok(result)
        self._replier(self.msg_id, response)

    def reply_error(self, errortxt: str, **error: Any) -> None:
        """Reply ``samp.error`` (keywords: ``usertxt``, ``debugtxt``, ``code``, …)."""
        self.reply(Response.error_response(errortxt, **error))


Invoker = Callable[[ReceivedMessage], Any]


class Binding(FrozenValue):
    """One handler: what it is bound to, how to run it, whether we reply for it."""

    _fields = ("pattern", "invoke", "annotation", "auto_reply")
    pattern: str
    invoke: Invoker
    annotation: dict[str, SampValue]
    auto_reply: bool

    def __init__(
        self,
        pattern: str,
        invoke: Invoker,
        annotation: dict[str, SampValue] | None = None,
        auto_reply: bool = True,
    ) -> None:
        self._store(
            pattern=pattern,
            invoke=invoke,
            annotation={} if annotation is None else annotation,
            auto_reply=auto_reply,
        )


def response_for(outcome: Any) -> Response | None:
    """The reply a native call handler's return value stands for (None: no reply now)."""
    if outcome is REPLY_LATER:
        return None
    if isinstance(outcome, Response):
        return outcome
    if outcome is None or isinstance(outcome, Mapping):
        return Response.ok(outcome)
    raise SampDataError(
        f"a call handler returned {type(outcome).__name__}: return a dict (the result), "
        "a Response, None, or REPLY_LATER"
    )


def error_response(exc: BaseException) -> Response:
    """A ``samp.error`` response describing *exc*, with its traceback as debug text."""
    text = str(exc) or type(exc).__name__
    debug = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Response.error_response(_printable(text), debugtxt=_printable(debug))


def _printable(text: str) -> str:
    return "".join(c if c in "\t\n" or " " <= c <= "\x7f" else "?" for c in text)


class HandlerRegistry:
    """MType pattern → :class:`Binding`, kept separately for calls and notifications."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Binding] = {}
        self._notifications: dict[str, Binding] = {}

    def bind(self, binding: Binding, *, calls: bool = True, notifications: bool = True) -> None:
        """Add (or replace) *binding* for calls and/or notifications of its pattern."""
        if not is_mtype_pattern(binding.pattern):
            raise SampDataError(
                f"{binding.pattern!r} is not an MType or pattern (e.g. 'image.load.fits', "
                "'table.*', '*')"
            )
        to_samp(binding.annotation, "annotation")
        with self._lock:
            if calls:
                self._calls[binding.pattern] = binding
            if notifications:
                self._notifications[binding.pattern] = binding

    def unbind(self, pattern: str, *, calls: bool = True, notifications: bool = True) -> bool:
        """Remove the binding(s) of *pattern*; True if there was one."""
        with self._lock:
            found = calls and self._calls.pop(pattern, None) is not None
            found |= notifications and self._notifications.pop(pattern, None) is not None
        return found

    def find(self, mtype: str, *, call: bool) -> Binding | None:
        """The most specific binding for *mtype* (of calls if *call*, else notifications)."""
        with self._lock:
            table = self._calls if call else self._notifications
            pattern = best_match(table, mtype)
            return None if pattern is None else table[pattern]

    def subscriptions(self) -> dict[str, SampValue]:
        """The subscriptions map to declare: every bound pattern with its annotation."""
        with self._lock:
            bindings = list(self._notifications.values()) + list(self._calls.values())
        return {b.pattern: dict(b.annotation) for b in bindings}


def _arity(function: Callable[..., Any]) -> int:
    """Positional parameters of *function* (pyvo's ``get_num_args``, for any callable)."""
    import inspect  # imported now: only pyvo-style notification handlers need it

    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 6
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 6
    return sum(1 for p in params if p.kind in kinds)


def pyvo_call_adapter(function: Callable[..., Any], key: Callable[[], str]) -> Invoker:
    """Run ``function(private_key, sender_id, msg_id, mtype, params, extra)``, as pyvo."""

    def invoke(msg: ReceivedMessage) -> Any:
        return function(key(), msg.sender_id, msg.msg_id, msg.mtype, msg.params, msg.extra)

    return invoke


def pyvo_notification_adapter(function: Callable[..., Any], key: Callable[[], str]) -> Invoker:
    """Run a pyvo notification handler: 5 arguments, or 6 with ``msg_id`` (None for a
    notification) — the arity rule of pyvo's ``bind_receive_notification``."""
    with_msg_id = _arity(function) != 5

    def invoke(msg: ReceivedMessage) -> Any:
        if with_msg_id:
            return function(key(), msg.sender_id, msg.msg_id, msg.mtype, msg.params, msg.extra)
        return function(key(), msg.sender_id, msg.mtype, msg.params, msg.extra)

    return invoke


_STOP = object()


class WorkerPool:
    """At most *size* named daemon threads running jobs in order of arrival.

    Threads start when there is work and nobody idle, and are joined by :meth:`close`.
    """

    def __init__(self, size: int = 8, name: str = "minisamp-worker") -> None:
        self.size = max(1, size)
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._pending = 0
        self._counter = itertools.count(1)
        self._closed = False

    def submit(self, job: Callable[[], None]) -> None:
        """Run *job* on a worker thread (dropped with a warning after :meth:`close`)."""
        with self._lock:
            if self._closed:
                logger.warning("dropping a job: the worker pool is closed")
                return
            self._pending += 1
            self._queue.put(job)
            # Start a thread unless enough are waiting: a job never waits behind a busy
            # handler while the pool has room (a handler may wait for another job).
            if self._idle >= self._pending or len(self._threads) >= self.size:
                return
            self._idle += 1  # the new thread counts as waiting from now on
            thread = threading.Thread(
                target=self._work, name=f"{self.name}-{next(self._counter)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            try:
                job()
            except Exception:
                logger.exception("a SAMP message handler job failed")
            with self._lock:
                self._idle += 1

    def close(self, timeout: float = 5.0) -> None:
        """Let queued jobs finish, stop every thread and join it (not the calling one)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    logger.warning("handler thread %s still busy after %s s", thread.name, timeout)


_END = object()


class Inbox:
    """Messages queued for a script to take, one at a time (see ``Client.messages``).

    Iterating yields :class:`ReceivedMessage` objects until *timeout* seconds pass
    with nothing new (None: wait for ever) or the client disconnects.  Calls must be
    answered with ``message.reply(...)``.  Closing (or leaving the ``with`` block)
    unsubscribes.
    """

    def __init__(
        self, patterns: tuple[str, ...], timeout: float | None, on_close: Callable[[Inbox], None]
    ) -> None:
        self.patterns = patterns
        self.timeout = timeout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._on_close = on_close
        self._closed = False

    def put(self, message: ReceivedMessage) -> Any:
        """Queue *message* (an invoker for :class:`Binding`); the script replies later."""
        self._queue.put(message)
        return REPLY_LATER

    def end(self) -> None:
        """Wake up whoever waits: nothing more will come."""
        self._queue.put(_END)

    def get(self, timeout: float | None = None) -> ReceivedMessage:
        """The next message; raises :class:`TimeoutError` if none comes within *timeout*,
        :class:`EOFError` once the client has disconnected."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no SAMP message arrived within {timeout} s") from None
        if item is _END:
            self._queue.put(_END)
            raise EOFError("the SAMP client has disconnected")
        assert isinstance(item, ReceivedMessage)
        return item

    def __iter__(self) -> Iterator[ReceivedMessage]:
        while True:
            try:
                yield self.get(self.timeout)
            except (TimeoutError, EOFError):
                return

    def close(self) -> None:
        """Unsubscribe from this inbox's patterns (idempotent)."""
        if not self._closed:
            self._closed = True
            self._on_close(self)

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
