"""When a bench child process (``_hub_runner``, ``_peer``) stops: one rule for both.

A child runs until SIGTERM or SIGINT, until its parent process goes away, or until
``--max-seconds`` have passed, so a benchmark killed hard never leaves one behind for
long.  Stdlib only and no side effects at import: the children import it first thing
and must start fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

#: Default of ``--max-seconds``: an hour, far beyond any benchmark run.
MAX_SECONDS = 3600.0


def add_max_seconds(parser: argparse.ArgumentParser) -> None:
    """Give *parser* the ``--max-seconds`` option both children take."""
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS)


class Release:
    """Watches for a reason to stop; made before the child starts its work.

    Creating it installs the SIGTERM and SIGINT handlers and notes the parent's PID,
    so a signal or an orphaning during start-up is not missed.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._done.set())
        self._parent = os.getppid()

    def wait(self, max_seconds: float) -> None:
        """Return on a signal, when the parent has gone, or after *max_seconds*."""
        deadline = time.monotonic() + max_seconds
        while not self._done.wait(0.5):
            if os.getppid() != self._parent or time.monotonic() > deadline:
                return
