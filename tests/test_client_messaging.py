"""Sending and receiving every kind of message through real hubs (pyvo, JSAMP, minisamp)."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from clientutil import Arrival, connected, retry_if_pyvo_lost_the_reply, wait_for_directory
from conftest import RunningHub

from minisamp import (
    REPLY_LATER,
    Client,
    ClientNotFoundError,
    ReceivedMessage,
    Response,
    SAMPClientError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SampResponseError,
    SampTimeoutError,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pair(any_hub: RunningHub) -> Iterator[tuple[Client, Client]]:
    """Two connected clients, alice and bob, with bob subscribed to ``test.*``."""
    with connected("alice") as alice, connected("bob") as bob:
        bob.on("test.never", lambda m: None)
        bob_id = bob.get_public_id()
        wait_for_directory(alice, lambda c: bob_id in c and "test.never" in c[bob_id].subscriptions)
        yield alice, bob


def test_notify_reaches_the_handler_with_params_and_sender(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    got = Arrival[ReceivedMessage]()
    bob.on("test.note", got.put)
    alice.notify(bob.get_public_id(), {"samp.mtype": "test.note", "samp.params": {"n": 7}})
    msg = got.get()
    assert (msg.mtype, msg.params, msg.sender_id, msg.msg_id) == (
        "test.note",
        {"n": "7"},
        alice.get_public_id(),
        None,
    )


def test_notify_all_returns_the_recipients(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    got = Arrival[ReceivedMessage]()
    bob.on("test.note", got.put)
    recipients = alice.enotify_all("test.note", flag=True)
    assert recipients == [bob.get_public_id()]
    assert got.get().params == {"flag": "1"}


def test_call_response_goes_to_the_bound_response_handler(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.echo", lambda m: {"echo": m.params["x"]})
    got = Arrival[tuple[Any, ...]]()
    alice.bind_receive_response("my-tag", lambda *args: got.put(args))
    msg_id = alice.ecall(bob.get_public_id(), "my-tag", "test.echo", x="hi")
    key, responder, tag, response = got.get()
    assert isinstance(msg_id, str) and msg_id
    assert (key, responder, tag) == (alice.get_private_key(), bob.get_public_id(), "my-tag")
    assert response == {"samp.status": "samp.ok", "samp.result": {"echo": "hi"}}


def test_call_all_and_ecall_all_return_the_msg_id_map(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.echo", lambda m: {})
    assert list(alice.call_all("t1", {"samp.mtype": "test.echo"})) == [bob.get_public_id()]
    assert list(alice.ecall_all("t2", "test.echo")) == [bob.get_public_id()]


def test_call_and_wait_returns_the_response_map(
    pair: tuple[Client, Client], any_hub: RunningHub
) -> None:
    alice, bob = pair
    handled = Arrival[ReceivedMessage]()
    bob.on("test.echo", lambda m: (handled.put(m), {"x": m.params["x"]})[1])
    response = retry_if_pyvo_lost_the_reply(
        any_hub.kind,
        lambda: alice.ecall_and_wait(bob.get_public_id(), "test.echo", "5", x=1.5),
        delivered=lambda: bool(handled.values),
    )
    assert response == {"samp.status": "samp.ok", "samp.result": {"x": "1.5"}}


def test_call_and_wait_returns_an_error_response_as_a_map(
    pair: tuple[Client, Client], any_hub: RunningHub
) -> None:
    alice, bob = pair
    handled = Arrival[ReceivedMessage]()

    def fail(msg: ReceivedMessage) -> None:
        handled.put(msg)
        raise RuntimeError("cannot load that")

    bob.on("test.fail", fail)
    response = retry_if_pyvo_lost_the_reply(
        any_hub.kind,
        lambda: alice.ecall_and_wait(bob.get_public_id(), "test.fail", 5),
        delivered=lambda: bool(handled.values),
    )
    assert response["samp.status"] == "samp.error"
    assert response["samp.error"]["samp.errortxt"] == "cannot load that"
    assert "RuntimeError" in response["samp.error"]["samp.debugtxt"]


def test_call_and_wait_times_out_with_proxy_timeout_error(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.silent", lambda m: REPLY_LATER)
    started = time.monotonic()
    with pytest.raises(SAMPProxyTimeoutError):
        alice.ecall_and_wait(bob.get_public_id(), "test.silent", "1")
    assert time.monotonic() - started < 30  # bob never answers: the 1 s timeout ended it


def test_request_returns_the_result(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.add", lambda m: {"sum": int(m.params["a"]) + int(m.params["b"])})
    assert alice.request(bob.get_public_id(), "test.add", {"a": 2, "b": 3}) == {"sum": "5"}


def test_ping_is_answered_automatically(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    assert alice.request(bob.get_public_id(), "samp.app.ping", timeout=5) == {}


def test_request_raises_the_recipients_error(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.fail", lambda m: Response.error_response("no such table", code="404"))
    with pytest.raises(SampResponseError) as info:
        alice.request(bob.get_public_id(), "test.fail")
    assert info.value.responder_id == bob.get_public_id()
    assert info.value.error["samp.errortxt"] == "no such table"
    assert info.value.code == "404"


def test_request_times_out_when_nobody_replies(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.silent", lambda m: REPLY_LATER)
    started = time.monotonic()
    with pytest.raises(SampTimeoutError):
        alice.request(bob.get_public_id(), "test.silent", timeout=0.5)
    assert time.monotonic() - started < 30  # bob never answers: the timeout ended it


def test_a_short_call_async_timeout_fires_before_a_longer_earlier_one(
    pair: tuple[Client, Client],
) -> None:
    alice, bob = pair
    bob.on("test.silent", lambda m: REPLY_LATER)
    patient = alice.call_async(bob.get_public_id(), "test.silent", timeout=300)
    hasty = alice.call_async(bob.get_public_id(), "test.silent", timeout=1)
    # its 1 s deadline, not the 300 s one registered first, decides when it ends
    assert isinstance(hasty.exception(60), SampTimeoutError)
    assert not patient.done()


def test_call_async_future_resolves_with_the_response(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.echo", lambda m: {"x": m.params["x"]})
    future = alice.call_async(bob.get_public_id(), "test.echo", {"x": "y"}, timeout=5)
    assert future.result(10) == Response.ok({"x": "y"})


@pytest.mark.parametrize("order", ["sending", "reverse"])
def test_two_call_async_futures_each_get_their_own_response(
    pair: tuple[Client, Client], order: str
) -> None:
    alice, bob = pair
    with bob.messages("test.inbox", timeout=10) as inbox:
        futures = {
            q: alice.call_async(bob.get_public_id(), "test.inbox", {"q": q}, timeout=30)
            for q in ("1", "2")
        }
        calls = {msg.params["q"]: msg for msg in (inbox.get(10), inbox.get(10))}
        for q in ("2", "1") if order == "reverse" else ("1", "2"):
            waiting = [f for f in futures.values() if not f.done()]
            calls[q].reply({"a": q})
            # the first future this answer settles is its own call's, with its answer
            done, _ = concurrent.futures.wait(waiting, 10, concurrent.futures.FIRST_COMPLETED)
            assert done == {futures[q]}, f"the answer to call {q} settled another call"
            assert futures[q].result() == Response.ok({"a": q})


def test_call_all_async_gathers_every_response(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    # done when everyone has answered, long before the call's timeout
    responses = alice.call_all_async("samp.app.ping", timeout=120).result(30)
    assert bob.get_public_id() in responses and alice.hub_id in responses
    assert all(r.is_ok for r in responses.values())


def test_call_all_async_to_nobody_completes_at_once_with_no_responses(
    pair: tuple[Client, Client],
) -> None:
    alice, _ = pair
    assert alice.call_all_async("test.nobody.listens", timeout=120).result(30) == {}


def test_call_all_async_returns_what_arrived_by_the_timeout(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.on("test.silent", lambda m: REPLY_LATER)
    with connected("carol") as carol:
        carol.on("test.silent", lambda m: {"me": "carol"})
        responses = alice.call_all_async("test.silent", timeout=1).result(10)
    assert responses == {carol.get_public_id(): Response.ok({"me": "carol"})}


def test_unsubscribed_recipient_is_a_proxy_error(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    with pytest.raises(SAMPProxyError):
        alice.enotify(bob.get_public_id(), "test.unheard")
    with pytest.raises(SAMPProxyError):
        alice.request(bob.get_public_id(), "test.unheard")
    future = alice.call_async(bob.get_public_id(), "test.unheard")
    assert isinstance(future.exception(5), SAMPProxyError)


def test_unknown_client_id_is_a_proxy_error(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    with pytest.raises(SAMPProxyError):
        alice.get_metadata("no-such-client")
    with pytest.raises(SAMPProxyError):
        alice.enotify("no-such-client", "samp.app.ping")


def test_handler_may_call_the_hub_synchronously(
    pair: tuple[Client, Client], any_hub: RunningHub
) -> None:
    alice, bob = pair
    ponged = Arrival[ReceivedMessage]()
    alice.on("test.pong", lambda m: (ponged.put(m), {})[1])

    def relay(msg: ReceivedMessage) -> dict[str, Any]:
        answer = retry_if_pyvo_lost_the_reply(
            any_hub.kind,
            lambda: bob.ecall_and_wait(msg.sender_id, "test.pong", "5"),
            delivered=lambda: bool(ponged.values),
        )
        return {
            "inner": answer["samp.status"],
            "again": bob.request(msg.sender_id, "samp.app.ping"),
        }

    bob.on("test.relay", relay)
    result = alice.request(bob.get_public_id(), "test.relay", timeout=30)
    assert result == {"inner": "samp.ok", "again": {}}


def test_handler_may_reply_later_from_another_thread(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    threads: list[threading.Thread] = []

    def later(msg: ReceivedMessage) -> Any:
        thread = threading.Thread(target=msg.reply, args=({"late": "yes"},))
        threads.append(thread)
        thread.start()
        return REPLY_LATER

    bob.on("test.later", later)
    assert alice.request(bob.get_public_id(), "test.later") == {"late": "yes"}
    threads[0].join()


def test_extra_kws_become_top_level_message_keys(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    got = Arrival[ReceivedMessage]()
    bob.on("test.note", got.put)
    alice.enotify(bob.get_public_id(), "test.note", a="1", extra_kws={"x-test.origin": "me"})
    msg = got.get()
    assert msg.params == {"a": "1"} and msg.extra["x-test.origin"] == "me"


def test_pyvo_call_handler_replies_itself(pair: tuple[Client, Client], any_hub: RunningHub) -> None:
    alice, bob = pair
    replied = Arrival[str]()

    def handler(pk: str, sender: str, msg_id: str, mtype: str, params: Any, extra: Any) -> None:
        assert pk == bob.get_private_key()
        bob.ereply(msg_id, "samp.ok", {"mtype": mtype, "sender": sender})
        replied.put(msg_id)

    bob.bind_receive_call("test.pyvo", handler)
    response = retry_if_pyvo_lost_the_reply(
        any_hub.kind,
        lambda: alice.ecall_and_wait(bob.get_public_id(), "test.pyvo", 5),
        delivered=lambda: bool(replied.values),
    )
    assert response["samp.result"] == {"mtype": "test.pyvo", "sender": alice.get_public_id()}


def test_pyvo_message_handler_gets_none_msg_id_for_notifications(
    pair: tuple[Client, Client], any_hub: RunningHub
) -> None:
    alice, bob = pair
    got = Arrival[Any]()

    def handler(pk: str, sender: str, msg_id: Any, mtype: str, params: Any, extra: Any) -> None:
        if msg_id is not None:
            bob.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})
        got.put(msg_id)

    bob.bind_receive_message("test.both", handler)
    alice.enotify(bob.get_public_id(), "test.both")
    assert got.get() is None
    response = retry_if_pyvo_lost_the_reply(
        any_hub.kind,
        lambda: alice.ecall_and_wait(bob.get_public_id(), "test.both", 5),
        delivered=lambda: len(got.values) > 1,  # the call reached the handler, which replied
    )
    assert response["samp.status"] == "samp.ok"


def test_unbinding_unsubscribes(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    bob.bind_receive_notification("test.gone", lambda *a: None)
    assert "test.gone" in alice.get_subscriptions(bob.get_public_id())
    bob.unbind_receive_notification("test.gone")
    assert "test.gone" not in alice.get_subscriptions(bob.get_public_id())
    assert bob.get_public_id() not in alice.get_subscribed_clients("test.gone")


def test_messages_inbox_hands_calls_to_a_script(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    with bob.messages("test.inbox", timeout=10) as inbox:
        future = alice.call_async(bob.get_public_id(), "test.inbox", {"q": "1"}, timeout=10)
        msg = inbox.get(10)
        msg.reply({"a": msg.params["q"]})
        assert future.result(10) == Response.ok({"a": "1"})
    assert "test.inbox" not in alice.get_subscriptions(bob.get_public_id())


def test_directory_follows_metadata_and_unregistration(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    changed = Arrival[str]()
    alice.on("samp.hub.event.metadata", lambda m: changed.put(m.params["id"]))
    bob.declare_metadata({"samp.description.text": "renamed", "samp.name": "Bobby"})
    assert changed.get() == bob.get_public_id()
    assert alice.find_client_id("bobby") == bob.get_public_id()
    assert alice.clients[bob.get_public_id()].metadata["samp.description.text"] == "renamed"
    gone = Arrival[str]()
    alice.on("samp.hub.event.unregister", lambda m: gone.put(m.params["id"]))
    bob_id = bob.get_public_id()
    bob.close()
    assert gone.get() == bob_id
    assert bob_id not in alice.clients
    with pytest.raises(ClientNotFoundError, match="registered:"):
        alice.find_client_id("Bobby")


def test_directory_is_seeded_at_connect(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    with connected("dave") as dave:
        assert dave.find_client_id("alice") == alice.get_public_id()
        assert "test.never" in dave.clients[bob.get_public_id()].subscriptions
        assert alice.hub_id in dave.clients
        assert set(dave.clients) == set(dave.get_registered_clients())


def test_a_call_tracked_after_close_is_refused_not_left_pending() -> None:
    # close() can race a call_async that passed its state check: the tracker must
    # refuse the late call (its future would otherwise never be settled).
    from minisamp.client.callback import PendingCalls

    pending = PendingCalls(name="test-deadlines")
    pending.close(SAMPClientError("closed"))
    with pytest.raises(SAMPClientError, match="closed"):
        pending.add(broadcast=False, recipient="c1")
