"""The multiplexer: control messages and data streams over one pair of byte streams.

:class:`Channel` reads frames on one named thread and writes them under a lock from
any thread.  Control messages are handed, in the order they came, to ``on_control``
on one worker thread (so a slow hub call never stalls the reader); messages whose
``op`` starts with ``stream.`` and DATA frames are handed to ``on_stream`` and
``on_data`` on the reader thread itself, which must not block.  When the stream ends
or breaks, ``on_close(reason)`` is called once, on the worker thread, after every
control message read before it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from ..errors import BridgeError, PeerProtocolError
from .framing import CONTROL, DATA, decode_control, encode_control, encode_frame, read_frame

__all__ = ["Channel"]

logger = logging.getLogger(__name__)

ControlHandler = Callable[[dict[str, Any]], None]


class Channel:
    """Frames both ways on (*reader*, *writer*); stream ids are odd on the near side."""

    def __init__(
        self,
        reader: BinaryIO,
        writer: BinaryIO,
        *,
        near: bool,
        on_control: ControlHandler,
        on_stream: ControlHandler,
        on_data: Callable[[int, bytes], None],
        on_close: Callable[[str], None],
        name: str = "minisamp-bridge",
    ) -> None:
        self._reader, self._writer = reader, writer
        self._on_control, self._on_stream, self._on_data = on_control, on_stream, on_data
        self._on_close = on_close
        self._name = name
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1 if near else 2, 2)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._closed = threading.Event()
        self.reason = ""
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"{name}-reader", daemon=True),
            threading.Thread(target=self._work_loop, name=f"{name}-worker", daemon=True),
        ]

    def start(self) -> None:
        """Start reading and handling."""
        for thread in self._threads:
            thread.start()

    @property
    def closed(self) -> bool:
        """Whether the channel has ended (it never reopens)."""
        return self._closed.is_set()

    def new_stream_id(self) -> int:
        """A stream id no other stream of this end has used."""
        return next(self._ids)

    def send(self, message: dict[str, Any]) -> None:
        """Send a control message; BridgeError if the channel has ended."""
        self._write(encode_control(message))

    def send_data(self, stream: int, payload: bytes) -> None:
        """Send one chunk of stream *stream*."""
        self._write(encode_frame(DATA, stream, payload))

    def _write(self, frame: bytes) -> None:
        if self._closed.is_set():
            raise BridgeError(f"the bridge is closed: {self.reason}")
        try:
            with self._write_lock:
                self._writer.write(frame)
                self._writer.flush()
        except (OSError, ValueError) as exc:  # ValueError: the pipe was closed under us
            self.close(f"cannot write to the bridge: {exc}")
            raise BridgeError(f"the bridge is closed: {self.reason}") from exc

    def close(self, reason: str = "closed") -> None:
        """End the channel (idempotent); ``on_close`` follows on the worker thread."""
        if self._closed.is_set():
            return
        self.reason = reason
        self._closed.set()
        logger.info("bridge channel closed: %s", reason)
        for stream in (self._writer, self._reader):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        self._queue.put(None)

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the channel's threads (after :meth:`close`)."""
        for thread in self._threads:
            if thread is not threading.current_thread() and thread.ident is not None:
                thread.join(timeout)

    def _read_loop(self) -> None:
        reason = "the other end closed the bridge"
        try:
            while not self._closed.is_set():
                frame = read_frame(self._reader)
                if frame is None:
                    break
                kind, stream, payload = frame
                if kind == DATA:
                    self._on_data(stream, payload)
                    continue
                assert kind == CONTROL
                message = decode_control(payload)
                if message["op"].startswith("stream."):
                    self._on_stream(message)
                else:
                    self._queue.put(message)
        except PeerProtocolError as exc:
            reason = str(exc)
        except (OSError, ValueError) as exc:
            reason = f"the bridge connection broke: {exc}"
        self.close(reason)

    def _work_loop(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                break
            try:
                self._on_control(message)
            except Exception:
                logger.exception("bridge: error handling %s", message.get("op"))
        try:
            self._on_close(self.reason)
        except Exception:
            logger.exception("bridge: error while closing")
