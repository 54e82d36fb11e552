"""Peers in other processes, for tests that kill them: our hub, and a minisamp client.

* :func:`hub_process` runs ``python -m minisamp hub --lockfile PATH`` and waits until it
  answers; :meth:`HubProcess.kill` sends SIGKILL (no shutdown event, lockfile left).
* :func:`client_process` runs a minisamp ``Client`` in a child process that subscribes
  to the MTypes it is given, prints ``GOT <mtype> <msg-id>`` for each message (calls are
  left unanswered: ``REPLY_LATER``), and exits when its stdin closes — so a test that
  dies never leaves it behind.

Every child is stopped by its own PID when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conftest import start_hub_process, stop_process

from minisamp.lockfile import read_lockfile

#: How these children are stopped: as conftest's hubs, with 10 s (not 15) before SIGKILL.
_stop = functools.partial(stop_process, grace=10.0)


@dataclass
class HubProcess:
    """Our hub in a child process."""

    lockfile: Path
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        info = read_lockfile(self.lockfile.as_uri())
        assert info is not None
        return info.xmlrpc_url

    def kill(self) -> None:
        """SIGKILL: the hub dies without a word to anyone."""
        _stop(self.process, signal.SIGKILL)


@contextlib.contextmanager
def hub_process(lockfile: Path, *extra: str) -> Iterator[HubProcess]:
    """``python -m minisamp hub --lockfile <lockfile> <extra>`` for the block."""
    command = [sys.executable, "-m", "minisamp", "hub", "--lockfile", str(lockfile), *extra]
    process = start_hub_process(command, lockfile)
    try:
        yield HubProcess(lockfile, process)
    finally:
        _stop(process)


_CLIENT_SCRIPT = r"""
import sys, minisamp
client = minisamp.Client("child", lockfile=sys.argv[1])
client.connect()

def got(message):
    print("GOT", message.mtype, message.msg_id or "-", flush=True)
    return minisamp.REPLY_LATER

for mtype in sys.argv[2:]:
    client.on(mtype, got)
print("ID", client.get_public_id(), flush=True)
sys.stdin.read()  # until the test closes our stdin
client.close()
"""


@dataclass
class ClientProcess:
    """A minisamp client in a child process; ``lines`` gets what it prints."""

    id: str
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def expect(self, prefix: str, timeout: float = 10.0) -> str:
        """The next line it prints, which must start with *prefix*."""
        line = self.lines.get(timeout=timeout)
        assert line.startswith(prefix), line
        return line

    def kill(self) -> None:
        """SIGKILL: the client dies without unregistering."""
        _stop(self.process, signal.SIGKILL)


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))


@contextlib.contextmanager
def client_process(lock_url: str, *mtypes: str) -> Iterator[ClientProcess]:
    """A child-process client on the hub at *lock_url*, subscribed to *mtypes*."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", _CLIENT_SCRIPT, lock_url, *mtypes],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(process, lines), name="child-stdout", daemon=True)
    pump.start()
    try:
        first = lines.get(timeout=30)
        assert first.startswith("ID "), first
        yield ClientProcess(first.split()[1], process, lines)
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        _stop(process)
        pump.join(5)
