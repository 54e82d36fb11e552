"""The bridge with a far side on this machine (``--via env …``, no SSH): fast coverage.

Two processes, two hubs, two HOMEs: the near hub in this process, the far side a
subprocess that starts its own hub, as it would on a cluster.  The same behaviour over
a real sshd and a second Unix user is in ``test_bridge_ssh.py``.
"""

from __future__ import annotations

import io
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from bridgeutil import (
    FarSide,
    absent,
    bridge_kwargs,
    call_in_background,
    local_far_side,
    named,
    wait_named,
)
from clientutil import connected, wait_for_directory
from conftest import RunningHub

from minisamp import REPLY_LATER, Bridge, ClientInfo, ReceivedMessage
from minisamp.bridge.framing import (
    CONTROL,
    DATA,
    MAGIC,
    decode_control,
    encode_control,
    encode_frame,
    read_frame,
    skip_to_magic,
)
from minisamp.errors import BridgeError, PeerProtocolError

pytestmark = pytest.mark.timeout(180)

VOTABLE = b'<?xml version="1.0"?>\n<VOTABLE version="1.4"><RESOURCE><TABLE>' + (
    b'<FIELD name="a" datatype="int"/><DATA><TABLEDATA><TR><TD>1</TD></TR>'
    b"</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>\n"
)


@pytest.fixture
def linked(
    tmp_path: Path, samp_hub_factory: Callable[[str], RunningHub]
) -> Iterator[tuple[FarSide, Bridge, list[str]]]:
    samp_hub_factory("minisamp")
    far = local_far_side(tmp_path)
    lines: list[str] = []
    bridge = Bridge(**bridge_kwargs(far), report=lines.append).start()  # type: ignore[arg-type]
    try:
        yield far, bridge, lines
    finally:
        bridge.stop()


def test_frames_round_trip_after_a_login_banner() -> None:
    stream = io.BytesIO(
        b"Welcome to the cluster\n"
        + MAGIC
        + encode_control({"op": "hello", "n": 1})
        + encode_frame(DATA, 7, b"abc")
    )
    assert skip_to_magic(stream) == b"Welcome to the cluster\n"
    kind, stream_id, payload = read_frame(stream) or (None, None, b"")
    assert (kind, stream_id, decode_control(payload)) == (CONTROL, 0, {"op": "hello", "n": 1})
    assert read_frame(stream) == (DATA, 7, b"abc")
    assert read_frame(stream) is None


def test_a_frame_cut_short_is_a_protocol_error() -> None:
    with pytest.raises(PeerProtocolError, match="ended inside a frame"):
        read_frame(io.BytesIO(encode_frame(DATA, 1, b"abcdef")[:-2]))


def test_import_minisamp_loads_the_bridge_only_when_asked() -> None:
    code = (
        "import sys, minisamp; assert 'minisamp.bridge' not in sys.modules; "
        "b = minisamp.Bridge; assert b.__module__.startswith('minisamp.bridge'); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_far_client_appears_here_by_name_with_its_subscriptions_kept_in_step(
    linked: tuple[FarSide, Bridge, list[str]],
) -> None:
    far, bridge, lines = linked
    with connected("desktop") as near, connected("x", lockfile=far.lock_url) as remote:
        remote.declare_metadata({"samp.name": "my analysis", "samp.description.text": "fit"})
        remote.on("table.load.votable", lambda msg: None)
        proxy_id = wait_named(near, "my analysis", "table.load.votable")
        info = near.clients[proxy_id]
        assert info.metadata["bridge.host"] == socket.gethostname()
        assert "fit" in str(info.metadata["samp.description.text"])
        remote.on("image.load.fits", lambda msg: None)
        wait_for_directory(near, named("my analysis", "image.load.fits"), 60)
        assert "samp.hub.event.register" not in near.clients[proxy_id].subscriptions
        assert any("my analysis" in line for line in lines)
        wait_named(remote, "desktop")  # and the near client is on the far hub, by its name
        remote.close()
        wait_for_directory(near, absent("my analysis"), 60)
    assert bridge.linked


def test_another_bridges_proxies_are_not_echoed_back(
    linked: tuple[FarSide, Bridge, list[str]],
) -> None:
    far, _, _ = linked
    proxy_like = {"samp.name": "echo", "bridge.host": "elsewhere", "bridge.remote-id": "c9"}
    with (
        connected("echo", metadata=proxy_like),
        connected("after it") as later,
        connected("watcher", lockfile=far.lock_url) as there,
    ):
        later.on("test.x", lambda msg: None)
        wait_named(there, "after it", "test.x")  # announced in order: "echo" would be first
        assert all(info.name != "echo" for info in there.clients.values())


