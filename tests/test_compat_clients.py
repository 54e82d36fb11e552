"""pyvo's low-level SAMPHubProxy and SAMPClient, the replier wrapper, safe parsing and the
typed-value helpers, on our hub."""

from __future__ import annotations

import socket
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samp_raw import RawClient

import minisamp
from minisamp import SAMPClientError, SAMPHubError
from minisamp.hub import Hub


@pytest.fixture
def hub(isolated_samp_env: Path) -> Iterator[Hub]:
    with Hub(isolated_samp_env) as running:
        yield running


@pytest.fixture
def proxy(hub: Hub) -> Iterator[minisamp.SAMPHubProxy]:
    proxy = minisamp.SAMPHubProxy()
    proxy.connect()
    yield proxy
    proxy.disconnect()


def test_hub_proxy_says_what_is_wrong_as_pyvo_does(hub: Hub, tmp_path: Path) -> None:
    proxy = minisamp.SAMPHubProxy()
    assert not proxy.is_connected and proxy.lockfile == {}
    with pytest.raises(SAMPHubError, match="not connected"):
        proxy.ping()
    with pytest.raises(ValueError, match="both"):
        proxy.connect(hub=hub, hub_params=hub.params)
    stopped = minisamp.SAMPHubServer(lockfile=str(tmp_path / "other"))
    with pytest.raises(SAMPHubError, match="Hub is not running"):
        proxy.connect(hub=stopped)
    proxy.connect(hub=hub)
    assert proxy.lockfile == hub.params
    proxy.disconnect()
    assert not proxy.is_connected


def test_hub_proxy_without_a_hub_raises_pyvos_error(isolated_samp_env: Path) -> None:
    with pytest.raises(SAMPHubError, match="Unable to find a running SAMP Hub"):
        minisamp.SAMPHubProxy().connect()


def test_hub_proxy_sends_maps_as_samp_strings(hub: Hub, proxy: minisamp.SAMPHubProxy) -> None:
    receiver = RawClient(hub, subscriptions={"x.*": {}})
    reg = proxy.register(proxy.lockfile["samp.secret"])
    assert isinstance(reg, dict)
    key = reg["samp.private-key"]
    try:
        message = {"samp.mtype": "x.typed", "samp.params": {"n": 3, "f": 2.5, "ok": True}}
        proxy.notify(key, receiver.id, message)
        _sender, got = receiver.next_of("receiveNotification", "x.typed", timeout=30)
        assert got["samp.params"] == {"n": "3", "f": "2.5", "ok": "1"}
    finally:
        proxy.unregister(key)
        receiver.close()


def test_samp_client_follows_pyvos_order_and_rules(proxy: minisamp.SAMPHubProxy) -> None:
    client = minisamp.SAMPClient(proxy, name="low", metadata={"x.v": "1"})
    assert client.get_private_key() is None and not client.is_registered
    client.start()
    client.register()
    with pytest.raises(SAMPClientError, match="already registered"):
        client.register()
    key = client.get_private_key()
    assert key is not None
    meta = proxy.get_metadata(key, client.get_public_id())
    assert isinstance(meta, dict) and meta["samp.name"] == "low"
    client.declare_metadata({"x.more": "2"})
    assert proxy.get_metadata(key, client.get_public_id())["x.more"] == "2"  # type: ignore[index]
    client.stop()  # pyvo would leave it registered with a dead callback
    assert not client.is_registered and not client.is_running
    client.register()  # registers afresh
    assert client.is_registered
    client.unregister()
    proxy.disconnect()
    with pytest.raises(SAMPClientError, match="Hub proxy not connected"):
        client.register()


def test_samp_client_of_a_disconnected_proxy_cannot_register() -> None:
    client = minisamp.SAMPClient(minisamp.SAMPHubProxy())
    with pytest.raises(SAMPClientError, match="Hub proxy not connected"):
        client.register()


@pytest.mark.parametrize("kind", ["integrated", "low-level"])
def test_replier_wrapper_replies_ok_and_error(
    hub: Hub, proxy: minisamp.SAMPHubProxy, kind: str
) -> None:
    if kind == "integrated":
        cli: Any = minisamp.SAMPIntegratedClient("replier")
        cli.connect()
    else:
        cli = minisamp.SAMPClient(proxy, name="replier")
        cli.register()

    @minisamp.SAMPMsgReplierWrapper(cli)
    def answer(key: str, sender: str, msg_id: str, mtype: str, params: Any, extra: Any) -> Any:
        if params.get("fail"):
            raise RuntimeError("asked to fail")
        return {"answer": "42"}

    cli.bind_receive_call("x.ask", answer)
    caller = minisamp.SAMPIntegratedClient("caller")
    caller.connect()
    try:
        target = cli.get_public_id()
        ok = caller.ecall_and_wait(target, "x.ask", "30")
        assert ok == {"samp.status": "samp.ok", "samp.result": {"answer": "42"}}
        error = caller.ecall_and_wait(target, "x.ask", "30", fail="1")
        assert error["samp.status"] == "samp.error"
        assert "asked to fail" in error["samp.error"]["samp.errortxt"]
        assert "Traceback" in error["samp.error"]["samp.debugtxt"]
    finally:
        caller.disconnect()
        cli.disconnect() if kind == "integrated" else cli.unregister()


def test_safe_xmlrpc_loads_reads_xmlrpc_and_refuses_entities() -> None:
    body = xmlrpc.client.dumps((1, "a", {"k": [True]}), "m")
    assert minisamp.safe_xmlrpc_loads(body) == ((1, "a", {"k": [True]}), "m")
    evil = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<methodCall><methodName>m</methodName><params><param><value>&e;</value></param>"
        "</params></methodCall>"
    )
    with pytest.raises(Exception, match="DTD"):
        minisamp.safe_xmlrpc_loads(evil)


def test_xxe_server_proxy_talks_to_a_hub(hub: Hub) -> None:
    with minisamp.SAMPXXEServerProxy(hub.url) as server:
        assert server.samp.hub.ping() == ""


def test_xxe_server_proxy_gives_up_on_a_silent_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from minisamp.compat import utils

    monkeypatch.setattr(utils, "SERVER_PROXY_TIMEOUT", 0.5)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with minisamp.SAMPXXEServerProxy(url) as server, pytest.raises(TimeoutError):
            server.samp.hub.ping()


@pytest.mark.parametrize(
    ("sent", "decoded"),
    [
        ({"n": "3", "x": "2.5", "b": "1"}, (3, 2.5, True)),  # SAMP strings (minisamp, JSAMP)
        ({"n": 3, "x": 2.5, "b": True}, (3, 2.5, True)),  # XML-RPC types (pyvo to pyvo)
    ],
)
def test_the_migration_recipe_reads_both_encodings(sent: dict[str, Any], decoded: Any) -> None:
    """docs/migrating.md: decode what arrives, and code works whoever sent it."""
    params = sent
    n = minisamp.decode_int(params["n"])
    x = minisamp.decode_float(params["x"])
    b = minisamp.decode_bool(params["b"])
    assert (n, x, b) == decoded
    assert (n + 1, type(x), type(b)) == (4, float, bool)
