"""Security properties: loopback only, private files, unguessable keys that never reach a log.

SAMP's Standard Profile security rests on the lockfile being private and the keys
being unguessable (SAMP 1.3 §4.2 security); these tests check what a user would check
with ``ss``, ``ls -l``, a statistics textbook and ``grep`` on the logs.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import os
import secrets
import socket
import stat
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clientutil import Arrival, connected
from conftest import wait_for_hub

import minisamp
from minisamp import Client, ReceivedMessage, SAMPProxyError, SAMPWarning
from minisamp.hub import Hub
from minisamp.hub.service import HubService
from minisamp.lockfile import file_url_to_path, read_lockfile

pytestmark = pytest.mark.timeout(60)


# -- loopback only --------------------------------------------------------------------------


def _other_addresses() -> list[str]:
    """Addresses of this machine a socket bound to 127.0.0.1 must not answer on."""
    addresses = ["127.0.0.2"]  # Linux routes all of 127/8 to lo, so this one always exists
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
        address = udp.getsockname()[0]
        if not address.startswith("127."):
            addresses.append(address)
    return addresses


def assert_loopback_only(url: str) -> None:
    """*url* is served on 127.0.0.1 and on no other address of this machine."""
    parts = url.split("/")[2].rsplit(":", 1)
    host, port = parts[0], int(parts[1])
    assert host == "127.0.0.1"
    with socket.create_connection((host, port), timeout=5):
        pass
    for address in _other_addresses():
        with (
            socket.socket() as sock,
            pytest.raises(OSError),  # refused (or unreachable): nothing listens there
        ):
            sock.settimeout(2)
            sock.connect((address, port))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with Hub(tmp_path / "lockfile", web_profile=True, web_port=0) as running:
        yield running


def test_hub_serves_loopback_only(hub: Hub) -> None:
    assert_loopback_only(hub.url)


def test_web_profile_serves_loopback_only(hub: Hub) -> None:
    assert hub.web_url is not None
    assert_loopback_only(hub.web_url)


def test_client_callback_server_serves_loopback_only(hub: Hub) -> None:
    with Client("x", lockfile=hub.lock_url) as client:
        assert client._server is not None
        assert_loopback_only(client._server.url)
        url = hub.service.client(client.get_private_key()).callback_url
        assert url == client._server.url  # the URL the hub was given


def test_command_line_hub_serves_loopback_only_with_a_private_lockfile(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    process = subprocess.Popen(
        [sys.executable, "-m", "minisamp", "hub", "--lockfile", str(lockfile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        umask=0,  # even a careless umask gets a private lockfile
    )
    try:
        wait_for_hub(lockfile, alive=lambda: process.poll() is None)
        assert stat.S_IMODE(lockfile.stat().st_mode) == 0o600
        info = read_lockfile(lockfile.as_uri())
        assert info is not None
        assert_loopback_only(info.xmlrpc_url)
    finally:
        process.terminate()
        process.wait(10)


def test_a_second_server_cannot_take_a_live_port(hub: Hub) -> None:
    port = int(hub.url.split(":")[2].split("/")[0])
    with pytest.raises(minisamp.SAMPHubError, match=f"cannot listen on 127.0.0.1:{port}"):
        Hub(hub.lockfile.with_name("other"), port=port).start()


# -- private files --------------------------------------------------------------------------


def test_hub_warns_about_a_world_writable_lockfile_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.warns(SAMPWarning, match="writable by everyone"), Hub(shared / "lockfile"):
        pass


def test_hub_does_not_warn_about_a_sticky_world_writable_directory(tmp_path: Path) -> None:
    shared = tmp_path / "tmp-like"
    shared.mkdir()
    shared.chmod(0o1777)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Hub(shared / "lockfile") as running:
            assert stat.S_IMODE(running.lockfile.stat().st_mode) == 0o600


def _dead_hub_lockfile(path: Path) -> None:
    """A lockfile left by a hub that died: its port refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    path.write_text(f"samp.secret=old\nsamp.hub.xmlrpc.url=http://127.0.0.1:{port}/xmlrpc\n")
    path.chmod(0o600)


