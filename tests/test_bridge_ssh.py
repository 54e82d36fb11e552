"""The bridge over a real sshd, the far side a second Unix user with its own HOME.

What a user does: ``minisamp bridge`` on the desktop, unchanged pyvo.samp scripts on
the "cluster".  Here the cluster is the user ``sampfar`` on this machine, reached by
``ssh`` through an sshd on 127.0.0.1 (``tests/sshfar.py`` sets both up, as root); it
cannot read our files, nor we (but as root, for checking) its, so every URL must cross.
Skipped, saying why, when not root or sshd is missing.
"""

from __future__ import annotations

import hashlib
import io
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bridgeutil import absent, call_in_background, peak_rss_kib, wait_named
from clientutil import connected, wait_for_directory
from conftest import RunningHub, stop_process
from sshfar import USER, VOTABLE_WRITER, Sshd, missing_reason, setup_far_user

from minisamp import Bridge, ReceivedMessage

pytestmark = [
    pytest.mark.timeout(300),
    # The tests (root) look at the far user's hub on purpose: that warning is expected here.
    pytest.mark.filterwarnings("ignore:the SAMP lockfile .* belongs to another user"),
]


@dataclass
class FarMachine:
    home: Path
    sshd: Sshd

    @property
    def python(self) -> str:
        return str(self.home / "venv/bin/python")

    @property
    def lock_url(self) -> str:
        return (self.home / ".samp").as_uri()

    def bridge(self, **kwargs: Any) -> Bridge:
        return Bridge(via=self.sshd.via, remote_command=self.python, **kwargs)

    def bridge_command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "minisamp", "bridge", "--via", self.sshd.via, *extra]

    def script(self, code: str) -> subprocess.Popen[str]:
        """Run Python *code* as the far user, in its HOME, with its venv."""
        command = ["runuser", "-u", USER, "--", "env", "-i", f"HOME={self.home}"]
        command += ["PATH=/usr/bin:/bin", self.python, "-c", textwrap.dedent(code)]
        return subprocess.Popen(
            command,
            cwd=self.home,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="session")
def far_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarMachine]:
    reason = missing_reason()
    if reason:
        pytest.skip(f"real-sshd bridge tests: {reason}")
    home = setup_far_user()
    sshd = Sshd(tmp_path_factory.mktemp("sshd"), home)
    try:
        yield FarMachine(home, sshd)
    finally:
        sshd.stop()


def finish(process: subprocess.Popen[str], timeout: float = 120) -> str:
    """Wait for a far script; its stdout (its stderr in the failure message)."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"far script failed ({process.returncode}):\n{err}"
    return out


def received(
    client: Any, mtype: str
) -> tuple[list[ReceivedMessage], list[str | None], threading.Event]:
    """Record *mtype* messages to *client*, and their senders' names (as seen then)."""
    got: list[ReceivedMessage] = []
    names: list[str | None] = []
    arrived = threading.Event()

    def handler(msg: ReceivedMessage) -> None:
        info = client.clients.get(msg.sender_id)
        # The hub's metadata event may come after the message (JSAMP sends them on separate
        # threads): then ask the hub, as an application would.
        name = info.name if info is not None and info.name else None
        names.append(name or client.get_metadata(msg.sender_id).get("samp.name"))
        got.append(msg)
        arrived.set()

    client.on(mtype, handler)
    return got, names, arrived


SEND_TABLE = """
    import numpy as np
    import pyvo.samp
    from astropy.table import Table

    table = Table({"a": np.arange(5), "b": np.arange(5) * 0.5})
    with pyvo.samp.connection(client_name="my analysis") as conn:
        pyvo.samp.send_table_to(conn, table, client_name="desktop viewer", name="five rows")
    print("sent")
"""


@pytest.mark.parametrize("near_hub", ["jsamp", "minisamp"])
def test_unchanged_pyvo_script_there_sends_a_table_to_a_desktop_client_by_name(
    far_machine: FarMachine, samp_hub_factory: Callable[[str], RunningHub], near_hub: str
) -> None:
    from astropy.io.votable import parse_single_table

    samp_hub_factory(near_hub)
    with far_machine.bridge(), connected("desktop viewer") as viewer:
        messages, names, arrived = received(viewer, "table.load.votable")
        with connected("watcher", lockfile=far_machine.lock_url) as there:
            wait_named(there, "desktop viewer", "table.load.votable")
        assert finish(far_machine.script(SEND_TABLE)).strip() == "sent"
        assert arrived.wait(60)
        params = messages[0].params
        assert names == ["my analysis"]
        assert params["name"] == "five rows"
        url = str(params["url"])
        assert url.startswith("http://127.0.0.1:"), url
        # pyvo removed its temporary file when the script ended: the URL still works
        with urllib.request.urlopen(url, timeout=60) as reply:
            table = parse_single_table(io.BytesIO(reply.read())).to_table()
        assert list(table["a"]) == [0, 1, 2, 3, 4] and list(table["b"]) == [0, 0.5, 1, 1.5, 2]


