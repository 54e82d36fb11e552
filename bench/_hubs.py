"""Start the three hubs under comparison, each in its own process, isolated and on loopback.

:func:`running_hub` starts minisamp's, pyvo.samp's or JSAMP's hub with its own
lockfile (``SAMP_HUB=std-lockurl:file://<dir>/lockfile``) and ``HOME=<dir>``, waits
until the lockfile is complete and ``samp.hub.ping`` answers, and stops the hub by its
PID when the ``with`` block ends (or fails).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from minisamp.lockfile import parse_lockfile
from minisamp.xmlrpc.transport import XmlRpcProxy

from ._common import PYVO, PYVO_MISSING, BenchError, child_env, spawn, wait_for

__all__ = ["HUBS", "JAVA_OPTIONS", "RunningHub", "available_hubs", "running_hub"]

#: Implementation names, in the order runs are interleaved.
HUBS = ("minisamp", "pyvo.samp", "JSAMP")
#: Passed to every JSAMP JVM: advertise loopback URLs, keep ~ out of it.
JAVA_OPTIONS = "-Djsamp.localhost=127.0.0.1 -Djava.awt.headless=true"
#: Seconds a hub may take to write its lockfile and answer ping.
START_TIMEOUT = 30.0


@dataclass
class RunningHub:
    """A started hub: its name, lockfile, XML-RPC URL, secret and client environment."""

    impl: str
    lockfile: Path
    url: str
    secret: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path

    def check_alive(self) -> None:
        """Raise BenchError (with the end of the hub's output) if its process has exited."""
        if self.proc.poll() is None:
            return
        tail = self.log.read_text(errors="replace")[-600:] if self.log.exists() else ""
        raise BenchError(
            f"the {self.impl} hub process exited with status {self.proc.returncode}; "
            f"its output ends: {tail!r}"
        )


def missing_reason(impl: str) -> str | None:
    """Why *impl*'s hub cannot run here, or None if it can."""
    if impl == PYVO and importlib.util.find_spec("pyvo") is None:
        return PYVO_MISSING
    if impl == "JSAMP" and (shutil.which("jsamp") is None or shutil.which("java") is None):
        return "JSAMP is not installed (apt-get install jsamp)"
    return None


def available_hubs(wanted: tuple[str, ...] = HUBS) -> tuple[list[str], list[str]]:
    """(hubs that can run, notes on the ones skipped)."""
    ok, notes = [], []
    for impl in wanted:
        reason = missing_reason(impl)
        if reason is None:
            ok.append(impl)
        else:
            notes.append(f"{impl} skipped: {reason}")
    return ok, notes


@functools.cache
def _minisamp_cli() -> bool:
    """True if ``python -m minisamp hub --lockfile PATH`` exists (else: bench's runner)."""
    if importlib.util.find_spec("minisamp.__main__") is None:
        return False
    try:
        result = subprocess.run(
            [sys.executable, "-m", "minisamp", "hub", "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and "--lockfile" in result.stdout


def _command(impl: str, lockfile: Path) -> list[str]:
    if impl == "minisamp":
        if _minisamp_cli():
            return [sys.executable, "-m", "minisamp", "hub", "--lockfile", str(lockfile)]
        return [sys.executable, "-m", "bench._hub_runner", "minisamp", str(lockfile)]
    if impl == "pyvo.samp":
        return [sys.executable, "-m", "bench._hub_runner", "pyvo", str(lockfile)]
    if impl == "JSAMP":
        return ["jsamp", "hub", "-mode", "no-gui", "-profiles", "std"]
    raise ValueError(f"unknown hub {impl!r}: choose from {', '.join(HUBS)}")


def _ready(lockfile: Path, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise BenchError(f"the hub exited with status {proc.returncode} before it was ready")
    try:
        info = parse_lockfile(lockfile.read_text("latin-1"))
    except Exception:  # absent, or still being written
        return False
    proxy = XmlRpcProxy(info.xmlrpc_url, timeout=2.0)
    try:
        proxy.call("samp.hub.ping")
    except Exception:
        return False
    finally:
        proxy.close()
    return True


@contextlib.contextmanager
def running_hub(impl: str, workdir: Path) -> Iterator[RunningHub]:
    """Run *impl*'s hub in *workdir* (its HOME and lockfile directory) for the block."""
    workdir.mkdir(parents=True, exist_ok=True)
    lockfile = workdir / "lockfile"
    env = child_env(
        workdir, {"SAMP_HUB": f"std-lockurl:{lockfile.as_uri()}", "JAVA_TOOL_OPTIONS": JAVA_OPTIONS}
    )
    log = workdir / "hub.log"
    with spawn(_command(impl, lockfile), env=env, log=log) as proc:
        try:
            wait_for(lambda: _ready(lockfile, proc), START_TIMEOUT, f"the {impl} hub to start")
        except BenchError as exc:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise BenchError(f"{exc}; its output ends:\n{tail}") from None
        info = parse_lockfile(lockfile.read_text("latin-1"))
        yield RunningHub(impl, lockfile, info.xmlrpc_url, info.secret, env, proc, log)