def test_a_planted_temp_file_symlink_neither_stops_the_hub_nor_redirects_it(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "lockfile"
    _dead_hub_lockfile(lock)
    victim = tmp_path / "victim"  # where the attacker wants our lockfile text to go
    planted = tmp_path / f"lockfile.{os.getpid()}.tmp"  # the old, predictable temp name
    planted.symlink_to(victim)
    with Hub(lock) as running:  # the old hub stopped at once: "[Errno 17] File exists"
        info = read_lockfile(lock.as_uri())
        assert info is not None and info.secret == running.secret
        assert not lock.is_symlink() and stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert not victim.exists() and planted.is_symlink()
    assert [p.name for p in tmp_path.glob("lockfile.*.tmp")] == [planted.name]  # no leftovers


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_a_lockfile_of_another_user_is_warned_about(tmp_path: Path) -> None:
    lock = tmp_path / "lockfile"
    _dead_hub_lockfile(lock)
    os.chown(lock, 65534, 65534)  # nobody's
    with pytest.warns(SAMPWarning, match="another user"):
        read_lockfile(lock.as_uri())
    with pytest.warns(SAMPWarning, match="another user"), Hub(lock):
        pass


def test_hub_with_a_careless_umask_still_writes_a_private_lockfile(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with Hub(tmp_path / "lockfile") as running:
            assert stat.S_IMODE(running.lockfile.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TMPDIR for the test: whatever is left in it afterwards was leaked."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_sent_tables_are_private_and_removed_on_every_way_out(
    hub: Hub, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pytest.importorskip(
        "astropy.table", reason="astropy is not installed (pip install astropy)"
    ).Table({"a": [1, 2, 3]})
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{hub.lock_url}")
    seen: list[Path] = []

    def load(message: ReceivedMessage) -> dict[str, Any]:
        path = file_url_to_path(str(message.params["url"]))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.parent.parent == private_tmp
        seen.append(path)
        return {}

    with connected("TOPCAT") as topcat, connected("Aladin") as aladin:
        topcat.on("table.load.votable", load)
        aladin.on("table.load.votable", load)
        with minisamp.connection() as conn:
            minisamp.send_table_to(conn, table, client_name="TOPCAT")
            minisamp.send_table_to(conn, table)  # broadcast: both
        assert len(seen) == 3 and os.listdir(private_tmp) == []
        with pytest.raises(RuntimeError), minisamp.connection() as conn:
            minisamp.send_table_to(conn, table, client_name="Aladin")
            raise RuntimeError("the user's script fails")
        assert len(seen) == 4 and os.listdir(private_tmp) == []


# -- unguessable keys -----------------------------------------------------------------------


@pytest.fixture
def issued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the ``secrets`` module hands out during the test."""
    tokens: list[str] = []
    for name in ("token_hex", "token_urlsafe"):
        real: Callable[..., str] = getattr(secrets, name)

        def recording(*args: Any, _real: Callable[..., str] = real) -> str:
            token = _real(*args)
            tokens.append(token)
            return token

        monkeypatch.setattr(secrets, name, recording)
    return tokens


def _hex_part(key: str) -> str:
    return key.rpartition(":")[2]


def assert_random_hex(tokens: list[str], bits: int = 128) -> None:
    """Each token is ≥ *bits* of hex, all differ, and their digits look uniform."""
    assert len(set(tokens)) == len(tokens)
    digits = "".join(tokens)
    assert all(len(t) * 4 >= bits for t in tokens)
    assert set(digits) <= set("0123456789abcdef")
    counts = collections.Counter(digits)
    expected = len(digits) / 16
    chi2 = sum((counts[d] - expected) ** 2 / expected for d in "0123456789abcdef")
    assert chi2 < 50, f"hex digits far from uniform (chi² = {chi2:.0f}, 15 degrees of freedom)"


def test_hub_secret_comes_from_secrets_with_128_bits(issued: list[str]) -> None:
    hubs = [Hub(Path("/nonexistent/lockfile")) for _ in range(64)]  # not started
    secrets_ = [hub.secret for hub in hubs]
    assert all(s in issued for s in secrets_)
    assert_random_hex(secrets_)


def test_private_keys_come_from_secrets_with_128_bits(issued: list[str]) -> None:
    service = HubService("s3cret", lambda *args: None)
    keys = [str(service.register("s3cret")["samp.private-key"]) for _ in range(200)]
    assert all(_hex_part(k) in issued for k in keys)
    assert_random_hex([_hex_part(k) for k in keys] + [_hex_part(service.hub.private_key)])


def test_private_keys_of_web_clients_come_from_secrets(hub: Hub, issued: list[str]) -> None:
    reg = hub.service.register("", profile="web")
    assert _hex_part(str(reg["samp.private-key"])) in issued
    assert_random_hex([_hex_part(str(reg["samp.private-key"]))])


# -- keys never logged ----------------------------------------------------------------------


@contextlib.contextmanager
def captured_logs(level: int) -> Iterator[io.StringIO]:
    """Everything every ``minisamp.*`` logger says at *level* and above."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setLevel(level)
    root = logging.getLogger("minisamp")
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield text
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def samp_session(hub: Hub) -> list[str]:
    """Register, declare, notify, call (three ways), reply, misbehave, unregister.

    Returns every secret the session used: the hub's secret and the private keys.
    """
    from minisamp.xmlrpc.transport import XmlRpcProxy

    opts = {"lockfile": hub.lock_url}
    with connected("alice", **opts) as alice, connected("bob", **opts) as bob:
        got = Arrival[ReceivedMessage]()
        bob.on("test.note", got.put)
        bob.on("test.echo", lambda m: {"x": m.params["x"]})
        bob_id = bob.get_public_id()
        alice.notify(bob_id, {"samp.mtype": "test.note", "samp.params": {}})
        got.get()
        assert alice.request(bob_id, "test.echo", {"x": "1"}) == {"x": "1"}
        assert alice.ecall_and_wait(bob_id, "test.echo", "10", x="2")["samp.result"] == {"x": "2"}
        alice.ecall(bob_id, "tag", "test.echo", x="3")
        alice.notify_all({"samp.mtype": "test.note", "samp.params": {}})
        with pytest.raises(SAMPProxyError):
            alice.reply("no-such-msg-id", {"samp.status": "samp.ok", "samp.result": {}})
        assert bob._server is not None
        proxy = XmlRpcProxy(bob._server.url, timeout=5)
        with pytest.raises(SAMPProxyError):  # an impostor with alice's key
            proxy.call("samp.client.receiveNotification", alice.get_private_key(), "x", {})
        proxy.close()
        proxy = XmlRpcProxy(hub.url, timeout=5)
        with pytest.raises(SAMPProxyError):
            proxy.call("samp.hub.register", hub.secret + "x")
        with pytest.raises(SAMPProxyError):
            proxy.call("samp.hub.getRegisteredClients", alice.get_private_key() + "x")
        proxy.close()
        return [hub.secret, alice.get_private_key(), bob.get_private_key()]


def assert_no_secret_in(text: str, used: list[str]) -> None:
    assert text.strip(), "nothing was logged: the capture did not work"
    for value in used:
        assert value not in text
        assert _hex_part(value) not in text
        assert _hex_part(value)[:16] not in text  # not even half of one


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG], ids=["INFO", "DEBUG"])
def test_keys_and_secret_never_appear_in_the_logs(tmp_path: Path, level: int) -> None:
    with captured_logs(level) as text, Hub(tmp_path / "lockfile") as hub:
        used = samp_session(hub)
    assert_no_secret_in(text.getvalue(), used)


def test_keys_and_secret_never_appear_in_the_debug_output_of_the_command_line_hub(
    tmp_path: Path,
) -> None:
    lockfile = tmp_path / "lockfile"
    process = subprocess.Popen(
        [sys.executable, "-m", "minisamp", "--debug", "hub", "--lockfile", str(lockfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_hub(lockfile, alive=lambda: process.poll() is None)
        info = read_lockfile(lockfile.as_uri())
        assert info is not None
        used = _session_against(lockfile, info.secret, info.xmlrpc_url)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert output.count('"POST /xmlrpc HTTP/1.1" 200') > 10  # the debug log saw the calls
    assert_no_secret_in(output, used)


def _session_against(lockfile: Path, secret: str, url: str) -> list[str]:
    opts = {"lockfile": lockfile.as_uri()}
    with connected("alice", **opts) as alice, connected("bob", **opts) as bob:
        bob.on("test.echo", lambda m: {})
        alice.request(bob.get_public_id(), "test.echo")
        alice.ecall_and_wait(bob.get_public_id(), "test.echo", "10")
        return [secret, alice.get_private_key(), bob.get_private_key()]
