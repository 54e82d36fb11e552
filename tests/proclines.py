"""A child process's output, read line by line on a thread, waited for with a deadline.

``readline()`` on a pipe blocks until the child writes or exits, whatever deadline the
test had in mind; :class:`Lines` reads on a named daemon thread instead (it ends when
the pipe closes), so :meth:`Lines.wait_for` gives up when its deadline passes.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import IO


class Lines:
    """The lines of *stream* as they arrive; ``wait_for(text)`` within an overall deadline."""

    def __init__(self, stream: IO[str] | None, name: str = "test-output") -> None:
        assert stream is not None, "start the process with stdout/stderr=subprocess.PIPE"
        self.seen: list[str] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._read, args=(stream,), name=name, daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._queue.put(line)
        except ValueError:  # the stream was closed under us
            pass
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line (from here on) containing *text*; AssertionError after *timeout* s."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)  # later waits see the end too
                raise AssertionError(f"{text!r} never printed; the output ended: {self.seen!r}")
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {timeout} s; got {self.seen!r}")

    def until_end(self, timeout: float = 30) -> str:
        """Everything not yet seen, up to the end of the output (AssertionError after *timeout*)."""
        deadline = time.monotonic() + timeout
        rest: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)
                self._thread.join(timeout=left)
                return "".join(rest)
            self.seen.append(line)
            rest.append(line)
        raise AssertionError(f"the output did not end within {timeout} s")