def test_calls_notifications_and_call_and_wait_cross_both_ways(
    linked: tuple[FarSide, Bridge, list[str]],
) -> None:
    far, _, _ = linked
    notified = threading.Event()
    senders: list[str] = []

    def echo(where: str) -> Callable[[ReceivedMessage], Any]:
        def handler(msg: ReceivedMessage) -> Any:
            if not msg.is_call:
                senders.append(msg.sender_id)
                notified.set()
                return None
            return {"where": where, "x": msg.params.get("x", "")}

        return handler

    with (
        connected("desktop") as near,
        connected("my analysis", lockfile=far.lock_url) as remote,
    ):
        near.on("test.echo", echo("near"))
        remote.on("test.echo", echo("far"))
        far_id = wait_named(near, "my analysis", "test.echo")
        near_id = wait_named(remote, "desktop", "test.echo")
        message = {"samp.mtype": "test.echo", "samp.params": {"x": "42"}}
        there = near.call_and_wait(far_id, message, 60)
        back = remote.call_and_wait(near_id, message, 60)
        assert there["samp.status"] == back["samp.status"] == "samp.ok"
        assert there["samp.result"] == {"where": "far", "x": "42"}
        assert back["samp.result"] == {"where": "near", "x": "42"}
        remote.notify(near_id, message)
        assert notified.wait(60)
        assert near.clients[senders[0]].name == "my analysis"


def test_status_says_who_is_linked_each_way(linked: tuple[FarSide, Bridge, list[str]]) -> None:
    far, _, _ = linked

    def status() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "minisamp", "bridge", "--status"]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    def shown(clients: Mapping[str, ClientInfo]) -> bool:
        return any(
            info.metadata.get("bridge.shown-here") == ["my analysis"]
            and info.metadata.get("bridge.shown-there") == ["desktop"]
            for info in clients.values()
        )

    with (
        connected("desktop") as near,
        connected("my analysis", lockfile=far.lock_url),
    ):
        wait_for_directory(near, shown, 60)
        out = status()
    assert out.returncode == 0, out.stderr
    assert "1 there (my analysis) shown here; 1 here (desktop) shown there" in out.stdout