RECEIVE_TABLE = """
    import io, threading, urllib.request
    import pyvo.samp
    from astropy.io.votable import parse_single_table

    done, out = threading.Event(), {}
    client = pyvo.samp.SAMPIntegratedClient(name="my analysis")
    client.connect()

    def load(private_key, sender_id, msg_id, mtype, params, extra):
        with urllib.request.urlopen(params["url"], timeout=60) as reply:
            table = parse_single_table(io.BytesIO(reply.read())).to_table()
        out["text"] = f"{len(table)} {table['x'].sum()} {params['url']}"
        client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})
        done.set()

    client.bind_receive_call("table.load.votable", load)
    print("ready", flush=True)
    done.wait(120)
    client.disconnect()
    print(out["text"], flush=True)
"""


@pytest.mark.parametrize("near_hub", ["jsamp", "minisamp"])
def test_a_desktop_table_reaches_an_unchanged_pyvo_script_there(
    far_machine: FarMachine, samp_hub_factory: Callable[[str], RunningHub], near_hub: str
) -> None:
    from astropy.table import Table

    import minisamp

    samp_hub_factory(near_hub)
    with far_machine.bridge():
        script = far_machine.script(RECEIVE_TABLE)
        assert script.stdout is not None and script.stdout.readline().strip() == "ready"
        with connected("probe") as probe:
            wait_named(probe, "my analysis", "table.load.votable")
        with minisamp.connection(client_name="desktop") as conn:
            table = Table({"x": list(range(7))})
            delivery = minisamp.send_table_to(conn, table, client_name="my analysis")
            assert delivery is not None
        rows, total, url = finish(script).split()
    assert (rows, total) == ("7", "21")
    assert url.startswith("http://127.0.0.1:")  # served on the far side's loopback


BIG_SENDER = """
import hashlib, os, sys, pyvo.samp

path = os.path.expanduser("~/big.vot")
write_votable(path, {rows})
digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
with pyvo.samp.connection(client_name="my analysis") as conn:
    conn.bind_receive_call("test.never", lambda *args: print("called", flush=True))
    target = pyvo.samp.find_client_id(conn, "desktop viewer")
    message = {{"samp.mtype": "table.load.votable",
                "samp.params": {{"url": "file://" + path, "name": "big"}}}}
    {send}
    print(digest, flush=True)
    {wait}
"""


def big_sender(rows: int, send: str, wait: str = "") -> str:
    """A pyvo script there: write a table of *rows* rows, *send* it, print its digest."""
    return VOTABLE_WRITER + BIG_SENDER.format(rows=rows, send=send, wait=wait)


def _stream(url: str, sink: Callable[[bytes], None], chunk: int = 1 << 20) -> None:
    with urllib.request.urlopen(url, timeout=120) as reply:
        while data := reply.read(chunk):
            sink(data)


