"""Finding the hub, registering, declaring, closing: the client's life cycle."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from clientutil import connected
from conftest import RunningHub

from minisamp import (
    Client,
    ClientState,
    HubNotFoundError,
    SAMPClientError,
    SAMPHubError,
    SAMPIntegratedClient,
)
from minisamp.lockfile import read_lockfile

pytestmark = pytest.mark.timeout(60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_lockfile_says_no_hub_is_running() -> None:
    with pytest.raises(
        HubNotFoundError, match=r"no SAMP hub is running: start TOPCAT, or run `minisamp hub`"
    ):
        Client("x").connect()


def test_stale_lockfile_says_the_hub_died_and_names_the_file(isolated_samp_env: Path) -> None:
    isolated_samp_env.write_text(
        f"samp.secret=abc\nsamp.hub.xmlrpc.url=http://127.0.0.1:{_free_port()}/xmlrpc\n"
    )
    isolated_samp_env.chmod(0o600)
    with pytest.raises(HubNotFoundError, match="died") as info:
        Client("x").connect()
    assert str(isolated_samp_env) in str(info.value)


def test_bad_secret_says_so(any_hub: RunningHub, tmp_path: Path) -> None:
    fake = tmp_path / "fake-lock"
    fake.write_text(f"samp.secret=wrong\nsamp.hub.xmlrpc.url={any_hub.url}\n")
    fake.chmod(0o600)
    with pytest.raises(SAMPHubError, match="secret") as info:
        Client("x", lockfile=str(fake)).connect()
    assert not isinstance(info.value, HubNotFoundError)


def test_connects_with_metadata_and_default_subscriptions(any_hub: RunningHub) -> None:
    meta = {"samp.icon.url": "http://example.org/i.png", "samp.documentation.url": "http://x.org/"}
    with connected("alice", description="A test", metadata=meta) as alice, connected("bob") as bob:
        assert alice.state is ClientState.CALLABLE and alice.is_connected
        got = bob.get_metadata(alice.get_public_id())
        assert got == {"samp.name": "alice", "samp.description.text": "A test", **meta}
        subs = bob.get_subscriptions(alice.get_public_id())
        for mtype in ("samp.app.ping", "samp.hub.event.shutdown", "samp.hub.event.register"):
            assert mtype in subs
        assert alice.ping() is not None


@pytest.mark.parametrize("how", ["hub_params", "lockfile_path", "lockfile_url", "http_lockfile"])
def test_hub_can_be_named_explicitly(
    samp_hub_factory: Callable[[str], RunningHub],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    how: str,
) -> None:
    hub = samp_hub_factory("pyvo")
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:file://{tmp_path}/elsewhere")
    info = read_lockfile(hub.lock_url)
    assert info is not None
    if how == "hub_params":
        client = Client(
            "x", hub_params={"samp.secret": info.secret, "samp.hub.xmlrpc.url": info.xmlrpc_url}
        )
    elif how == "lockfile_path":
        client = Client("x", lockfile=str(hub.lockfile))
    elif how == "lockfile_url":
        client = Client("x", lockfile=hub.lock_url)
    else:
        client = Client("x", lockfile=_serve_once(hub.lockfile.read_bytes()))
    with client:
        assert client.is_connected


def _serve_once(body: bytes) -> str:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, name="test-lock-http", daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_address[1]}/lock"


def test_samp_hub_std_lockurl_is_honoured(any_hub: RunningHub) -> None:
    assert os.environ["SAMP_HUB"] == f"std-lockurl:{any_hub.lock_url}"
    with connected("x") as client:
        assert client.is_connected


def test_close_unregisters_and_is_safe_twice(any_hub: RunningHub) -> None:
    with connected("watcher") as watcher:
        client = Client("short-lived")
        client.connect()
        client_id = client.get_public_id()
        assert client_id in watcher.get_registered_clients()
        client.close()
        client.close()
        assert client.state is ClientState.CLOSED
        assert client_id not in watcher.get_registered_clients()
        with pytest.raises(SAMPClientError, match=r"closed.*connect"):
            client.notify_all({"samp.mtype": "samp.app.ping"})


def test_client_can_reconnect_after_close(any_hub: RunningHub) -> None:
    client = SAMPIntegratedClient(name="again")
    for _ in range(2):
        client.connect()
        assert client.is_connected
        client.disconnect()
        assert not client.is_connected


def test_send_only_client_starts_no_thread_and_still_unregisters(any_hub: RunningHub) -> None:
    with connected("watcher") as watcher:
        client = Client("sender", callable=False)
        client.connect()
        assert client.state is ClientState.REGISTERED
        mine = [t for t in threading.enumerate() if client.get_public_id() in t.name]
        assert mine == []
        assert client.request(watcher.get_public_id(), "samp.app.ping", timeout=5) == {}
        assert client.find_client_id("watcher") == watcher.get_public_id()
        with pytest.raises(SAMPClientError, match="not callable"):
            client.bind_receive_call("a.b", lambda *a: None)
        with pytest.raises(SAMPClientError, match="not callable"):
            client.call_async(watcher.get_public_id(), "samp.app.ping")
        client_id = client.get_public_id()
        client.disconnect()
        assert client_id not in watcher.get_registered_clients()


def test_state_errors_name_the_state() -> None:
    with pytest.raises(SAMPClientError, match=r"unregistered.*connect"):
        Client("x").get_registered_clients()


def test_handlers_bound_before_connect_are_declared(any_hub: RunningHub) -> None:
    client = Client("early")
    client.on("test.early", lambda m: {})
    with client, connected("watcher") as watcher:
        assert "test.early" in watcher.get_subscriptions(client.get_public_id())


def test_unclosed_client_unregisters_at_exit(any_hub: RunningHub) -> None:
    script = "import minisamp; c = minisamp.Client('leaver'); c.connect(); print(c.get_public_id())"
    with connected("watcher") as watcher:
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=45, check=True
        )
        assert result.stdout.strip()
        assert result.stdout.strip() not in watcher.get_registered_clients()


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
@pytest.mark.timeout(60)  # ~4 s
@pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count open files (Linux)"
)
def test_connect_close_cycles_leave_nothing_behind(
    samp_hub_factory: Callable[[str], RunningHub],
) -> None:
    import shutil

    samp_hub_factory("jsamp" if shutil.which("jsamp") else "minisamp")
    import gc

    with connected("warm-up"):  # first use imports and caches: not a leak
        pass
    gc.collect()  # files earlier tests left to the garbage collector close now, not mid-count
    threads, fds = threading.active_count(), _fd_count()
    for i in range(200):
        with connected(f"cycle-{i}") as client:
            assert client.state is ClientState.CALLABLE
    gc.collect()
    assert threading.active_count() == threads, threading.enumerate()
    assert _fd_count() == fds
