"""Handler registry, reply rules, pyvo adapters, worker pool and inbox (no network)."""

from __future__ import annotations

import threading

import pytest

from minisamp.client.handlers import (
    REPLY_LATER,
    Binding,
    HandlerRegistry,
    Inbox,
    ReceivedMessage,
    WorkerPool,
    error_response,
    pyvo_call_adapter,
    pyvo_notification_adapter,
    response_for,
)
from minisamp.errors import SampDataError
from minisamp.messages import Response


def _binding(pattern: str, tag: str = "") -> Binding:
    return Binding(pattern, lambda msg: {"who": tag or pattern})


def test_most_specific_pattern_handles_the_message() -> None:
    registry = HandlerRegistry()
    for pattern in ("*", "table.*", "table.load.*", "table.load.votable"):
        registry.bind(_binding(pattern))
    found = {m: registry.find(m, call=True) for m in ("table.load.votable", "table.load.fits")}
    assert found["table.load.votable"] is not None
    assert found["table.load.votable"].pattern == "table.load.votable"
    assert found["table.load.fits"] is not None
    assert found["table.load.fits"].pattern == "table.load.*"
    other = registry.find("image.load.fits", call=True)
    assert other is not None and other.pattern == "*"


def test_wildcard_does_not_match_its_own_prefix() -> None:
    registry = HandlerRegistry()
    registry.bind(_binding("file.event.*"))
    assert registry.find("file.event", call=True) is None
    assert registry.find("file.eventx.y", call=True) is None


def test_calls_and_notifications_are_bound_separately() -> None:
    registry = HandlerRegistry()
    registry.bind(_binding("a.b"), notifications=False)
    assert registry.find("a.b", call=True) is not None
    assert registry.find("a.b", call=False) is None
    assert registry.unbind("a.b", notifications=False)
    assert registry.find("a.b", call=True) is None


def test_subscriptions_carry_annotations() -> None:
    registry = HandlerRegistry()
    registry.bind(Binding("image.*", lambda m: None, {"x-samp.mostly-harmless": "1"}))
    assert registry.subscriptions() == {"image.*": {"x-samp.mostly-harmless": "1"}}


def test_bad_pattern_is_refused() -> None:
    with pytest.raises(SampDataError, match="not an MType"):
        HandlerRegistry().bind(_binding("table.*.votable"))


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (None, {"samp.status": "samp.ok", "samp.result": {}}),
        ({"n": 3}, {"samp.status": "samp.ok", "samp.result": {"n": "3"}}),
        (
            Response.error_response("nope"),
            {"samp.status": "samp.error", "samp.error": {"samp.errortxt": "nope"}},
        ),
    ],
)
def test_handler_return_value_becomes_the_reply(
    outcome: object, expected: dict[str, object]
) -> None:
    response = response_for(outcome)
    assert response is not None and response.to_map() == expected


def test_reply_later_sends_nothing_now() -> None:
    assert response_for(REPLY_LATER) is None


def test_handler_returning_nonsense_is_an_error() -> None:
    with pytest.raises(SampDataError, match="return a dict"):
        response_for(42)


def test_exception_becomes_error_with_text_and_traceback() -> None:
    try:
        raise ValueError("bad url: ünïcode")
    except ValueError as exc:
        response = error_response(exc)
    assert response.status == "samp.error"
    assert response.errortxt == "bad url: ?n?code"
    assert "Traceback" in str((response.error or {})["samp.debugtxt"])


def test_received_call_replies_through_its_replier() -> None:
    sent: list[tuple[str, Response]] = []
    msg = ReceivedMessage("a.b", {}, "c1", "m1", _replier=lambda i, r: sent.append((i, r)))
    msg.reply({"ok": True})
    msg.reply_error("failed", code="42")
    assert sent[0] == ("m1", Response.ok({"ok": "1"}))
    assert (sent[1][1].error or {})["samp.code"] == "42"


def test_a_notification_cannot_be_replied_to() -> None:
    with pytest.raises(SampDataError, match="notification"):
        ReceivedMessage("a.b", {}, "c1").reply()


def test_pyvo_call_adapter_passes_pyvo_arguments() -> None:
    seen: list[tuple[object, ...]] = []
    invoke = pyvo_call_adapter(lambda *a: seen.append(a), lambda: "key")
    invoke(ReceivedMessage("a.b", {"p": "1"}, "c1", "m1", {"host": "h"}))
    assert seen == [("key", "c1", "m1", "a.b", {"p": "1"}, {"host": "h"})]


def test_pyvo_notification_adapter_follows_arity() -> None:
    seen: list[tuple[object, ...]] = []

    def five(pk: str, sender: str, mtype: str, params: object, extra: object) -> None:
        seen.append((pk, sender, mtype, params, extra))

    class Receiver:
        def six(
            self, pk: str, sender: str, msg_id: object, mtype: str, params: object, extra: object
        ) -> None:
            seen.append((pk, sender, msg_id, mtype, params, extra))

    msg = ReceivedMessage("a.b", {}, "c1")
    pyvo_notification_adapter(five, lambda: "k")(msg)
    pyvo_notification_adapter(Receiver().six, lambda: "k")(msg)
    assert seen == [("k", "c1", "a.b", {}, {}), ("k", "c1", None, "a.b", {}, {})]


def test_worker_pool_runs_jobs_on_named_daemon_threads_and_joins_them() -> None:
    pool = WorkerPool(3, name="test-pool")
    seen: list[threading.Thread] = []
    done = threading.Event()
    pool.submit(lambda: (seen.append(threading.current_thread()), done.set()))
    assert done.wait(5)
    pool.close()
    assert seen[0].name.startswith("test-pool-") and seen[0].daemon
    assert not seen[0].is_alive()


def test_worker_pool_never_leaves_a_job_behind_a_blocked_one() -> None:
    pool = WorkerPool(4)
    release = threading.Event()
    second_ran = threading.Event()
    pool.submit(lambda: release.wait(10))  # blocks until the second job has run
    pool.submit(second_ran.set)
    assert second_ran.wait(5)
    release.set()
    pool.close()


def test_worker_pool_is_bounded() -> None:
    pool = WorkerPool(2)
    release = threading.Event()
    started = threading.Semaphore(0)
    for _ in range(5):
        pool.submit(lambda: (started.release(), release.wait(10)))
    assert started.acquire(timeout=5) and started.acquire(timeout=5)
    assert not started.acquire(timeout=0.2)
    assert len(pool._threads) == 2
    release.set()
    pool.close()


def test_inbox_yields_messages_until_timeout() -> None:
    closed: list[Inbox] = []
    inbox = Inbox(("*",), 0.05, closed.append)
    msg = ReceivedMessage("a.b", {}, "c1")
    assert inbox.put(msg) is REPLY_LATER
    assert list(inbox) == [msg]
    with inbox:
        pass
    assert closed == [inbox]


def test_inbox_ends_when_the_client_disconnects() -> None:
    inbox = Inbox(("*",), None, lambda i: None)
    inbox.end()
    assert list(inbox) == []
    with pytest.raises(EOFError):
        inbox.get(1)
