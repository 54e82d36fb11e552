"""The bridge as users hold it: :class:`Bridge` (the near side) and :func:`serve_stdio` (far).

::

    with minisamp.Bridge("user@cluster") as bridge:
        print(bridge.summary)        # who is linked, each way
        bridge.wait()                # until the link ends (or Ctrl-C)

The near side runs the far side's command (:mod:`.launcher`) and links the two
hubs through its stdin and stdout (:mod:`.endpoint`).  With ``reconnect=True`` a
named thread starts a new link, with backoff, whenever one is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from types import TracebackType

from ..errors import BridgeError
from .endpoint import Endpoint, Summary
from .framing import MAGIC
from .hublink import HubLink
from .launcher import FarProcess, far_argv

__all__ = ["Bridge", "serve_stdio"]

logger = logging.getLogger(__name__)

#: Backoff between reconnection attempts, seconds.
RECONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def summary_line(where: str, summary: Summary) -> str:
    """One line saying who is linked each way with *where*."""
    here, there = summary
    return (
        f"bridge to {where}: {len(there)} there ({', '.join(there) or '-'}) shown here; "
        f"{len(here)} here ({', '.join(here) or '-'}) shown there"
    )


def _where(via: str | None) -> str:
    """What to call the far side when only *via* names it: ssh's destination, else *via*."""
    words = shlex.split(via or "")
    if words and os.path.basename(words[0]) == "ssh":
        return words[-1]
    return via or "?"


class Bridge:
    """Links this machine's SAMP hub with the hub on *dest*, over ``ssh`` (or *via*).

    *via* replaces ``ssh DEST`` by any command giving a byte stream to the far side
    (``docker exec -i box``); *remote_command* replaces the far side's command (one
    word: the python to run ``-m minisamp bridge --stdio`` with).  *lockfile*: the
    hub's lockfile here, a URL or a path (default: ``SAMP_HUB``, else ``~/.samp``); when no hub
    runs, one is started.  *report* is given one line at each change (who is linked,
    a lost link, a reconnection).
    """

    def __init__(
        self,
        dest: str | None = None,
        *,
        via: str | None = None,
        remote_command: str | None = None,
        lockfile: str | None = None,
        reconnect: bool = False,
        connect_timeout: float = 60.0,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.argv = far_argv(dest, via, remote_command)
        self.where = dest or _where(via)
        self._hub = HubLink(lockfile)
        self._reconnect = reconnect
        self._timeout = connect_timeout
        self._report = report or (lambda line: logger.info("%s", line))
        self._far: FarProcess | None = None
        self._endpoint: Endpoint | None = None
        self._stopped = threading.Event()
        self._ended = threading.Event()
        self._last: Summary | None = None
        self._supervisor: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self.reason = ""

    # -- life --------------------------------------------------------------------------

    def start(self) -> Bridge:
        """Link the hubs; BridgeError (one line saying what to do) if the far side fails."""
        try:
            self._connect()
        except BaseException:
            self._hub.close()  # and the hub we may have started for nothing
            raise
        if self._reconnect:
            self._supervisor = threading.Thread(
                target=self._supervise, name="minisamp-bridge-reconnect", daemon=True
            )
            self._supervisor.start()
        return self

    def _connect(self) -> None:
        far = FarProcess(self.argv, self.where)
        timer = threading.Timer(self._timeout, far.process.kill)
        timer.name = "minisamp-bridge-connect-timeout"
        timer.daemon = True
        timer.start()
        try:
            far.wait_for_start()
        except BridgeError:
            far.stop()
            raise
        finally:
            timer.cancel()
        endpoint = Endpoint(self._hub, far.stdout, far.stdin, near=True, on_change=self._changed)
        self._far, self._endpoint = far, endpoint
        try:
            endpoint.start(self._timeout)
        except BridgeError:
            far.stop()
            raise
        self._ended.clear()
        watch = threading.Thread(
            target=self._watch, args=(endpoint, far), name="minisamp-bridge-watch", daemon=True
        )
        self._watcher = watch
        watch.start()

    def _watch(self, endpoint: Endpoint, far: FarProcess) -> None:
        endpoint.wait()
        far.stop()
        self.reason = endpoint.reason
        if not self._stopped.is_set():
            self._report(f"bridge to {self.where} lost: {endpoint.reason}")
        self._last = None
        self._ended.set()

    def _supervise(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            self._ended.wait()
            if self._stopped.is_set():
                return
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            self._report(f"reconnecting to {self.where} in {delay:g} s")
            if self._stopped.wait(delay):
                return
            try:
                self._connect()
                attempt = 0
            except BridgeError as exc:
                self._report(f"cannot reconnect to {self.where}: {exc}")
                attempt += 1

    def _changed(self, summary: Summary) -> None:
        if summary != self._last:
            self._last = summary
            self._report(summary_line(self.where, summary))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the link ends for good (stopped, or lost without reconnect)."""
        if self._reconnect:
            return self._stopped.wait(timeout)
        return self._ended.wait(timeout)

    def stop(self) -> None:
        """Unlink: proxies unregistered on both hubs, the far side ends (idempotent)."""
        self._stopped.set()
        endpoint, far = self._endpoint, self._far
        if endpoint is not None:
            endpoint.close()
            endpoint.wait(10.0)
            endpoint.channel.join()
        if far is not None:
            far.stop()
        if self._watcher is not None:
            self._watcher.join(10.0)
        if self._supervisor is not None:
            self._supervisor.join(10.0)
        self._hub.close()

    def __enter__(self) -> Bridge:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what is linked ----------------------------------------------------------------

    @property
    def linked(self) -> bool:
        """Whether the hubs are linked now."""
        endpoint = self._endpoint
        return endpoint is not None and not endpoint.channel.closed

    @property
    def far_pid(self) -> int | None:
        """The process id of the far side's command here (``ssh``, or *via*'s), if it runs."""
        far = self._far
        return far.process.pid if far is not None and far.process.poll() is None else None

    @property
    def summary(self) -> Summary:
        """(names here shown there, names there shown here)."""
        endpoint = self._endpoint
        return endpoint.summary() if endpoint is not None and self.linked else ((), ())


def serve_stdio(lockfile: str | None = None) -> int:
    """The far side: link this machine's hub through stdin and stdout until stdin closes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the bridge's stream
    inp = os.fdopen(os.dup(0), "rb")
    out.write(MAGIC)
    out.flush()
    hub = HubLink(lockfile)
    endpoint = Endpoint(hub, inp, out, near=False)

    def stop(signum: int, frame: object) -> None:
        endpoint.close(f"the far side got signal {signum}")

    with contextlib.suppress(ValueError):  # not in the main thread
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            signal.signal(sig, stop)
    try:
        endpoint.start(60.0)
        while not endpoint.wait(1.0):
            pass
        return 0
    except BridgeError as exc:
        print(f"minisamp bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        endpoint.close("interrupted")
        endpoint.wait(10.0)
        return 130
    finally:
        endpoint.channel.join()
        hub.close()
