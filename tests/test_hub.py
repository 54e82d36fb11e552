"""The hub's Standard Profile semantics, checked with raw XML-RPC clients."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from samp_raw import RawClient

from minisamp.errors import SAMPHubError, SAMPProxyError
from minisamp.hub import Hub
from minisamp.lockfile import read_lockfile
from minisamp.xmlrpc.transport import XmlRpcProxy

PING = {"samp.mtype": "samp.app.ping", "samp.params": {}}
ECHO_SUBS = {"test.echo": {}, "samp.hub.event.*": {}}


def echo(n: int | str = 0) -> dict[str, object]:
    return {"samp.mtype": "test.echo", "samp.params": {"n": str(n)}}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with Hub(tmp_path / "lockfile") as running:
        yield running


@pytest.fixture
def clients(hub: Hub) -> Iterator[list[RawClient]]:
    made: list[RawClient] = []
    yield made
    for client in made:
        client.close()


def test_lockfile_is_private_and_names_the_hub(hub: Hub) -> None:
    mode = stat.S_IMODE(os.stat(hub.lockfile).st_mode)
    info = read_lockfile(hub.lock_url)
    assert mode == 0o600
    assert info is not None
    assert info.secret == hub.secret and info.xmlrpc_url == hub.url
    assert info.profile_version == "1.3"


def test_lockfile_is_removed_on_stop(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "lockfile").start()
    hub.stop()
    assert not (tmp_path / "lockfile").exists()
    hub.stop()  # a second stop is harmless


def test_second_hub_refuses_to_start_while_first_lives(hub: Hub) -> None:
    with pytest.raises(SAMPHubError, match="already running"):
        Hub(hub.lockfile).start()
    assert read_lockfile(hub.lock_url).secret == hub.secret  # type: ignore[union-attr]


def test_hub_overwrites_lockfile_of_a_dead_hub(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    lockfile.write_text("samp.secret=old\nsamp.hub.xmlrpc.url=http://127.0.0.1:9/xmlrpc\n")
    with Hub(lockfile) as hub:
        assert read_lockfile(hub.lock_url).secret == hub.secret  # type: ignore[union-attr]


def test_hub_does_not_delete_a_lockfile_another_hub_overwrote(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    hub = Hub(lockfile).start()
    lockfile.write_text("samp.secret=other\nsamp.hub.xmlrpc.url=http://127.0.0.1:9/xmlrpc\n")
    hub.stop()
    assert lockfile.exists()


def test_ping_answers_without_registering(hub: Hub) -> None:
    assert XmlRpcProxy(hub.url).call("samp.hub.ping") == ""


def test_bad_secret_and_unknown_method_fault(hub: Hub) -> None:
    proxy = XmlRpcProxy(hub.url)
    with pytest.raises(SAMPProxyError, match="secret"):
        proxy.call("samp.hub.register", hub.secret + "-NOT!")
    with pytest.raises(SAMPProxyError, match="No such method"):
        proxy.call("samp.hub.not-a-method")
    with pytest.raises(SAMPProxyError, match="takes 1 arguments"):
        proxy.call("samp.hub.register")


def test_wrong_private_key_faults(hub: Hub) -> None:
    with pytest.raises(SAMPProxyError, match="Private-key"):
        XmlRpcProxy(hub.url).call("samp.hub.getRegisteredClients", "k:not-a-key")


def test_registered_clients_include_hub_but_not_caller(hub: Hub, clients: list[RawClient]) -> None:
    a, b = RawClient(hub), RawClient(hub)
    clients += [a, b]
    others = a.hub("getRegisteredClients")
    assert a.hub_id in others and b.id in others and a.id not in others


def test_public_ids_and_keys_are_never_reused(hub: Hub) -> None:
    seen_ids, seen_keys = set(), set()
    for _ in range(5):
        client = RawClient(hub, callable=False)
        assert client.id not in seen_ids and client.key not in seen_keys
        seen_ids.add(client.id)
        seen_keys.add(client.key)
        client.close()


def test_hub_is_a_client_named_hub_that_answers_ping(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub, callable=False)
    clients.append(a)
    assert a.hub("getMetadata", a.hub_id)["samp.name"] == "Hub"
    assert "samp.app.ping" in a.hub("getSubscriptions", a.hub_id)
    assert a.hub("callAndWait", a.hub_id, PING, "5")["samp.status"] == "samp.ok"


def test_new_client_has_empty_metadata_and_subscriptions(
    hub: Hub, clients: list[RawClient]
) -> None:
    a, b = RawClient(hub), RawClient(hub, callable=False)
    clients += [a, b]
    assert b.hub("getMetadata", a.id) == {} and b.hub("getSubscriptions", a.id) == {}


def test_unknown_client_id_faults(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub, callable=False)
    clients.append(a)
    with pytest.raises(SAMPProxyError, match="No registered client"):
        a.hub("getMetadata", "c999")
    with pytest.raises(SAMPProxyError, match="No registered client"):
        a.hub("notify", "c999", PING)


def test_metadata_and_subscription_changes_are_broadcast(
    hub: Hub, clients: list[RawClient]
) -> None:
    watcher = RawClient(hub, subscriptions=ECHO_SUBS)
    a = RawClient(hub)
    clients += [watcher, a]
    a.hub("declareMetadata", {"samp.name": "A"})
    a.hub("declareSubscriptions", {"x.y.*": {"size": "big"}})
    sender, event = watcher.next_of("receiveNotification", "samp.hub.event.metadata")
    assert sender == hub.hub_id and event["samp.params"] == {
        "id": a.id,
        "metadata": {"samp.name": "A"},
    }
    _, event = watcher.next_of("receiveNotification", "samp.hub.event.subscriptions")
    assert event["samp.params"]["subscriptions"] == {"x.y.*": {"size": "big"}}


def test_notify_to_unsubscribed_recipient_faults(hub: Hub, clients: list[RawClient]) -> None:
    a, b = RawClient(hub), RawClient(hub, subscriptions={"other.thing": {}})
    clients += [a, b]
    with pytest.raises(SAMPProxyError, match="not subscribed") as info:
        a.hub("notify", b.id, echo())
    assert info.value.faultCode == 2
    with pytest.raises(SAMPProxyError, match="not subscribed"):
        a.hub("call", b.id, "tag", echo())


def test_broadcast_to_nobody_returns_empty(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub)
    clients.append(a)
    assert a.hub("notifyAll", echo()) == []
    assert a.hub("callAll", "t", echo()) == {}


def test_broadcast_reaches_exactly_the_subscribed_others(
    hub: Hub, clients: list[RawClient]
) -> None:
    a = RawClient(hub, subscriptions=ECHO_SUBS)
    b = RawClient(hub, subscriptions={"test.*": {}})
    c = RawClient(hub, subscriptions={"nothing.else": {}})
    clients += [a, b, c]
    assert sorted(a.hub("notifyAll", echo())) == [b.id]
    assert set(a.hub("getSubscribedClients", "test.echo")) == {b.id}


def test_call_msg_id_matches_and_reply_comes_back_with_tag(
    hub: Hub, clients: list[RawClient]
) -> None:
    a, b = RawClient(hub, subscriptions={}), RawClient(hub, subscriptions=ECHO_SUBS)
    clients += [a, b]
    msg_ids = [a.hub("call", b.id, "same-tag", echo(i)) for i in range(3)]  # tag reuse is legal
    received = [b.next_of("receiveCall", "test.echo")[1] for _ in range(3)]
    assert received == msg_ids
    responses = [a.next_of("receiveResponse") for _ in range(3)]
    assert [(r[0], r[1], r[2]["samp.result"]["n"]) for r in responses] == [
        (b.id, "same-tag", str(i)) for i in range(3)
    ]


def test_call_and_wait_returns_the_response(hub: Hub, clients: list[RawClient]) -> None:
    a, b = RawClient(hub, callable=False), RawClient(hub, subscriptions=ECHO_SUBS)
    clients += [a, b]
    response = a.hub("callAndWait", b.id, echo(42), "0")
    assert response == {"samp.status": "samp.ok", "samp.result": {"n": "42"}}


def test_call_and_wait_times_out_and_late_reply_faults(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub, callable=False)
    b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
    clients += [a, b]
    started = time.monotonic()
    with pytest.raises(SAMPProxyError, match="Timeout") as info:
        a.hub("callAndWait", b.id, echo(), "1")
    assert time.monotonic() - started > 0.9 and info.value.faultCode == 1  # the hub's timeout
    msg_id = b.next_of("receiveCall")[1]
    with pytest.raises(SAMPProxyError, match="timed out"):
        b.hub("reply", msg_id, {"samp.status": "samp.ok", "samp.result": {}})


def test_a_second_reply_to_the_same_call_faults(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub, subscriptions={})
    b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
    clients += [a, b]
    msg_id = a.hub("call", b.id, "t", echo())
    assert b.next_of("receiveCall")[1] == msg_id
    b.hub("reply", msg_id, {"samp.status": "samp.ok", "samp.result": {"n": "first"}})
    with pytest.raises(SAMPProxyError, match="No call is awaiting"):
        b.hub("reply", msg_id, {"samp.status": "samp.ok", "samp.result": {"n": "again"}})
    assert a.next_of("receiveResponse")[2]["samp.result"] == {"n": "first"}


def test_call_and_wait_timeouts_are_capped_by_the_hub(tmp_path: Path) -> None:
    with Hub(tmp_path / "lockfile", max_sync_timeout=1) as hub:
        a = RawClient(hub, callable=False)
        b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
        for asked in ("0", "3600"):  # none, and more than the cap: both end at the cap
            with pytest.raises(SAMPProxyError, match="Timeout expired") as info:
                a.hub("callAndWait", b.id, echo(), asked)  # the proxy itself gives up at 10 s
            assert "in 1 s" in str(info.value)
        a.close()
        b.close()


def test_reply_to_unknown_msg_id_faults(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub)
    clients.append(a)
    with pytest.raises(SAMPProxyError, match="msg-id"):
        a.hub("reply", "no-such-id", {"samp.status": "samp.ok", "samp.result": {}})


def test_only_the_recipient_may_reply(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub, subscriptions={})
    b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
    clients += [a, b]
    msg_id = a.hub("call", b.id, "t", echo())
    with pytest.raises(SAMPProxyError, match="not sent to you"):
        a.hub("reply", msg_id, {"samp.status": "samp.ok", "samp.result": {}})


def test_call_and_wait_fails_when_recipient_unregisters(hub: Hub, clients: list[RawClient]) -> None:
    a = RawClient(hub, callable=False)
    b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
    clients.append(a)
    responses: list[dict[str, object]] = []
    waiter = threading.Thread(
        target=lambda: responses.append(a.hub("callAndWait", b.id, echo(), "0"))
    )
    waiter.start()
    b.next_of("receiveCall")
    b.close()
    waiter.join(5)
    assert not waiter.is_alive()
    assert responses[0]["samp.status"] == "samp.error"
    assert "unregistered before replying" in str(responses[0]["samp.error"])


def test_unreachable_client_is_dropped_and_others_told(hub: Hub, clients: list[RawClient]) -> None:
    watcher = RawClient(hub, subscriptions=ECHO_SUBS)
    gone = RawClient(hub, subscriptions={"test.echo": {}})  # no hub events: nothing in flight
    clients.append(watcher)
    assert gone.server is not None
    gone.server.close()  # the process died: nothing listens at its callback URL
    watcher.hub("notify", gone.id, echo())
    _, event = watcher.next_of("receiveNotification", "samp.hub.event.unregister")
    assert event["samp.params"]["id"] == gone.id
    assert gone.id not in watcher.hub("getRegisteredClients")


def test_notifications_arrive_in_order(hub: Hub, clients: list[RawClient]) -> None:
    a, b = RawClient(hub, callable=False), RawClient(hub, subscriptions={"test.echo": {}})
    clients += [a, b]
    for i in range(200):
        a.hub("notify", b.id, echo(i))
    got = [b.next_of("receiveNotification")[1]["samp.params"]["n"] for _ in range(200)]
    assert got == [str(i) for i in range(200)]


def test_stop_broadcasts_shutdown_and_fails_waiting_calls(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "lockfile").start()
    a = RawClient(hub, callable=False)
    b = RawClient(hub, subscriptions={**ECHO_SUBS, "samp.hub.event.shutdown": {}}, auto_reply=False)
    errors: list[Exception] = []

    def wait() -> None:
        try:
            a.hub("callAndWait", b.id, echo(), "0")
        except Exception as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    b.next_of("receiveCall")
    hub.stop()
    waiter.join(5)
    b.next_of("receiveNotification", "samp.hub.event.shutdown")
    b.close(unregister=False)
    a.close(unregister=False)
    assert errors and "shutting down" in str(errors[0])


def test_registering_while_the_hub_shuts_down_is_refused(tmp_path: Path) -> None:
    # stop() announces the shutdown first, then waits for that event to be delivered
    # while still serving: a client reacting to it by registering again must be refused.
    hub = Hub(tmp_path / "lockfile").start()
    try:
        hub.service.shutdown()  # the first step of stop(), with the server still up
        with pytest.raises(SAMPProxyError, match="shutting down"):
            XmlRpcProxy(hub.url, timeout=10).call("samp.hub.register", hub.secret)
    finally:
        hub.stop()


def test_stop_joins_every_hub_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    hub = Hub(tmp_path / "lockfile").start()
    client = RawClient(hub, subscriptions=ECHO_SUBS)
    client.hub("notifyAll", echo())
    client.close()
    hub.stop()
    leftover = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []


def test_hub_binds_loopback_by_default(hub: Hub) -> None:
    assert hub.url.startswith("http://127.0.0.1:")
    assert hub._server is not None and hub._server.address[0] == "127.0.0.1"


def test_hub_keeps_serving_after_hostile_bodies(hub: Hub) -> None:
    import http.client
    from urllib.parse import urlsplit

    port = urlsplit(hub.url).port
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]><methodCall><methodName>&i;</methodName></methodCall>"
    ).encode()
    for body in (laughs, b"\x00\xffgarbage", b"<methodCall><methodName>x"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/xmlrpc", body, {"Content-Type": "text/xml"})
        reply = conn.getresponse().read()
        conn.close()
        assert b"faultCode" in reply
    assert XmlRpcProxy(hub.url).call("samp.hub.ping") == ""


def test_two_calls_answered_in_reverse_order_reach_their_own_tags(
    hub: Hub, clients: list[RawClient]
) -> None:
    a = RawClient(hub, subscriptions={})
    b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
    clients += [a, b]
    first = a.hub("call", b.id, "first", echo(1))
    second = a.hub("call", b.id, "second", echo(2))
    assert first != second
    received = [b.next_of("receiveCall", "test.echo")[1] for _ in range(2)]
    assert received == [first, second]
    b.hub("reply", second, {"samp.status": "samp.ok", "samp.result": {"n": "two"}})
    b.hub("reply", first, {"samp.status": "samp.ok", "samp.result": {"n": "one"}})
    responses = [a.next_of("receiveResponse") for _ in range(2)]
    assert [(r[1], r[2]["samp.result"]["n"]) for r in responses] == [
        ("second", "two"),
        ("first", "one"),
    ]


def test_two_calls_and_waits_answered_in_reverse_order_each_get_their_own(
    hub: Hub, clients: list[RawClient]
) -> None:
    a = RawClient(hub, callable=False)
    b = RawClient(hub, subscriptions=ECHO_SUBS, auto_reply=False)
    clients += [a, b]
    results: dict[str, object] = {}

    def call_and_wait(n: str) -> None:
        proxy = XmlRpcProxy(hub.url, timeout=30)  # one connection per waiting thread
        try:
            results[n] = proxy.call("samp.hub.callAndWait", a.key, b.id, echo(n), "30")
        except Exception as exc:
            results[n] = exc
        finally:
            proxy.close()

    waiters = [threading.Thread(target=call_and_wait, args=(n,)) for n in ("1", "2")]
    for waiter in waiters:
        waiter.start()
    calls = {}
    for _ in range(2):
        _sender, msg_id, message = b.next_of("receiveCall", "test.echo")
        calls[message["samp.params"]["n"]] = msg_id
    assert calls["1"] != calls["2"]
    for n in ("2", "1"):
        b.hub("reply", calls[n], {"samp.status": "samp.ok", "samp.result": {"answer": n}})
    for waiter in waiters:
        waiter.join(30)
    assert results == {
        n: {"samp.status": "samp.ok", "samp.result": {"answer": n}} for n in ("1", "2")
    }


def test_the_hubs_own_private_key_is_refused_as_a_callers(
    hub: Hub, clients: list[RawClient]
) -> None:
    b = RawClient(hub, subscriptions={"test.echo": {}})
    clients.append(b)
    proxy = XmlRpcProxy(hub.url, timeout=10)
    hub_key = hub.service.hub.private_key
    for method, args in [
        ("notify", (b.id, echo())),
        ("getRegisteredClients", ()),
        ("declareMetadata", ({"samp.name": "impostor"},)),
        ("unregister", ()),
    ]:
        with pytest.raises(SAMPProxyError, match="Private-key") as info:
            proxy.call(f"samp.hub.{method}", hub_key, *args)
        assert info.value.faultCode == 5
    proxy.close()
    assert b.hub("getMetadata", b.hub_id)["samp.name"] == "Hub"
    assert b.hub_id in b.hub("getRegisteredClients")
    marker = RawClient(hub, callable=False)  # b's callbacks keep order: the marker comes first
    clients.append(marker)
    marker.hub("notify", b.id, echo("marker"))
    sender, message = b.next_of("receiveNotification", "test.echo")
    assert (sender, message["samp.params"]["n"]) == (marker.id, "marker")


def test_declare_subscriptions_before_set_callback_is_refused(
    hub: Hub, clients: list[RawClient]
) -> None:
    a = RawClient(hub, callable=False)
    b = RawClient(hub, callable=False)
    clients += [a, b]
    with pytest.raises(SAMPProxyError, match="setXmlrpcCallback"):
        a.hub("declareSubscriptions", {"test.echo": {}})
    assert b.hub("getSubscriptions", a.id) == {}
    assert b.hub("getSubscribedClients", "test.echo") == {}
