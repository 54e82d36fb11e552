"""Our client against JSAMP's hub and tools: the snooper hears what we send, the
messagesender gets our replies in sync, async and notify modes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from clientutil import Arrival, connected, wait_for_directory
from conftest import RunningHub
from needs import needs
from proclines import Lines

from minisamp import ReceivedMessage, Response

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(120),
    needs("jsamp"),
]


@pytest.fixture
def jsamp_hub(samp_hub_factory: Callable[[str], RunningHub]) -> RunningHub:
    return samp_hub_factory("jsamp")


@contextmanager
def jsamp_tool(*args: str) -> Iterator[Lines]:
    process = subprocess.Popen(
        ["jsamp", *args],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Lines(process.stdout, "test-jsamp-out")
    finally:
        process.terminate()
        process.wait(15)
        assert process.stdout is not None
        process.stdout.close()


def run_jsamp(*args: str) -> str:
    result = subprocess.run(
        ["jsamp", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_snooper_receives_our_notification_and_call(jsamp_hub: RunningHub) -> None:
    with connected("ours") as ours, jsamp_tool("snooper", "-clientname", "snoop") as out:
        wait_for_directory(
            ours, lambda c: any(i.name == "snoop" and "*" in i.subscriptions for i in c.values())
        )
        snoop = ours.find_client_id("snoop")
        ours.enotify(snoop, "test.hello", greeting="hi there", n=3)
        out.wait_for('"n": "3"')
        text = "".join(out.seen)
        assert '"samp.mtype": "test.hello"' in text and '"greeting": "hi there"' in text
        response = ours.ecall_and_wait(snoop, "test.ask", "10", q="x")
        assert response["samp.status"] == "samp.warning"
        assert "not acted on" in response["samp.error"]["samp.errortxt"]
        assert ours.request(snoop, "test.ask", {"q": "y"}, timeout=10) == {}
        out.wait_for('"q": "y"')  # the snooper printed the request's params
        assert ours.notify_all({"samp.mtype": "test.everyone", "samp.params": {}}) == [snoop]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_messagesender_call_gets_our_reply(jsamp_hub: RunningHub, mode: str) -> None:
    with connected("ours") as ours:
        got = Arrival[ReceivedMessage]()
        ours.on("test.ask", lambda m: (got.put(m), {"y": m.params["x"]})[1])
        output = run_jsamp(
            "messagesender",
            "-mtype",
            "test.ask",
            "-param",
            "x",
            "forty-two",
            "-mode",
            mode,
            "-targetname",
            "ours",
        )
        assert got.get().params == {"x": "forty-two"}
        assert '"samp.status": "samp.ok"' in output
        assert '"y": "forty-two"' in output


def test_messagesender_sees_our_error_reply(jsamp_hub: RunningHub) -> None:
    with connected("ours") as ours:
        ours.on("test.fail", lambda m: Response.error_response("refused", usertxt="go away"))
        output = run_jsamp("messagesender", "-mtype", "test.fail", "-targetname", "ours")
        assert '"samp.status": "samp.error"' in output and '"samp.errortxt": "refused"' in output


def test_messagesender_notification_reaches_us(jsamp_hub: RunningHub) -> None:
    with connected("ours") as ours:
        got = Arrival[ReceivedMessage]()
        ours.on("test.note", got.put)
        output = run_jsamp(
            "messagesender",
            "-mtype",
            "test.note",
            "-param",
            "list",
            '["1","2"]',
            "-mode",
            "notify",
            "-targetname",
            "ours",
        )
        msg = got.get()
        assert msg.params == {"list": ["1", "2"]} and msg.msg_id is None
        assert "no response from notify" in output


def test_jsamp_hub_answers_ping_and_by_meta_query(jsamp_hub: RunningHub) -> None:
    with connected("ours") as ours, connected("other") as other:
        assert ours.request(ours.hub_id, "samp.app.ping", timeout=5) == {}
        result = ours.request(
            ours.hub_id, "samp.query.by-meta", {"key": "samp.name", "value": "other"}
        )
        assert result == {"ids": [other.get_public_id()]}
