"""SIGTERM while the command line sends a table, and what dead processes leave in TMPDIR.

``minisamp send`` of a CSV file writes a private VOTable (``minisamp-<pid>-*/``) and
waits for the recipient's answer; a SIGTERM then (a service manager stopping it, a
``timeout`` wrapper) must clean up as Ctrl-C does: the file removed, the client
unregistered.  A process killed outright (SIGKILL) cannot, so the next run removes
what it left.  Measured: the files left in TMPDIR, the clients left on the hub.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from samp_raw import RawClient

from minisamp.hub import Hub
from minisamp.lockfile import file_url_to_path

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def setting(tmp_path: Path) -> Iterator[tuple[RawClient, dict[str, str]]]:
    """A hub, a recipient that never answers tables, and the environment of a CLI run."""
    pytest.importorskip("astropy")
    (tmp_path / "tmp").mkdir()
    with Hub(tmp_path / "lock") as hub:
        sink = RawClient(hub, subscriptions={"table.load.votable": {}}, auto_reply=False)
        sink.hub("declareMetadata", {"samp.name": "sink"})
        env = {
            **os.environ,
            "SAMP_HUB": f"std-lockurl:{hub.lockfile.as_uri()}",
            "TMPDIR": str(tmp_path / "tmp"),
        }
        try:
            yield sink, env
        finally:
            sink.close()


def send_csv(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    command = [sys.executable, "-m", "minisamp", "send", str(csv), "--to", "sink"]
    return subprocess.Popen(command, env=env, text=True, stderr=subprocess.PIPE)


def left_in(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("minisamp-*/**/*")) + sorted(tmp.glob("minisamp-*"))


def test_sigterm_during_send_removes_the_table_and_unregisters(
    setting: tuple[RawClient, dict[str, str]], tmp_path: Path
) -> None:
    sink, env = setting
    sender = send_csv(tmp_path, env)
    try:
        _sender_id, _msg_id, message = sink.next_of("receiveCall", timeout=60)
        written = file_url_to_path(message["samp.params"]["url"])
        assert written.is_file() and written.is_relative_to(tmp_path / "tmp")
        sender.send_signal(signal.SIGTERM)
        assert sender.wait(30) == 130  # as for Ctrl-C
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(10)
    assert left_in(tmp_path / "tmp") == []
    assert sink.hub("getRegisteredClients") == ["hub"]


def test_the_next_run_removes_what_a_killed_process_left(
    setting: tuple[RawClient, dict[str, str]], tmp_path: Path
) -> None:
    sink, env = setting
    tmp = tmp_path / "tmp"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp / f"minisamp-{dead_pid}-abcd1234"
    live = tmp / f"minisamp-{os.getpid()}-efgh5678"  # ours: this process is alive
    for directory in (stale, live):
        directory.mkdir(mode=0o700)
        (directory / "table-1.xml").write_text("<VOTABLE/>")
        old = time.time() - 3600
        os.utime(directory, (old, old))
    sender = send_csv(tmp_path, env)
    try:
        sink.next_of("receiveCall", timeout=60)
    finally:
        sender.send_signal(signal.SIGTERM)
        sender.wait(30)
    assert not stale.exists()
    assert (live / "table-1.xml").is_file()
