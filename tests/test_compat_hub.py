"""pyvo's SAMPHubServer, backed by our hub: keywords, restart, mode="multiple", dialogs."""

from __future__ import annotations

import contextlib
import http.client
import os
import stat
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samp_raw import RawClient

import minisamp
from minisamp.errors import SAMPHubError, SAMPProxyError, SAMPWarning
from minisamp.hub import Hub
from minisamp.lockfile import running_hubs
from minisamp.xmlrpc.codec import dump_request, parse_response


def test_samp_hub_server_starts_serves_and_stops_like_pyvos(tmp_path: Path) -> None:
    hub = minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"), label="mine")
    hub.start()
    try:
        assert hub.is_running and hub.params["hub.label"] == "mine"
        client = minisamp.SAMPIntegratedClient("t")
        client.connect(hub_params=hub.params)
        assert "hub" in client.get_registered_clients()
        client.disconnect()
        with pytest.raises(SAMPHubError, match="already running"):
            hub.start()
    finally:
        hub.stop()
    assert not hub.is_running and not (tmp_path / "lock").exists()


def test_start_wait_blocks_until_stop(tmp_path: Path) -> None:
    hub = minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"))
    runner = threading.Thread(target=hub.start, kwargs={"wait": True})
    runner.start()
    deadline = time.monotonic() + 30
    while not hub.is_running:  # start(wait=True) gives no other sign that it is up
        assert runner.is_alive(), "start(wait=True) returned before the hub ran"
        assert time.monotonic() < deadline, "the hub did not start within 30 s"
        runner.join(0.01)
    assert runner.is_alive()
    hub.stop()
    runner.join(5)
    assert not runner.is_alive()


def test_unsupported_keywords_warn(tmp_path: Path) -> None:
    with pytest.warns(SAMPWarning, match="client_timeout"):
        minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"), client_timeout=10)


# -- restarting, mode="multiple", the Web Profile's dialog, conf.n_retries -----------


def test_a_stopped_hub_starts_again_with_a_new_lockfile(tmp_path: Path) -> None:
    lockfile = tmp_path / "lock"
    hub = minisamp.SAMPHubServer(lockfile=str(lockfile))
    hub.start()
    first_url = hub.params["samp.hub.xmlrpc.url"]
    hub.stop()
    assert not lockfile.exists()
    hub.start()
    try:
        assert hub.is_running and lockfile.exists()
        with minisamp.Client("again", hub_params=hub.params) as client:
            assert client.ping() is not None
        assert hub.params["hub.id"] == hub.id
    finally:
        hub.stop()
    assert first_url and not hub.is_running


