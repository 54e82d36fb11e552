"""A client never hangs: wrong keys, hubs that shut down, hubs that are killed."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
from clientutil import Arrival, connected
from conftest import RunningHub
from needs import needs

from minisamp import (
    REPLY_LATER,
    Client,
    ClientState,
    HubGoneError,
    ReceivedMessage,
    SAMPProxyError,
    SampTimeoutError,
    TransportError,
)
from minisamp.xmlrpc.transport import XmlRpcProxy

pytestmark = pytest.mark.timeout(60)
needs_jsamp = needs("jsamp")


def test_callback_with_wrong_private_key_is_refused(any_hub: RunningHub) -> None:
    with connected("target") as target:
        ran = Arrival[ReceivedMessage]()
        target.on("test.note", ran.put)
        assert target._server is not None
        proxy = XmlRpcProxy(target._server.url, timeout=5)
        message = {"samp.mtype": "test.note", "samp.params": {}}
        with pytest.raises(SAMPProxyError, match="private key"):
            proxy.call("samp.client.receiveNotification", "not-the-key", "intruder", message)
        with pytest.raises(SAMPProxyError, match="private key"):
            proxy.call("samp.client.receiveCall", "not-the-key", "intruder", "m1", message)
        with pytest.raises(SAMPProxyError, match="private key"):
            proxy.call(
                "samp.client.receiveResponse", "x", "intruder", "t", {"samp.status": "samp.ok"}
            )
        proxy.call("samp.client.receiveNotification", target.get_private_key(), "friend", message)
        assert ran.get().sender_id == "friend"
        assert len(ran.values) == 1
        proxy.close()


def test_hub_shutdown_is_noticed(any_hub: RunningHub) -> None:
    with connected("alice") as alice, connected("bob") as bob:
        bob.on("test.silent", lambda m: REPLY_LATER)
        shut = Arrival[str]()
        alice.on("samp.hub.event.shutdown", lambda m: shut.put(m.sender_id))
        pending = alice.call_async(bob.get_public_id(), "test.silent", timeout=30)
        any_hub.stop()
        assert shut.get(20) == alice.hub_id
        assert alice.state is ClientState.HUB_GONE and not alice.is_connected
        assert isinstance(pending.exception(10), HubGoneError)
        with pytest.raises(HubGoneError, match="the SAMP hub has gone away"):
            alice.get_registered_clients()
        started = time.monotonic()
        alice.close()
        assert time.monotonic() - started < 30  # close does not wait on the gone hub
        assert alice.state is ClientState.CLOSED


def test_disconnect_from_anyone_but_the_hub_is_ignored(any_hub: RunningHub) -> None:
    with connected("target") as target:
        assert target._server is not None
        proxy = XmlRpcProxy(target._server.url, timeout=5)
        message = {"samp.mtype": "samp.hub.disconnect", "samp.params": {"reason": "prank"}}
        proxy.call(
            "samp.client.receiveNotification", target.get_private_key(), "prankster", message
        )
        proxy.close()
        assert target.is_connected
        target.ping()


def test_disconnect_from_the_hub_marks_the_client_gone(any_hub: RunningHub) -> None:
    with connected("target") as target:
        assert target._server is not None
        proxy = XmlRpcProxy(target._server.url, timeout=5)
        message = {"samp.mtype": "samp.hub.disconnect", "samp.params": {"reason": "idle"}}
        key = target.get_private_key()
        # The client stops its server as soon as it has the message; the answer to this
        # very call may be cut off (a hub ignores it for notifications), so only the
        # client's reaction is checked.
        with contextlib.suppress(TransportError):
            proxy.call("samp.client.receiveNotification", key, target.hub_id, message)
        proxy.close()
        assert target.state is ClientState.HUB_GONE
        with pytest.raises(HubGoneError, match="idle"):
            target.notify_all({"samp.mtype": "samp.app.ping"})


def kill_on_delivery(hub: RunningHub, bob: Client) -> threading.Thread:
    """Bob answers nothing on ``test.silent``; the hub is SIGKILLed once one arrives."""
    arrived = Arrival[ReceivedMessage]()
    bob.on("test.silent", lambda m: (arrived.put(m), REPLY_LATER)[1])

    def kill_when_delivered() -> None:
        arrived.get(30)
        assert hub.kill is not None
        hub.kill()

    killer = threading.Thread(target=kill_when_delivered, name="test-killer", daemon=True)
    killer.start()
    return killer


@needs_jsamp
def test_killed_hub_fails_a_waiting_call_and_wait_long_before_its_timeout(
    samp_hub_factory: Callable[[str], RunningHub],
) -> None:
    hub = samp_hub_factory("jsamp")
    with connected("alice") as alice, connected("bob") as bob:
        killer = kill_on_delivery(hub, bob)
        started = time.monotonic()
        with pytest.raises(HubGoneError):
            alice.ecall_and_wait(bob.get_public_id(), "test.silent", "120")
        assert time.monotonic() - started < 60, "the kill was not noticed: the call timed out"
        killer.join(5)
        with pytest.raises(HubGoneError):
            alice.get_registered_clients()


@needs_jsamp
def test_request_to_a_killed_hub_times_out_then_the_client_knows_the_hub_is_gone(
    samp_hub_factory: Callable[[str], RunningHub],
) -> None:
    # Nothing tells a client that its hub was killed while it waits for a response:
    # the request ends at its own timeout (or at once, if the kill cut off the hub's
    # answer to samp.hub.call itself), and the next hub call finds the hub gone.
    hub = samp_hub_factory("jsamp")
    with connected("alice") as alice, connected("bob") as bob:
        killer = kill_on_delivery(hub, bob)
        with pytest.raises((SampTimeoutError, HubGoneError)):
            alice.request(bob.get_public_id(), "test.silent", timeout=3)
        killer.join(5)
        with pytest.raises(HubGoneError):
            alice.get_registered_clients()
        alice.close()
        assert alice.state is ClientState.CLOSED


@needs_jsamp
def test_call_and_wait_to_a_killed_hub_says_the_hub_is_gone(
    samp_hub_factory: Callable[[str], RunningHub],
) -> None:
    hub = samp_hub_factory("jsamp")
    with connected("alice") as alice, connected("bob") as bob:
        arrived = Arrival[ReceivedMessage]()
        bob.on("test.silent", lambda m: (arrived.put(m), REPLY_LATER)[1])
        future = alice.call_async(bob.get_public_id(), "test.silent", timeout=30)
        arrived.get()
        assert hub.kill is not None
        hub.kill()
        with pytest.raises(HubGoneError):
            alice.ecall_and_wait(bob.get_public_id(), "samp.app.ping", "10")
        assert isinstance(future.exception(5), HubGoneError)


def test_pyvo_receive_methods_check_the_key(any_hub: RunningHub) -> None:
    from minisamp import SAMPClientError, SAMPIntegratedClient

    client = SAMPIntegratedClient(name="pyvo-style")
    client.connect()
    try:
        got = Arrival[ReceivedMessage]()
        client.on("test.note", got.put)
        message = {"samp.mtype": "test.note", "samp.params": {"a": "1"}}
        with pytest.raises(SAMPClientError, match="private key"):
            client.receive_notification("wrong", "x", message)
        assert client.receive_notification(client.get_private_key(), "x", message) == ""
        assert got.get().params == {"a": "1"}
    finally:
        client.disconnect()
