"""Shared fixtures: an isolated SAMP environment for every test, and real hubs of each kind.

* ``isolated_samp_env`` (autouse): ``HOME`` and ``SAMP_HUB`` point into the test's
  temp dir, so no test ever sees or touches the real ``~/.samp``.
* ``samp_hub_factory``: ``start(kind)`` runs a hub of that kind on the isolated
  lockfile and stops it at teardown.  ``HUB_KINDS`` maps kind → starter; adding a
  kind is one function and one line.
* ``any_hub``: one hub, parametrized over every kind available here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from desktop import desktop, xvfb_display  # noqa: F401  (fixtures for the desktop apps)
from needs import missing_reason

from minisamp.lockfile import is_hub_alive, read_lockfile


@dataclass
class RunningHub:
    """A hub a test started: where its lockfile is, and how to stop (or kill) it."""

    kind: str
    lockfile: Path
    stop: Callable[[], None]
    kill: Callable[[], None] | None = None  # SIGKILL, for hubs in another process
    handle: object = field(default=None, repr=False)

    @property
    def lock_url(self) -> str:
        return self.lockfile.as_uri()

    @property
    def url(self) -> str:
        info = read_lockfile(self.lock_url)
        assert info is not None
        return info.xmlrpc_url


def wait_for_hub(
    lockfile: Path, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True
) -> None:
    """Wait until *lockfile* names a hub that answers ping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert alive(), "the hub process exited during start-up"
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # JSAMP chmods its lockfile just after writing it
            info = read_lockfile(lockfile.as_uri())
            if info is not None and is_hub_alive(info.xmlrpc_url, timeout=1.0):
                return
        time.sleep(0.05)  # polling a file another process writes: there is no event
    raise TimeoutError(f"no hub answered at {lockfile} within {timeout} s")


def stop_process(
    process: subprocess.Popen[str], sig: int = signal.SIGTERM, grace: float = 15.0
) -> None:
    """Send *sig* to *process* (if it still runs), SIGKILL it after *grace* s, reap it."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def start_hub_process(
    command: list[str], lockfile: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Run the hub *command* (which writes *lockfile*) until it answers ping.

    Its output is discarded; a hub that exits or never answers is SIGKILLed, then the
    error raised.
    """
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        wait_for_hub(lockfile, alive=lambda: process.poll() is None)
    except BaseException:
        stop_process(process, signal.SIGKILL)
        raise
    return process


def start_pyvo_hub(lockfile: Path) -> RunningHub:
    """pyvo's SAMPHubServer in this process (SAMP_HUB must name the same lockfile)."""
    from pyvo.samp import SAMPHubServer

    hub = SAMPHubServer(web_profile=False, lockfile=str(lockfile), addr="127.0.0.1")
    hub.start()
    return RunningHub("pyvo", lockfile, hub.stop, handle=hub)


def start_jsamp_hub(lockfile: Path) -> RunningHub:
    """JSAMP's hub as a subprocess (``jsamp hub -mode no-gui -profiles std``)."""
    missing = missing_reason("jsamp")
    if missing is not None:
        pytest.skip(missing)
    env = {**os.environ, "SAMP_HUB": f"std-lockurl:{lockfile.as_uri()}"}
    command = ["jsamp", "hub", "-mode", "no-gui", "-profiles", "std"]
    process = start_hub_process(command, lockfile, env)
    return RunningHub(
        "jsamp",
        lockfile,
        lambda: stop_process(process),
        lambda: stop_process(process, signal.SIGKILL),
        handle=process,
    )


def start_minisamp_hub(lockfile: Path) -> RunningHub:
    """minisamp's own Hub in this process."""
    from minisamp.hub import Hub

    hub = Hub(lockfile=lockfile)
    hub.start()
    return RunningHub("minisamp", lockfile, hub.stop, handle=hub)


HUB_KINDS: dict[str, Callable[[Path], RunningHub]] = {
    "pyvo": start_pyvo_hub,
    "jsamp": start_jsamp_hub,
    "minisamp": start_minisamp_hub,
}


@pytest.fixture(autouse=True)
def isolated_samp_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and SAMP_HUB into the test's temp dir; returns the lockfile path."""
    home = tmp_path / "home"
    home.mkdir()
    lockfile = tmp_path / "samp-lockfile"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lockfile.as_uri()}")
    with contextlib.suppress(ImportError):
        from pyvo.samp import conf

        monkeypatch.setattr(conf, "use_internet", False)  # no google.com probe
    return lockfile


@pytest.fixture
def samp_hub_factory(isolated_samp_env: Path) -> Iterator[Callable[[str], RunningHub]]:
    """``start(kind)`` runs a hub of *kind* on the test's lockfile; stopped at teardown."""
    started: list[RunningHub] = []

    def start(kind: str) -> RunningHub:
        hub = HUB_KINDS[kind](isolated_samp_env)
        started.append(hub)
        return hub

    yield start
    for hub in reversed(started):
        hub.stop()


@pytest.fixture(params=sorted(HUB_KINDS))
def any_hub(
    request: pytest.FixtureRequest, samp_hub_factory: Callable[[str], RunningHub]
) -> RunningHub:
    """A running hub of each kind in turn."""
    return samp_hub_factory(request.param)