def test_a_large_table_crosses_with_bounded_memory(
    far_machine: FarMachine, samp_hub_factory: Callable[[str], RunningHub]
) -> None:
    rows = int(os.environ.get("MINISAMP_BRIDGE_TEST_ROWS", "1000000"))
    samp_hub_factory("minisamp")
    near = subprocess.Popen(
        far_machine.bridge_command("--remote-command", far_machine.python),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert near.stdout is not None
        assert "bridge to" in near.stdout.readline()  # linked: the far hub runs
        with connected("desktop viewer") as viewer:
            messages, _, arrived = received(viewer, "table.load.votable")
            with connected("watcher", lockfile=far_machine.lock_url) as there:
                wait_named(there, "desktop viewer", "table.load.votable", timeout=120)
            far_pid = _far_bridge_pid()
            before = peak_rss_kib(near.pid), peak_rss_kib(far_pid)
            code = big_sender(rows, 'conn.call_and_wait(target, message, "120"); os.remove(path)')
            digest = finish(far_machine.script(code), timeout=240).split()[0]
            assert arrived.wait(60)
            sha = hashlib.sha256()
            size = [0]

            def sink(data: bytes) -> None:
                sha.update(data)
                size[0] += len(data)

            _stream(str(messages[0].params["url"]), sink)
            assert sha.hexdigest() == digest
            after = peak_rss_kib(near.pid), peak_rss_kib(far_pid)
        grew = [(a - b) // 1024 for a, b in zip(after, before, strict=True)]
        print(f"{rows} rows, {size[0] / 1e6:.1f} MB; peak memory grew {grew} MB (near, far)")
        assert all(g < 40 for g in grew), f"{size[0] >> 20} MiB crossed; memory grew {grew} MiB"
        far_exit = os.pidfd_open(far_pid)
        near.send_signal(signal.SIGINT)  # Ctrl-C: both ends stop
        assert near.wait(60) == 130
        assert select.select([far_exit], [], [], 60)[0], "the far side outlived the bridge"
        os.close(far_exit)
    finally:
        stop_process(near, signal.SIGINT)


def _far_bridge_pid() -> int:
    """The far side's bridge process (run by sshd as the far user): to read its memory."""
    out = subprocess.run(
        ["pgrep", "-n", "-u", USER, "-f", "minisamp bridge --stdio"], capture_output=True, text=True
    )
    assert out.returncode == 0, "no far-side bridge process found"
    return int(out.stdout.split()[0])


def test_ssh_killed_mid_transfer_unlinks_both_hubs_and_fails_pending_calls(
    far_machine: FarMachine, samp_hub_factory: Callable[[str], RunningHub]
) -> None:
    samp_hub_factory("minisamp")
    far_hub = far_machine.script(
        "import sys, minisamp; hub = minisamp.Hub().start(); print('up', flush=True); "
        "sys.stdin.read(); hub.stop()"
    )
    lines: list[str] = []
    script = None
    try:
        assert far_hub.stdout is not None and far_hub.stdout.readline().strip() == "up"
        bridge = far_machine.bridge(report=lines.append).start()
        with connected("desktop viewer") as viewer:
            messages, _, arrived = received(viewer, "table.load.votable")
            code = big_sender(
                200_000,
                "conn.notify(target, message)",
                "sys.stdin.read(); os.remove(path)",
            )
            script = far_machine.script(code)
            assert arrived.wait(120)
            far_id = wait_named(viewer, "my analysis", "test.never")
            call, pending = call_in_background(viewer, far_id, "test.never", 240)
            assert script.stdout is not None
            assert "called" in script.stdout.readline() + script.stdout.readline()
            failed: list[BaseException] = []
            first_chunk = threading.Event()

            def slow_sink(data: bytes) -> None:
                first_chunk.set()
                threading.Event().wait(0.2)  # a slow reader: the link drops mid-transfer

            def read() -> None:
                try:
                    _stream(str(messages[0].params["url"]), slow_sink, chunk=64 * 1024)
                except Exception as exc:
                    failed.append(exc)

            reader = threading.Thread(target=read)
            reader.start()
            assert first_chunk.wait(60)
            pid = bridge.far_pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the ssh process
            reader.join(120)
            call.join(120)
            assert not reader.is_alive(), "the transfer hung"
            assert failed, "the transfer was cut, yet the reader saw no error"
            assert not call.is_alive(), "the pending call hung"
            assert pending[0]["samp.status"] == "samp.error"
            wait_for_directory(viewer, absent("my analysis"), 60)
            with connected("watcher", lockfile=far_machine.lock_url) as there:
                wait_for_directory(there, absent("desktop viewer"), 60)
                wait_for_directory(there, absent("minisamp bridge"), 60)
        assert bridge.wait(60)
        bridge.stop()
        assert any("lost" in line for line in lines), lines
    finally:
        for process in (script, far_hub):
            if process is not None:
                stop_process(process)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("remote", "says"),
    [
        (
            "/usr/bin/python3",
            "minisamp is not installed on sampfar@127.0.0.1: pip install minisamp",
        ),
        ("/opt/no/python", "/opt/no/python"),
    ],
)
def test_far_side_missing_gives_one_clear_line(
    far_machine: FarMachine, tmp_path: Path, remote: str, says: str
) -> None:
    out = subprocess.run(
        far_machine.bridge_command("--remote-command", remote),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], out.stderr


TO_TOPCAT = """
import time
import numpy as np
import pyvo.samp
from astropy.table import Table

table = Table({"ra": np.linspace(10, 11, 20), "dec": np.linspace(41, 42, 20)})
with pyvo.samp.connection(client_name="my analysis") as conn:
    topcat = pyvo.samp.find_client_id(conn, "topcat")
    with pyvo.samp.accessible_table(table) as url:
        load = {"samp.mtype": "table.load.votable",
                "samp.params": {"url": url, "name": "from the cluster"}}
        print(conn.call_and_wait(topcat, load, "60")["samp.status"], flush=True)
        highlight = {"samp.mtype": "table.highlight.row", "samp.params": {"url": url, "row": "3"}}
        for _ in range(120):  # TOPCAT says ok to a load a moment before the table is usable
            status = conn.call_and_wait(topcat, highlight, "30")["samp.status"]
            if status == "samp.ok":
                break
            time.sleep(0.25)
        print(status, flush=True)
"""


def test_topcat_here_loads_a_table_from_a_pyvo_script_there(
    far_machine: FarMachine,
    samp_hub_factory: Callable[[str], RunningHub],
    desktop: Callable[..., Any],
) -> None:
    samp_hub_factory("jsamp")
    desktop("topcat")
    with far_machine.bridge():
        with connected("watcher", lockfile=far_machine.lock_url) as there:
            wait_named(there, "topcat", "table.highlight.row")
        loaded, highlighted = finish(far_machine.script(TO_TOPCAT), timeout=240).split()
    assert (loaded, highlighted) == ("samp.ok", "samp.ok")