def test_mode_multiple_writes_pyvos_private_lockfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAMP_HUB")
    home = Path(os.environ["HOME"])
    hub = minisamp.SAMPHubServer(mode="multiple")
    hub.start()
    try:
        lockfile = home / ".samp-1" / f"samp-hub-{hub.id}"
        assert lockfile.is_file() and not (home / ".samp").exists()
        assert stat.S_IMODE(lockfile.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(lockfile.stat().st_mode) == 0o600
        assert running_hubs() == {str(lockfile): hub.params}
    finally:
        hub.stop()
    assert not lockfile.exists() and running_hubs() == {}


def test_mode_multiple_yields_to_samp_hub_and_lockfile(tmp_path: Path) -> None:
    hub = minisamp.SAMPHubServer(mode="multiple", lockfile=str(tmp_path / "given"))
    hub.start()
    hub.stop()
    assert not (Path(os.environ["HOME"]) / ".samp-1").exists()


class Dialog(minisamp.WebProfileDialog):
    """A GUI dialog as pyvo's docs describe: polled by a timer, answered by the user."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.shown: list[tuple[Any, ...]] = []

    def show_dialog(self, samp_name: str, details: Any, client: Any, origin: str) -> None:
        self.shown.append((samp_name, details, client, origin))
        self.consent() if self.allow else self.reject()


@contextlib.contextmanager
def polled(dialog: Dialog) -> Iterator[None]:
    """Call ``dialog.handle_queue()`` every 10 ms, as a GUI timer would."""
    done = threading.Event()

    def timer() -> None:
        while not done.wait(0.01):
            dialog.handle_queue()

    thread = threading.Thread(target=timer, name="gui-timer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def web_register(hub: minisamp.SAMPHubServer, name: str) -> Any:
    url = hub.hub.web_url
    body = dump_request("samp.webhub.register", ({"samp.name": name},))
    headers = {"Content-Type": "text/xml", "Origin": "http://apps.example.org"}
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", parts.path or "/", body, headers)
        return parse_response(conn.getresponse().read())
    finally:
        conn.close()


@pytest.mark.parametrize("allow", [True, False])
def test_a_pyvo_web_profile_dialog_decides(tmp_path: Path, allow: bool) -> None:
    dialog = Dialog(allow)
    hub = minisamp.SAMPHubServer(
        lockfile=str(tmp_path / "lock"), web_profile=True, web_profile_dialog=dialog, web_port=0
    )
    hub.start()
    try:
        with polled(dialog):
            if allow:
                reg = web_register(hub, "My page")
                assert reg["samp.self-id"] and reg["samp.url-translator"]
            else:
                with pytest.raises(SAMPProxyError):
                    web_register(hub, "My page")
    finally:
        hub.stop()
    [(samp_name, details, client, origin)] = dialog.shown
    assert (samp_name, details["samp.name"], origin) == (
        "My page",
        "My page",
        "http://apps.example.org",
    )
    assert client[0] == "127.0.0.1"


class QueueDialog:
    """The bare protocol pyvo's docstring describes: no base class, just the two queues."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="queue-dialog", daemon=True)

    def _serve(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(Exception):  # queue.Empty until a page asks
                self.requests.append(self.queue_request.get(timeout=0.05))  # type: ignore[attr-defined]
                self.queue_result.put(True)  # type: ignore[attr-defined]


def test_a_duck_typed_dialog_and_a_plain_callable_are_accepted(tmp_path: Path) -> None:
    dialog = QueueDialog()
    hub = minisamp.SAMPHubServer(
        lockfile=str(tmp_path / "lock"), web_profile=True, web_profile_dialog=dialog, web_port=0
    )
    hub.start()
    dialog.thread.start()
    try:
        assert web_register(hub, "Queued page")["samp.self-id"]
    finally:
        dialog.done.set()
        dialog.thread.join(10)
        hub.stop()
    [(details, client, origin)] = dialog.requests
    assert details["samp.name"] == "Queued page" and client[0] == "127.0.0.1"
    assert origin == "http://apps.example.org"

    asked: list[str] = []
    hub = minisamp.SAMPHubServer(
        lockfile=str(tmp_path / "lock2"),
        web_profile=True,
        web_profile_dialog=lambda request: asked.append(request.name) or True,
        web_port=0,
    )
    hub.start()
    try:
        assert web_register(hub, "Called page")["samp.self-id"]
    finally:
        hub.stop()
    assert asked == ["Called page"]


def test_a_dialog_without_web_profile_warns_once(tmp_path: Path) -> None:
    from minisamp.compat import hub_server

    hub_server._warned.discard("web_profile")
    with pytest.warns(SAMPWarning, match="web_profile=True"):
        minisamp.SAMPHubServer(lockfile=str(tmp_path / "a"), web_profile_dialog=Dialog(True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minisamp.SAMPHubServer(lockfile=str(tmp_path / "b"), web_profile_dialog=Dialog(True))


class Flaky(RawClient):
    """A client that answers its first *faults* callbacks with a fault."""

    def __init__(self, hub: Hub, faults: int) -> None:
        self.faults = faults
        super().__init__(hub, subscriptions={"x.*": {}})

    def _dispatch(self, method: str, params: tuple[Any, ...], client: Any) -> str:
        if self.faults > 0:
            self.faults -= 1
            raise SAMPProxyError(1, "not now")
        return super()._dispatch(method, params, client)


@pytest.mark.parametrize("retries", [0, 3])
def test_conf_n_retries_is_honoured(tmp_path: Path, retries: int) -> None:
    with minisamp.conf.set_temp("n_retries", retries):
        hub = minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"))
        hub.start()
    try:
        flaky = Flaky(hub.hub, faults=2)
        sender = RawClient(hub.hub)
        for n in ("1", "2", "3"):
            sender.hub("notify", flaky.id, {"samp.mtype": "x.n", "samp.params": {"n": n}})
        _method, (_sender, message) = flaky.next(timeout=30)
        # Deliveries to one client keep their order: without retries "1" and "2" were
        # refused and dropped; with them, "1" got through on its third attempt.
        assert message["samp.params"]["n"] == ("1" if retries else "3")
        flaky.close()
        sender.close()
    finally:
        hub.stop()
