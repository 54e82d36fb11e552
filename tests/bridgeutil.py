"""Helpers for the bridge tests: a far side on this machine, clients that wait for names.

:func:`local_far_side` makes a "far machine" out of a private HOME and lockfile: the
bridge's far side runs there as a subprocess (``--via env HOME=… SAMP_HUB=…``), so the
two ends are two processes with two hubs, as over SSH, minus SSH.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clientutil import wait_for_directory

from minisamp import Client, ClientInfo

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class FarSide:
    """A far side on this machine: its HOME and its lockfile."""

    home: Path

    @property
    def lockfile(self) -> Path:
        return self.home / ".samp"

    @property
    def lock_url(self) -> str:
        return self.lockfile.as_uri()

    @property
    def via(self) -> str:
        env = {"HOME": str(self.home), "SAMP_HUB": f"std-lockurl:{self.lock_url}"}
        env["PYTHONPATH"] = str(ROOT)
        return "env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())

    def client(self, name: str, **kwargs: object) -> Client:
        """A client of the far hub (not connected yet)."""
        return Client(name, lockfile=self.lock_url, **kwargs)  # type: ignore[arg-type]


def local_far_side(tmp_path: Path) -> FarSide:
    home = tmp_path / "far-home"
    home.mkdir(mode=0o700)
    return FarSide(home)


def bridge_kwargs(far: FarSide) -> dict[str, object]:
    """Keywords for :class:`minisamp.Bridge` to reach *far* (this Python, this source)."""
    return {"via": far.via, "remote_command": sys.executable}


def named(name: str, mtype: str | None = None) -> Callable[[Mapping[str, ClientInfo]], bool]:
    """A directory predicate: a client called *name* (subscribed to *mtype*) is there."""

    def check(clients: Mapping[str, ClientInfo]) -> bool:
        return any(
            info.name == name and (mtype is None or mtype in info.subscriptions)
            for info in clients.values()
        )

    return check


def absent(name: str) -> Callable[[Mapping[str, ClientInfo]], bool]:
    return lambda clients: all(info.name != name for info in clients.values())


def wait_named(client: Client, name: str, mtype: str | None = None, timeout: float = 60) -> str:
    """Wait for the client called *name* (subscribed to *mtype*); its id."""
    wait_for_directory(client, named(name, mtype), timeout)
    return client.find_client_id(name)


def pids_of(process_id: int) -> list[int]:
    """*process_id* and its children (from /proc), for reading their memory."""
    children = Path(f"/proc/{process_id}/task/{process_id}/children")
    found = [process_id]
    if children.exists():
        for child in children.read_text().split():
            found += pids_of(int(child))
    return found


def peak_rss_kib(process_id: int) -> int:
    """The peak resident memory (VmHWM) of a process, KiB."""
    for line in Path(f"/proc/{process_id}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {process_id}")


def environ_without_samp() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SAMP_HUB"}


def call_in_background(
    client: Client, recipient: str, mtype: str, timeout: float
) -> tuple[threading.Thread, list[dict[str, Any]]]:
    """``call_and_wait`` on a started thread; its response lands in the list."""
    responses: list[dict[str, Any]] = []
    message = {"samp.mtype": mtype, "samp.params": {}}
    thread = threading.Thread(
        target=lambda: responses.append(client.call_and_wait(recipient, message, timeout)),
        name="test-call-and-wait",
        daemon=True,
    )
    thread.start()
    return thread, responses
