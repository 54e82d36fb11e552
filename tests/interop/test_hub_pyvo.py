"""pyvo.samp's clients (another SAMP lineage) talking to each other through our hub."""

from __future__ import annotations

import queue
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minisamp.hub import Hub

pytestmark = pytest.mark.interop
pyvo_samp = pytest.importorskip("pyvo.samp", reason="pyvo is not installed (pip install pyvo)")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("HOME", str(tmp_path))
    with Hub(tmp_path / "lockfile") as running:
        monkeypatch.setenv("SAMP_HUB", running.environ["SAMP_HUB"])
        yield running


class Receiver:
    """A pyvo client that records what it gets and replies to calls."""

    def __init__(self, name: str) -> None:
        self.client = pyvo_samp.SAMPIntegratedClient(name=name, addr="127.0.0.1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.client.connect()
        self.got: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()
        self.responses: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()
        self.client.bind_receive_notification("test.*", self._notified)
        self.client.bind_receive_call("test.*", self._called)

    def _notified(
        self, key: str, sender: str, mtype: str, params: dict[str, Any], extra: Any
    ) -> None:
        self.got.put(("notify", sender, params))

    def _called(
        self, key: str, sender: str, msg_id: str, mtype: str, params: dict[str, Any], extra: Any
    ) -> None:
        self.got.put(("call", sender, params))
        self.client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {"echo": params["x"]}})

    def record_response(self, key: str, responder: str, tag: str, response: dict[str, Any]) -> None:
        self.responses.put((responder, tag, response))


@pytest.fixture
def pair(hub: Hub) -> Iterator[tuple[Receiver, Receiver]]:
    a, b = Receiver("pyvo-a"), Receiver("pyvo-b")
    yield a, b
    a.client.disconnect()
    b.client.disconnect()


def test_pyvo_clients_see_each_others_metadata_and_subscriptions(
    pair: tuple[Receiver, Receiver],
) -> None:
    a, b = pair
    b_id = b.client.get_public_id()
    assert b_id in a.client.get_registered_clients()
    assert a.client.get_metadata(b_id)["samp.name"] == "pyvo-b"
    assert "test.*" in a.client.get_subscriptions(b_id)
    assert b_id in a.client.get_subscribed_clients("test.thing")


def test_pyvo_notify_and_notify_all(pair: tuple[Receiver, Receiver]) -> None:
    a, b = pair
    a.client.enotify(b.client.get_public_id(), "test.thing", x="1")
    assert b.got.get(timeout=5) == ("notify", a.client.get_public_id(), {"x": "1"})
    assert a.client.enotify_all("test.thing", x="2") == [b.client.get_public_id()]
    assert b.got.get(timeout=5)[2] == {"x": "2"}


def test_pyvo_call_gets_its_response(pair: tuple[Receiver, Receiver]) -> None:
    a, b = pair
    a.client.bind_receive_response("tag-1", a.record_response)
    a.client.ecall(b.client.get_public_id(), "tag-1", "test.thing", x="3")
    responder, tag, response = a.responses.get(timeout=5)
    assert (responder, tag) == (b.client.get_public_id(), "tag-1")
    assert response["samp.result"] == {"echo": "3"}


def test_pyvo_call_all_reaches_the_other_client(pair: tuple[Receiver, Receiver]) -> None:
    a, b = pair
    a.client.bind_receive_response("tag-2", a.record_response)
    ids = a.client.call_all("tag-2", {"samp.mtype": "test.thing", "samp.params": {"x": "4"}})
    assert list(ids) == [b.client.get_public_id()]
    assert a.responses.get(timeout=5)[2]["samp.result"] == {"echo": "4"}


def test_pyvo_call_and_wait_both_ways(pair: tuple[Receiver, Receiver]) -> None:
    a, b = pair
    for sender, receiver in ((a, b), (b, a)):
        response = sender.client.ecall_and_wait(
            receiver.client.get_public_id(), "test.thing", "5", x="6"
        )
        assert response["samp.result"] == {"echo": "6"}


def test_pyvo_pings_our_hub(pair: tuple[Receiver, Receiver]) -> None:
    a, _ = pair
    hub_id = next(
        c
        for c in a.client.get_registered_clients()
        if a.client.get_metadata(c).get("samp.name") == "Hub"
    )
    assert a.client.ecall_and_wait(hub_id, "samp.app.ping", "5")["samp.status"] == "samp.ok"
