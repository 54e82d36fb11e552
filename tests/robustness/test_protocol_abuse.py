"""Requests that bend the protocols rather than break them (issue 13, "noticed" items).

Two disagreeing ``Content-Length`` headers (request smuggling), a POST to a path that
is not the XML-RPC endpoint, a message whose type is not an MType, and a page
reaching the Web Profile under another site's name (DNS rebinding).  Each is sent as
an attacker would, over loopback; what it gets is the answer's status, or whether
the message reached anyone.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from hostile import call_body, post, raw
from samp_raw import RawClient
from test_web_profile import Page, hub, std

from minisamp.hub import Hub
from minisamp.xmlrpc.codec import dump_request
from minisamp.xmlrpc.server import XmlRpcServer

pytestmark = pytest.mark.timeout(60)
__all__ = ["hub", "std"]  # fixtures, shared with test_web_profile


@pytest.fixture
def server() -> Iterator[tuple[XmlRpcServer, queue.Queue[Any]]]:
    calls: queue.Queue[Any] = queue.Queue()

    def dispatch(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        calls.put((method, params))
        return ""

    srv = XmlRpcServer(dispatch, name="abuse", idle_timeout=2)
    srv.start()
    yield srv, calls
    srv.close()


def test_two_different_content_lengths_are_refused(
    server: tuple[XmlRpcServer, queue.Queue[Any]],
) -> None:
    srv, calls = server
    body = call_body("<string>x</string>")
    smuggled = b"POST /xmlrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % len(body)
    smuggled += b"Content-Length: 5\r\n\r\n" + body
    status, _ = raw(srv, smuggled)
    assert status == 400
    assert calls.empty()


def test_post_to_another_path_is_not_an_xml_rpc_call(
    server: tuple[XmlRpcServer, queue.Queue[Any]],
) -> None:
    srv, calls = server

    class Elsewhere:
        address = srv.address
        path = "/anything/else"

    status, _ = post(Elsewhere(), call_body("<string>x</string>"))
    assert status == 404
    assert calls.empty()
    assert post(srv, call_body("<string>x</string>"))[0] == 200  # the real path still works


@pytest.mark.parametrize("mtype", ["table.*", "*", "image..load", "table.load.votable "])
def test_a_message_type_that_is_not_an_mtype_reaches_nobody(
    hub: Hub, std: RawClient, mtype: str
) -> None:
    sender = RawClient(hub)
    try:
        with pytest.raises(Exception, match="not an MType"):
            sender.hub("notify", std.id, {"samp.mtype": mtype, "samp.params": {}})
        with pytest.raises(Exception, match="not an MType"):
            sender.hub("notifyAll", {"samp.mtype": mtype, "samp.params": {}})
        sender.hub("notify", std.id, {"samp.mtype": "test.fine", "samp.params": {}})
        seen = []  # every mtype std was sent, up to the good one
        while not seen or seen[-1] != "test.fine":
            method, args = std.next(timeout=10)
            seen.append(args[-1]["samp.mtype"] if method.endswith("Notification") else method)
        assert mtype not in seen
    finally:
        sender.close()


@pytest.mark.parametrize("host", ["attacker.example.org", "attacker.example.org:21012", "10.0.0.1"])
def test_the_web_profile_refuses_another_sites_name(hub: Hub, host: str) -> None:
    assert hub.web_url is not None
    port = hub.web_url.split(":")[2].rstrip("/")
    body = dump_request("samp.webhub.register", ({"samp.name": "Rebound"},))

    class WebEndpoint:
        address = ("127.0.0.1", int(port))
        path = "/"

    assert post(WebEndpoint(), body, {"Host": host})[0] == 403
    for good in ("localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port):
        assert post(WebEndpoint(), body, {"Host": good})[0] == 200
    Page(hub)  # and pages still register
