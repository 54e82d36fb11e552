"""Our client and pyvo's SAMPIntegratedClient exchange notify, call and call_and_wait
both ways, on every kind of hub."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clientutil import Arrival, connected, retry_if_pyvo_lost_the_reply
from conftest import RunningHub

from minisamp import Client, ReceivedMessage

pyvo_samp = pytest.importorskip("pyvo.samp", reason="pyvo is not installed (pip install pyvo)")
pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


@pytest.fixture
def peers(any_hub: RunningHub) -> Iterator[tuple[Client, Any]]:
    theirs = pyvo_samp.SAMPIntegratedClient(name="pyvo-peer", addr="127.0.0.1")
    theirs.connect()
    try:
        with connected("ours") as ours:
            yield ours, theirs
    finally:
        theirs.disconnect()


def test_pyvo_notification_reaches_us(peers: tuple[Client, Any]) -> None:
    ours, theirs = peers
    got = Arrival[ReceivedMessage]()
    ours.on("test.note", got.put)
    theirs.enotify(ours.get_public_id(), "test.note", a="1")
    msg = got.get()
    assert msg.params == {"a": "1"} and msg.sender_id == theirs.get_public_id()


def test_pyvo_call_and_wait_gets_our_result(peers: tuple[Client, Any], any_hub: RunningHub) -> None:
    ours, theirs = peers
    asked = Arrival[ReceivedMessage]()
    ours.on("test.ask", lambda m: (asked.put(m), {"answer": m.params["q"] + "!"})[1])
    response = retry_if_pyvo_lost_the_reply(
        any_hub.kind,
        lambda: theirs.ecall_and_wait(ours.get_public_id(), "test.ask", "10", q="why"),
        delivered=lambda: bool(asked.values),
    )
    assert response == {"samp.status": "samp.ok", "samp.result": {"answer": "why!"}}


def test_pyvo_async_call_gets_our_response(peers: tuple[Client, Any]) -> None:
    ours, theirs = peers
    ours.on("test.ask", lambda m: {"answer": "yes"})
    got = Arrival[Any]()
    theirs.bind_receive_response("their-tag", lambda *args: got.put(args))
    theirs.ecall(ours.get_public_id(), "their-tag", "test.ask")
    _, responder, tag, response = got.get()
    assert (responder, tag) == (ours.get_public_id(), "their-tag")
    assert response["samp.result"] == {"answer": "yes"}


def test_we_notify_and_call_pyvo(peers: tuple[Client, Any], any_hub: RunningHub) -> None:
    ours, theirs = peers
    notes = Arrival[Any]()
    replied: list[str] = []

    def on_call(pk: str, sender: str, msg_id: str, mtype: str, params: Any, extra: Any) -> None:
        theirs.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {"got": params["v"]}})
        replied.append(params["v"])

    theirs.bind_receive_notification(
        "test.note", lambda pk, s, mtype, params, extra: notes.put(params)
    )
    theirs.bind_receive_call("test.ask", on_call)
    ours.enotify(theirs.get_public_id(), "test.note", v="1")
    assert notes.get() == {"v": "1"}
    assert ours.request(theirs.get_public_id(), "test.ask", {"v": 2}) == {"got": "2"}
    response = retry_if_pyvo_lost_the_reply(
        any_hub.kind,
        lambda: ours.ecall_and_wait(theirs.get_public_id(), "test.ask", 10, v="3"),
        delivered=lambda: "3" in replied,
    )
    assert response["samp.result"] == {"got": "3"}
    assert ours.request(theirs.get_public_id(), "samp.app.ping") == {}


def test_pyvo_sees_us_in_its_client_list(peers: tuple[Client, Any]) -> None:
    ours, theirs = peers
    assert ours.get_public_id() in theirs.get_registered_clients()
    assert theirs.get_metadata(ours.get_public_id())["samp.name"] == "ours"
    assert ours.find_client_id("pyvo-peer") == theirs.get_public_id()