def test_status_without_a_bridge_says_so(samp_hub_factory: Callable[[str], RunningHub]) -> None:
    samp_hub_factory("minisamp")
    command = [sys.executable, "-m", "minisamp", "bridge", "--status"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no bridge links this hub" in out.stdout


def test_a_broadcast_here_reaches_the_subscribed_clients_there(
    linked: tuple[FarSide, Bridge, list[str]],
) -> None:
    far, _, _ = linked
    got: list[ReceivedMessage] = []
    arrived = threading.Event()

    def record(msg: ReceivedMessage) -> None:
        got.append(msg)
        arrived.set()

    with (
        connected("desktop") as near,
        connected("my analysis", lockfile=far.lock_url) as remote,
    ):
        remote.on("coord.pointAt.sky", record)
        wait_named(near, "my analysis", "coord.pointAt.sky")
        near_id = wait_named(remote, "desktop")
        point = {"samp.mtype": "coord.pointAt.sky", "samp.params": {"ra": "10.68", "dec": "41.27"}}
        near.notify_all(point)
        assert arrived.wait(60)
    assert got[0].params == {"ra": "10.68", "dec": "41.27"} and got[0].sender_id == near_id


def test_a_file_url_crosses_as_a_token_url_served_after_the_file_is_deleted(
    linked: tuple[FarSide, Bridge, list[str]],
) -> None:
    far, _, _ = linked
    table = far.home / "t.vot"
    table.write_bytes(VOTABLE)
    received: list[ReceivedMessage] = []
    highlighted: list[ReceivedMessage] = []
    with (
        connected("desktop") as near,
        connected("my analysis", lockfile=far.lock_url) as remote,
    ):
        near.on("table.load.votable", received.append)
        remote.on("table.highlight.row", highlighted.append)
        near_id = wait_named(remote, "desktop", "table.load.votable")
        far_id = wait_named(near, "my analysis", "table.highlight.row")
        params = {"url": table.as_uri(), "table-id": table.as_uri(), "name": "t"}
        load = {"samp.mtype": "table.load.votable", "samp.params": params}
        assert remote.call_and_wait(near_id, load, 60)["samp.status"] == "samp.ok"
        table.unlink()  # as pyvo's send_table_to does once its call returns
        url = str(received[0].params["url"])
        assert url.startswith("http://127.0.0.1:") and str(far.home) not in url
        assert received[0].params["table-id"] == url  # one URL, one token
        with urllib.request.urlopen(url, timeout=60) as reply:
            assert reply.read() == VOTABLE
        # named again once deleted (a table-id, a highlight by URL): the same token
        assert remote.call_and_wait(near_id, load, 60)["samp.status"] == "samp.ok"
        assert received[1].params["url"] == url
        # the table-id comes back as the far client knows it
        row = {"samp.mtype": "table.highlight.row", "samp.params": {"table-id": url, "row": "0"}}
        assert near.call_and_wait(far_id, row, 60)["samp.status"] == "samp.ok"
        assert highlighted[0].params["table-id"] == table.as_uri()


def test_only_urls_that_crossed_are_served(linked: tuple[FarSide, Bridge, list[str]]) -> None:
    far, _, _ = linked
    (far.home / "t.vot").write_bytes(VOTABLE)
    got: list[str] = []
    with (
        connected("desktop") as near,
        connected("my analysis", lockfile=far.lock_url) as remote,
    ):
        near.on("test.url", lambda msg: got.append(str(msg.params["url"])))
        near_id = wait_named(remote, "desktop", "test.url")
        for path in (far.home / "t.vot", far.home / "missing.vot"):
            message = {"samp.mtype": "test.url", "samp.params": {"url": path.as_uri()}}
            remote.call_and_wait(near_id, message, 60)
    served, missing = got
    assert missing == (far.home / "missing.vot").as_uri()  # nothing to open: left alone
    with urllib.request.urlopen(served, timeout=60) as reply:
        assert reply.read() == VOTABLE
    port = served.split("/")[2]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://{port}/{'A' * 32}/t.vot", timeout=60)
    assert info.value.code == 404
    info.value.close()


def test_a_dropped_link_unregisters_proxies_and_fails_pending_calls(
    linked: tuple[FarSide, Bridge, list[str]],
) -> None:
    far, bridge, lines = linked
    with (
        connected("desktop") as near,
        connected("slow analysis", lockfile=far.lock_url) as remote,
    ):
        called = threading.Event()

        def never(msg: ReceivedMessage) -> object:
            called.set()
            return REPLY_LATER

        remote.on("test.never", never)
        far_id = wait_named(near, "slow analysis", "test.never")
        call, result = call_in_background(near, far_id, "test.never", 120)
        assert called.wait(60)  # the call crossed and waits for its reply
        pid = bridge.far_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        call.join(90)
        assert not call.is_alive(), "the pending call was not answered when the link dropped"
        assert result[0]["samp.status"] == "samp.error"
        assert "bridge" in str(result[0]["samp.error"])
        wait_for_directory(near, absent("slow analysis"), 60)
    assert bridge.wait(60)
    assert any("lost" in line for line in lines)


def test_far_side_without_minisamp_says_so_in_one_line(tmp_path: Path) -> None:
    far = local_far_side(tmp_path)
    command = [sys.executable, "-m", "minisamp", "bridge"]
    command += [
        "--via",
        f"env -u PYTHONPATH HOME={far.home}",
        "--remote-command",
        "/usr/bin/python3",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "minisamp is not installed on" in lines[0] and "pip install minisamp there" in lines[0]


def test_an_old_minisamp_there_says_to_upgrade(tmp_path: Path) -> None:
    far = local_far_side(tmp_path)
    old = "minisamp: error: argument COMMAND: invalid choice: 'bridge'"
    with pytest.raises(BridgeError, match=r"too old for the bridge: pip install -U minisamp"):
        Bridge(
            via=far.via, remote_command=f"sh -c {shlex.quote(f'echo {old!r} >&2; exit 2')}"
        ).start()


def test_reconnect_links_again_after_the_far_side_dies(
    tmp_path: Path, samp_hub_factory: Callable[[str], RunningHub]
) -> None:
    samp_hub_factory("minisamp")
    far = local_far_side(tmp_path)
    relinked = threading.Event()
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        if any("reconnecting" in earlier for earlier in lines) and line.startswith("bridge to"):
            relinked.set()

    with Bridge(**bridge_kwargs(far), reconnect=True, report=report) as bridge:  # type: ignore[arg-type]
        first = bridge.far_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert relinked.wait(120), lines
        assert bridge.linked and bridge.far_pid not in (None, first)
        with connected("after", lockfile=far.lock_url), connected("desktop") as near:
            wait_named(near, "after")


def test_bridge_without_a_destination_is_a_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "minisamp", "bridge"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "user@host" in out.stderr
