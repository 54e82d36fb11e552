"""Peers that die, stall or misbehave: every waiting caller gets an answer or an error in time.

Hubs and recipients that must die without a word run in child processes (see
``procutil``) and are killed with SIGKILL; ``tests/test_client_hub_gone.py`` does the
same for JSAMP's hub, this file for ours.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clientutil import Arrival, connected
from conftest import RunningHub
from procutil import HubProcess, client_process, hub_process

import minisamp
from minisamp import (
    REPLY_LATER,
    Client,
    ClientState,
    HubGoneError,
    ReceivedMessage,
    Response,
    SampError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SampResponseError,
    SampTimeoutError,
)
from minisamp.hub import Hub

pytestmark = pytest.mark.timeout(60)

SILENT = "test.silent"
#: How long after a peer dies a waiting caller may take to hear of it (probe every 1 s).
PROMPT = 20.0


@pytest.fixture
def hub(isolated_samp_env: Path) -> Iterator[HubProcess]:
    """Our hub as a child process, on the test's lockfile (SAMP_HUB points there)."""
    with hub_process(isolated_samp_env) as running:
        yield running


def kill_on_arrival(arrived: Arrival[Any], kill: Callable[[], None]) -> threading.Thread:
    """A thread that calls *kill* once something arrives."""

    def run() -> None:
        arrived.get(20)
        kill()

    thread = threading.Thread(target=run, name="test-killer", daemon=True)
    thread.start()
    return thread


def silent(arrived: Arrival[ReceivedMessage]) -> Callable[[ReceivedMessage], Any]:
    """A handler that notes the message and never replies."""

    def handle(message: ReceivedMessage) -> Any:
        arrived.put(message)
        return REPLY_LATER

    return handle


# -- the hub dies ---------------------------------------------------------------------------


@pytest.mark.parametrize("callable", [True, False], ids=["callable", "send-only"])
def test_hub_killed_during_call_and_wait_fails_at_once_with_hub_gone(
    hub: HubProcess, callable: bool
) -> None:
    with connected("alice", callable=callable) as alice, connected("bob") as bob:
        arrived = Arrival[ReceivedMessage]()
        bob.on(SILENT, silent(arrived))
        killer = kill_on_arrival(arrived, hub.kill)
        started = time.monotonic()
        with pytest.raises(HubGoneError, match="gone away"):
            alice.ecall_and_wait(bob.get_public_id(), SILENT, "30")
        assert time.monotonic() - started < PROMPT
        killer.join(5)
        assert alice.state is ClientState.HUB_GONE
        with pytest.raises(HubGoneError):
            alice.notify_all({"samp.mtype": "test.any"})
        started = time.monotonic()
        alice.close()
        bob.close()
        assert time.monotonic() - started < PROMPT


def test_hub_killed_during_request_fails_within_its_timeout(hub: HubProcess) -> None:
    """A callable client's ``request`` waits for a callback no dead hub will make: it
    times out (the hub cannot tell it anything), and the next call says the hub is gone."""
    with connected("alice") as alice, connected("bob") as bob:
        arrived = Arrival[ReceivedMessage]()
        bob.on(SILENT, silent(arrived))
        kill_on_arrival(arrived, hub.kill)
        started = time.monotonic()
        with pytest.raises(SampTimeoutError):
            alice.request(bob.get_public_id(), SILENT, timeout=2)
        assert time.monotonic() - started < 2 + PROMPT
        with pytest.raises(HubGoneError):
            alice.get_registered_clients()


def test_hub_killed_between_calls_is_noticed_on_the_next_call(hub: HubProcess) -> None:
    with connected("alice") as alice, connected("sender", callable=False) as sender:
        alice.ping()
        sender.ping()
        hub.kill()
        for client in (alice, sender):
            started = time.monotonic()
            with pytest.raises(HubGoneError, match="gone away"):
                client.notify_all({"samp.mtype": "test.any"})
            assert time.monotonic() - started < PROMPT
            with pytest.raises(HubGoneError):
                client.ping()


