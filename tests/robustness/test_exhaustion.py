"""Exhaustion without the secret: idle connections, and XML that costs more than it weighs.

Each attack comes from outside, over loopback, against a hub (or a client) in its own
process, and measures what the attacker gains: whether a new client can still
connect and whether a second hub steals the lockfile, or how much the victim's peak
memory (``VmHWM`` in ``/proc``) grows per byte sent.  Bodies are a few MB, so that
the memory tests stay cheap on a shared machine.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from clientutil import connected
from hostile import call_body, post
from procutil import hub_process
from test_lockfile import silent_port

from minisamp import Client, HubNotFoundError, SAMPHubError
from minisamp.hub import Hub
from minisamp.lockfile import LockInfo, claim_lockfile, read_lockfile
from minisamp.xmlrpc.server import XmlRpcServer

pytestmark = pytest.mark.timeout(180)
__all__ = ["silent_port"]  # a fixture, shared with test_lockfile

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)"
)


class Target:
    """Where hostile bodies go: an XML-RPC endpoint, and the process behind it."""

    def __init__(self, url: str, pid: int) -> None:
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.address = (parts.hostname, parts.port)
        self.path = parts.path
        self.pid = pid

    def peak_memory(self) -> int:
        """The process's peak resident memory so far, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc")


def growth(target: Target, bodies: list[bytes]) -> int:
    """How much *target*'s peak memory grows while it is sent *bodies*, all at once;
    each must be refused with a fault (HTTP 200) or a 503."""
    before = target.peak_memory()
    statuses: list[int] = []

    def send(body: bytes) -> None:
        statuses.append(post(target, body, timeout=120)[0])

    senders = [threading.Thread(target=send, args=(body,), name="attacker") for body in bodies]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(150)
    assert statuses and set(statuses) <= {200, 503}
    return target.peak_memory() - before


def nested_unknown(levels: int) -> bytes:
    """``<z><z>…</z></z>`` before the method name: elements XML-RPC does not define."""
    return (
        b"<?xml version='1.0'?><methodCall>"
        + b"<z>" * levels
        + b"</z>" * levels
        + b"<methodName>samp.hub.ping</methodName><params/></methodCall>"
    )


def attribute_bomb(count: int) -> bytes:
    """One start tag with *count* attributes (expat builds them all before any handler)."""
    attributes = b" ".join(b"a%d=''" % i for i in range(count))
    return (
        b"<?xml version='1.0'?><methodCall><methodName " + attributes + b">samp.hub.ping"
        b"</methodName><params/></methodCall>"
    )


@pytest.fixture
def hub_target(tmp_path: Path) -> Iterator[Target]:
    with hub_process(tmp_path / "lock") as hub:
        yield Target(hub.url, hub.process.pid)


_CLIENT = r"""
import sys, minisamp
client = minisamp.Client("victim", lockfile=sys.argv[1])
client.connect()
print(client._server.url, flush=True)
sys.stdin.read()
client.close()
"""


