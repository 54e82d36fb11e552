"""The far side's process: ``ssh DEST python3 -m minisamp bridge --stdio``, or any command.

:func:`far_argv` builds the command line; :class:`FarProcess` runs it with pipes,
keeps the last lines of its stderr, and, when it ends before the bridge protocol
started, :func:`diagnose` turns what it said into one line saying what to do.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import shlex
import subprocess
import threading
from typing import BinaryIO

from ..errors import BridgeError
from .framing import skip_to_magic

__all__ = ["DEFAULT_REMOTE", "FarProcess", "diagnose", "far_argv"]

logger = logging.getLogger(__name__)

DEFAULT_REMOTE = "python3 -m minisamp bridge --stdio"
#: ssh options: no terminal, no X11 or agent forwarding, notice a dead link in ~45 s.
SSH_OPTIONS = ["-T", "-x", "-a", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]


def far_argv(
    dest: str | None, via: str | None = None, remote_command: str | None = None
) -> list[str]:
    """The command that runs the far side: *via* (default ``ssh DEST``) + the remote command.

    A one-word *remote_command* is the Python to use (a venv's ``bin/python``).
    """
    remote = shlex.split(remote_command) if remote_command else shlex.split(DEFAULT_REMOTE)
    if len(remote) == 1:
        remote += shlex.split(DEFAULT_REMOTE)[1:]
    if via:
        return shlex.split(via) + remote
    if not dest:
        raise BridgeError("say where the far side is: minisamp bridge user@host (or --via CMD)")
    return ["ssh", *SSH_OPTIONS, dest, *remote]


def diagnose(where: str, argv: list[str], returncode: int | None, stderr: list[str]) -> str:
    """One line on why the far side ended before the bridge started."""
    text = "\n".join(stderr)
    last = stderr[-1].strip() if stderr else "(nothing on stderr)"
    if "No module named minisamp" in text or "No module named 'minisamp'" in text:
        return f"minisamp is not installed on {where}: pip install minisamp there"
    if "invalid choice: 'bridge'" in text or "unrecognized arguments: --stdio" in text:
        return f"minisamp on {where} is too old for the bridge: pip install -U minisamp there"
    if returncode == 127 or "command not found" in text or "No such file or directory" in text:
        return (
            f"{last} on {where}: install Python 3 and minisamp there, or give "
            "--remote-command the path of a python that has minisamp"
        )
    if argv and argv[0] == "ssh" and returncode == 255:
        return f"ssh to {where} failed: {last}"
    return f"the far side ({shlex.join(argv)}) ended with code {returncode}: {last}"


class FarProcess:
    """The far side's command, running, with its stdin and stdout as the bridge's stream."""

    def __init__(self, argv: list[str], where: str) -> None:
        self.argv, self.where = argv, where
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise BridgeError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        self._thread = threading.Thread(
            target=self._read_stderr, name="minisamp-bridge-stderr", daemon=True
        )
        self._thread.start()

    @property
    def stdout(self) -> BinaryIO:
        assert self.process.stdout is not None
        return self.process.stdout  # type: ignore[return-value]

    @property
    def stdin(self) -> BinaryIO:
        assert self.process.stdin is not None
        return self.process.stdin  # type: ignore[return-value]

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            logger.info("far side: %s", line)

    def wait_for_start(self) -> None:
        """Read up to the far side's magic; BridgeError saying why if it never comes."""
        preamble = skip_to_magic(self.stdout)
        if preamble is not None:
            if preamble.strip():
                logger.info("far side printed before starting: %r", preamble[-200:])
            return
        try:
            code: int | None = self.process.wait(10.0)
        except subprocess.TimeoutExpired:
            code = None
        self._thread.join(5.0)
        raise BridgeError(diagnose(self.where, self.argv, code, list(self._stderr)))

    def stop(self, timeout: float = 5.0) -> None:
        """Close its stdin (the far side then exits), terminate it if it lingers, reap it."""
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        with contextlib.suppress(OSError, ValueError):
            self.stdout.close()
        self._thread.join(timeout)