def test_hub_killed_during_send_table_to_fails_with_hub_gone_and_leaves_no_file(
    hub: HubProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pytest.importorskip(
        "astropy.table", reason="astropy is not installed (pip install astropy)"
    ).Table({"a": [1, 2, 3]})
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    with connected("TOPCAT") as topcat:
        arrived = Arrival[ReceivedMessage]()
        topcat.on("table.load.votable", silent(arrived))
        kill_on_arrival(arrived, hub.kill)
        started = time.monotonic()
        with minisamp.connection() as conn:
            with pytest.raises(HubGoneError):
                minisamp.send_table_to(conn, table, client_name="TOPCAT", timeout=30)
            assert time.monotonic() - started < PROMPT
            sent = Path(minisamp.lockfile.file_url_to_path(arrived.get().params["url"]))
            assert sent.is_relative_to(private_tmp) and sent.exists()
    assert os.listdir(private_tmp) == []


# -- a recipient dies or misbehaves ---------------------------------------------------------


@pytest.mark.parametrize("how", ["call_and_wait", "request", "call_async"])
def test_recipient_killed_mid_call_gets_the_caller_an_error_promptly(
    hub: HubProcess, isolated_samp_env: Path, how: str
) -> None:
    with (
        client_process(isolated_samp_env.as_uri(), SILENT) as child,
        connected("alice", callable=how != "call_and_wait") as alice,
    ):
        result: dict[str, Any] = {}

        def call() -> None:
            try:
                if how == "call_and_wait":
                    result["response"] = alice.ecall_and_wait(child.id, SILENT, "0")  # no limit
                elif how == "request":
                    alice.request(child.id, SILENT, timeout=60)
                else:
                    result["response"] = alice.call_async(child.id, SILENT).result(60)
            except SampError as exc:
                result["error"] = exc

        caller = threading.Thread(target=call, name="test-caller", daemon=True)
        caller.start()
        child.expect(f"GOT {SILENT}")
        child.kill()
        caller.join(PROMPT)
        if caller.is_alive():
            hub.kill()  # or closing alice would wait on the caller's unanswered request
            pytest.fail("the caller is still waiting for a dead recipient")
        # An error response naming the recipient, or (callAndWait, when the kill beat
        # the delivery's answer) a hub fault saying the message could not be delivered.
        if "error" in result:
            assert child.id in str(result["error"])
            assert isinstance(result["error"], (SampResponseError, SAMPProxyError))
        else:
            response = result["response"]
            if isinstance(response, Response):
                response = response.to_map()
            assert response["samp.status"] == "samp.error"
            assert child.id in response["samp.error"]["samp.errortxt"]


def test_call_to_a_recipient_killed_before_delivery_is_answered_with_an_error(
    hub: HubProcess, isolated_samp_env: Path
) -> None:
    with (
        client_process(isolated_samp_env.as_uri(), SILENT) as child,
        connected("alice") as alice,
    ):
        child.kill()
        started = time.monotonic()
        # samp.error if the call reaches the hub first; a fault if the hub has already
        # dropped the dead client (a hub event for it may have failed first).
        with pytest.raises((SampResponseError, SAMPProxyError), match=child.id):
            alice.request(child.id, SILENT, timeout=30)
        assert time.monotonic() - started < PROMPT


def test_client_killed_without_unregistering_is_dropped_and_others_told(
    hub: HubProcess, isolated_samp_env: Path
) -> None:
    with connected("watcher") as watcher:
        gone = Arrival[str]()
        watcher.on("samp.hub.event.unregister", lambda m: gone.put(m.params["id"]))
        with client_process(isolated_samp_env.as_uri(), "test.note") as child:
            child.kill()
            with contextlib.suppress(SAMPProxyError):  # unless a hub event got there first,
                watcher.enotify(child.id, "test.note")  # the hub learns it cannot reach it
            assert gone.get(PROMPT) == child.id
            assert child.id not in watcher.get_registered_clients()
            assert child.id not in watcher.clients


@pytest.mark.parametrize("how", ["call_and_wait", "request"])
def test_recipient_that_never_replies_times_out_and_stays_registered(
    tmp_path: Path, how: str
) -> None:
    """The hub's probe (every second) finds it alive, so only the timeout ends the wait."""
    with Hub(tmp_path / "lockfile") as hub:
        opts = {"lockfile": hub.lock_url}
        with connected("alice", **opts) as alice, connected("bob", **opts) as bob:
            bob.on(SILENT, silent(Arrival[ReceivedMessage]()))
            started = time.monotonic()
            if how == "call_and_wait":
                with pytest.raises(SAMPProxyTimeoutError, match="No reply"):
                    alice.ecall_and_wait(bob.get_public_id(), SILENT, "3")
            else:
                with pytest.raises(SampTimeoutError, match="no response"):
                    alice.request(bob.get_public_id(), SILENT, timeout=3)
            assert 3 <= time.monotonic() - started < 3 + PROMPT
            assert bob.get_public_id() in alice.get_registered_clients()


def test_late_reply_after_the_callers_timeout_is_not_delivered(tmp_path: Path) -> None:
    with Hub(tmp_path / "lockfile") as hub:
        opts = {"lockfile": hub.lock_url}
        with connected("alice", **opts) as alice, connected("bob", **opts) as bob:
            arrived = Arrival[ReceivedMessage]()
            bob.on(SILENT, silent(arrived))
            responses = Arrival[tuple[Any, ...]]()
            alice.bind_receive_response("late", lambda *args: responses.put(args))
            future = alice.call_async(bob.get_public_id(), SILENT, timeout=0.5)
            with pytest.raises(SampTimeoutError):
                future.result(5)
            arrived.get().reply({"late": "1"})  # accepted by the hub, dropped by alice
            alice.ecall(bob.get_public_id(), "late", "samp.app.ping")  # a barrier
            assert responses.get()[2] == "late"
            assert len(responses.values) == 1 and future.exception() is not None


def test_recipient_that_replies_twice_gets_a_fault_and_no_duplicate_is_delivered(
    tmp_path: Path,
) -> None:
    with Hub(tmp_path / "lockfile") as hub:
        opts = {"lockfile": hub.lock_url}
        with connected("alice", **opts) as alice, connected("bob", **opts) as bob:
            arrived = Arrival[ReceivedMessage]()
            bob.on(SILENT, silent(arrived))
            responses: list[dict[str, Any]] = []
            barrier = Arrival[None]()

            def on_response(key: str, responder: str, tag: str, response: Any) -> None:
                if tag == "barrier":
                    barrier.put(None)
                else:
                    responses.append(response)

            alice.bind_receive_response("twice", on_response)
            alice.bind_receive_response("barrier", on_response)
            alice.ecall(bob.get_public_id(), "twice", SILENT)
            message = arrived.get()
            message.reply({"n": "1"})
            with pytest.raises(SAMPProxyError, match="No call is awaiting a reply"):
                message.reply({"n": "2"})
            alice.ecall(bob.get_public_id(), "barrier", "samp.app.ping")
            barrier.get()  # responses reach alice in order: a duplicate would be here by now
            assert [r["samp.result"] for r in responses] == [{"n": "1"}]


def test_call_answered_twice_resolves_its_future_once_on_any_hub(any_hub: RunningHub) -> None:
    """JSAMP's and pyvo's hubs pass a second reply on (SAMP allows it); the future keeps
    the first, and the client drops the second without complaint."""
    with connected("alice") as alice, connected("bob") as bob:
        arrived = Arrival[ReceivedMessage]()
        bob.on(SILENT, silent(arrived))
        future = alice.call_async(bob.get_public_id(), SILENT, timeout=10)
        message = arrived.get()
        message.reply({"n": "1"})
        with contextlib.suppress(SAMPProxyError):  # our hub refuses it; the others do not
            message.reply({"n": "2"})
        assert alice.request(bob.get_public_id(), "samp.app.ping") == {}  # a barrier
        assert future.result(10).result == {"n": "1"}


# -- the hub restarts -----------------------------------------------------------------------


def test_hub_restarted_gracefully_is_noticed_and_a_new_connect_works(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    client = Client("survivor", lockfile=lockfile.as_uri())
    shut = Arrival[str]()
    client.on("samp.hub.event.shutdown", lambda m: shut.put(m.mtype))
    with Hub(lockfile):
        client.connect()
    shut.get()
    assert client.state is ClientState.HUB_GONE
    with pytest.raises(HubGoneError, match="shutdown"):
        client.ping()
    with Hub(lockfile) as second, connected("other", lockfile=second.lock_url) as other:
        client.connect()
        assert client.is_connected
        assert client.get_public_id() in other.get_registered_clients()
        client.close()


def test_hub_killed_and_restarted_is_noticed_and_a_new_connect_works(
    isolated_samp_env: Path,
) -> None:
    client = Client("survivor")
    with hub_process(isolated_samp_env) as first:
        client.connect()
        first.kill()
    with hub_process(isolated_samp_env):  # it replaces the dead hub's lockfile
        with pytest.raises(HubGoneError):
            client.ping()
        client.connect()
        assert client.is_connected
        client.ping()
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hub_restarted_on_the_same_port_refuses_the_old_key_clearly(
    isolated_samp_env: Path,
) -> None:
    port = str(_free_port())
    client = Client("survivor")
    with hub_process(isolated_samp_env, "--port", port) as first:
        client.connect()
        client.ping()  # a few calls: the hub keeps their connections open
        first.kill()
    started = time.monotonic()
    with hub_process(isolated_samp_env, "--port", port):  # at once, despite TIME_WAIT
        assert time.monotonic() - started < PROMPT
        with pytest.raises(SAMPProxyError, match="register again"):
            client.get_registered_clients()
        client.close()
        client.connect()
        assert client.is_connected
        client.close()