@pytest.fixture
def client_target(hub_target: Target, tmp_path: Path) -> Iterator[Target]:
    process = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, str(tmp_path / "lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield Target(url, process.pid)
    finally:
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


MB = 1_000_000


# -- XML amplification (item 4) ---------------------------------------------------------------


@needs_proc
def test_nested_unknown_elements_cost_the_hub_little(hub_target: Target) -> None:
    body = nested_unknown(600_000)  # 4.2 MB; the old hub grew some 20 bytes per byte
    assert len(body) > 4 * MB
    assert growth(hub_target, [body] * 4) < 2.5 * 4 * len(body)


@needs_proc
def test_nested_unknown_elements_cost_a_client_little(client_target: Target) -> None:
    body = nested_unknown(600_000)
    assert growth(client_target, [body] * 2) < 2.5 * 2 * len(body)


@needs_proc
def test_an_attribute_bomb_costs_the_hub_little(hub_target: Target) -> None:
    body = attribute_bomb(450_000)  # 4.8 MB in one start tag
    assert len(body) > 4 * MB
    assert growth(hub_target, [body]) < 3 * len(body)


def test_nested_unknown_elements_are_refused_with_a_fault(hub_target: Target) -> None:
    status, reply = post(hub_target, nested_unknown(10))
    assert status == 200 and b"unknown XML-RPC element" in reply


_SERVER = r"""
import sys
from minisamp.xmlrpc.server import XmlRpcServer
server = XmlRpcServer(lambda method, params, client: "", max_body=5_000_000)
server.start()
print(server.url, flush=True)
sys.stdin.read()
server.close()
"""


@needs_proc
def test_large_bodies_are_parsed_a_budget_at_a_time() -> None:
    # Well-formed SAMP data costs some 6 bytes per byte while parsed; four 4.25 MB bodies
    # at once to a server with max_body=5 MB are parsed one at a time, not together.
    strings = b"<value>ab</value>" * 250_000
    body = call_body(f"<array><data>{strings.decode()}</data></array>")
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        target = Target(process.stdout.readline().strip(), process.pid)
        # was +88 to +100 MB (5.2 to 5.9 bytes per byte sent); now some +40 MB
        assert growth(target, [body] * 4) < 3.5 * 4 * len(body)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(20)


def test_a_dribbled_large_body_is_dropped_at_its_deadline() -> None:
    # One byte every 0.1 s never trips the 1 s idle timeout between bytes; the body as a
    # whole must still arrive within it, or the connection (and its budget) is dropped.
    server = XmlRpcServer(lambda *_: "", max_body=4 * MB, idle_timeout=1)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=10) as sock:
            sock.sendall(
                b"POST /xmlrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n"
            )
            started = time.monotonic()
            while time.monotonic() - started < 15:
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                if select.select([sock], [], [], 0.1)[0]:
                    break  # the server answered or closed: dropped
            held = time.monotonic() - started
        assert held < 8  # the old server let it hold its thread for ever
        body = call_body("<string>" + "x" * 1_500_000 + "</string>")
        assert post(server, body)[0] == 200  # the budget is free again
    finally:
        server.close()


# -- idle connections at the cap (item 3) -----------------------------------------------------


def test_idle_connections_at_the_cap_do_not_lock_new_clients_out(tmp_path: Path) -> None:
    with hub_process(tmp_path / "lock") as hub, contextlib.ExitStack() as idle:
        address = Target(hub.url, hub.process.pid).address
        for _ in range(530):  # the hub serves at most 512 connections at once
            idle.enter_context(socket.create_connection(address, timeout=10))
        with connected("newcomer", lockfile=str(hub.lockfile), timeout=10) as client:
            assert client.get_metadata(client.get_public_id())["samp.name"] == "newcomer"
        with pytest.raises(SAMPHubError, match="already running"):
            Hub(hub.lockfile).start()  # the live hub's lockfile stays its own
        info = read_lockfile(hub.lockfile.as_uri())
        assert info is not None and info.xmlrpc_url == hub.url


@pytest.fixture
def closing_port() -> Iterator[int]:
    """A loopback port that accepts connections and closes each at once, unanswered (as a
    server at its connection cap may)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def refuse() -> None:
            with contextlib.suppress(OSError):
                while True:
                    listener.accept()[0].close()

        thread = threading.Thread(target=refuse, name="closing-port", daemon=True)
        thread.start()
        yield int(listener.getsockname()[1])
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
    thread.join(5)


@pytest.mark.parametrize("kind", ["silent", "closing"])
def test_a_hub_that_does_not_answer_but_accepts_is_never_called_dead(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    port = request.getfixturevalue(f"{kind}_port")
    lock = tmp_path / "lock"
    url = f"http://127.0.0.1:{port}/xmlrpc"
    claim_lockfile(lock, LockInfo("s3cret", url))
    with pytest.raises(SAMPHubError) as info:
        Client("x", lockfile=str(lock), timeout=2).connect()
    assert not isinstance(info.value, HubNotFoundError)
    assert "died" not in str(info.value)
    with pytest.raises(SAMPHubError, match="already running"):
        claim_lockfile(lock, LockInfo("other", "http://127.0.0.1:9/xmlrpc"), ping_timeout=0.5)
    kept = read_lockfile(lock.as_uri())
    assert kept is not None and kept.secret == "s3cret"
