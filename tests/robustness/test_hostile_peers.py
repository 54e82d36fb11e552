"""Hostile input aimed at a running hub and at a connected client's callback server.

``test_server_hostile_input.py`` throws the hostile-body set at a bare
``XmlRpcServer`` with an echo dispatcher.  Here the same set (and more) goes to the
two endpoints a real attacker on this machine can reach: the hub's URL (from the
lockfile) and a registered ``Client``'s callback URL.  Each test is parametrized over
both targets and checks three things: the answer is an XML-RPC fault or an HTTP
error, the hostile request had no effect (the hub's record of the client is
unchanged; the client's handler did not run), and the endpoint still serves the next
good request.
"""

from __future__ import annotations

import functools
import queue
import secrets
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hostile
import pytest
from hostile import (
    BILLION_LAUGHS,
    fault_of,
    nested,
    quadratic_blowup,
    request_body,
    slow_loris,
)

from minisamp import Client, ReceivedMessage
from minisamp.client.callback import FAULT_BAD_KEY
from minisamp.errors import SAMPProxyError
from minisamp.hub import Hub
from minisamp.xmlrpc.server import DEFAULT_MAX_BODY
from minisamp.xmlrpc.transport import XmlRpcProxy

pytestmark = pytest.mark.timeout(30)

NOTE = "test.note"


# -- the two targets ------------------------------------------------------------------------


@dataclass
class Target:
    """An endpoint under attack, with what a good request there does and how to see it.

    ``call(value_xml)`` is a well-formed request with the right private key whose one
    free value is *value_xml*: for the hub ``declareMetadata(key, {"x": value})``, for
    the callback ``receiveNotification(key, hub-id, {samp.mtype: test.note,
    samp.params: {"x": value}})``.  ``observe()`` returns what such a request changes
    (the metadata the hub holds; the params the handler has seen).
    """

    kind: str
    address: tuple[str, int]
    path: str
    key: str
    method: str
    call: Callable[[str], bytes]
    observe: Callable[[], Any]
    still_serves: Callable[[], None]
    keyed_methods: dict[str, int]  # method → arity, each taking the private key first


def string(text: str) -> str:
    return f"<string>{text}</string>"


def struct(**members: str) -> str:
    inner = "".join(
        f"<member><name>{name.replace('_', '.')}</name><value>{value}</value></member>"
        for name, value in members.items()
    )
    return f"<struct>{inner}</struct>"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with Hub(tmp_path_factory.mktemp("hostile") / "lockfile") as running:
        yield running


@pytest.fixture(scope="module")
def victim(hub: Hub) -> Iterator[tuple[Client, queue.Queue[ReceivedMessage]]]:
    """A connected client (one handler thread: messages are handled in order)."""
    seen: queue.Queue[ReceivedMessage] = queue.Queue()
    client = Client("victim", lockfile=hub.lock_url, workers=1)
    client.on(NOTE, seen.put)
    client.connect()
    yield client, seen
    client.close()


def hub_target(hub: Hub, client: Client) -> Target:
    key = client.get_private_key()
    proxy = XmlRpcProxy(hub.url, timeout=5)

    def still_serves() -> None:
        assert proxy.call("samp.hub.ping") == ""
        assert client.get_public_id() not in proxy.call("samp.hub.getRegisteredClients", key)
        assert proxy.call("samp.hub.getMetadata", key, client.get_public_id())["samp.name"]

    host, port = hub._server.address if hub._server else ("", 0)
    return Target(
        kind="hub",
        address=(host, port),
        path="/xmlrpc",
        key=key,
        method="samp.hub.declareMetadata",
        call=lambda value: request_body(
            "samp.hub.declareMetadata", string(key), struct(x=value, samp_name=string("victim"))
        ),
        observe=lambda: proxy.call("samp.hub.getMetadata", key, client.get_public_id()),
        still_serves=still_serves,
        keyed_methods={"samp.hub.getRegisteredClients": 1, "samp.hub.notifyAll": 2},
    )


def callback_target(client: Client, seen: queue.Queue[ReceivedMessage]) -> Target:
    key = client.get_private_key()
    assert client._server is not None
    server = client._server._server
    handled: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while True:
            try:
                handled.append(seen.get_nowait().params)
            except queue.Empty:
                return list(handled)

    def still_serves() -> None:
        marker = secrets.token_hex(4)
        proxy = XmlRpcProxy(server.url, timeout=5)
        try:
            message = {"samp.mtype": NOTE, "samp.params": {"marker": marker}}
            assert proxy.call("samp.client.receiveNotification", key, client.hub_id, message) == ""
        finally:
            proxy.close()
        while not handled or handled[-1] != {"marker": marker}:
            handled.append(seen.get(timeout=5).params)

    def call(value: str) -> bytes:
        message = struct(samp_mtype=string(NOTE), samp_params=struct(x=value))
        return request_body(
            "samp.client.receiveNotification", string(key), string(client.hub_id), message
        )

    return Target(
        kind="callback",
        address=server.address,
        path=server.path,
        key=key,
        method="samp.client.receiveNotification",
        call=call,
        observe=drain,
        still_serves=still_serves,
        keyed_methods={"samp.client.receiveNotification": 3, "samp.client.receiveCall": 4},
    )


@pytest.fixture(params=["hub", "callback"])
def target(
    request: pytest.FixtureRequest,
    hub: Hub,
    victim: tuple[Client, queue.Queue[ReceivedMessage]],
) -> Target:
    client, seen = victim
    if request.param == "hub":
        return hub_target(hub, client)
    return callback_target(client, seen)


# -- sending --------------------------------------------------------------------------------


# As the bare server's tests send, with 10 s (not 5) for an answer.
post = functools.partial(hostile.post, timeout=10.0)
raw = functools.partial(hostile.raw, timeout=10.0)


def assert_refused_without_effect(target: Target, body: bytes) -> SAMPProxyError:
    before = target.observe()
    fault = fault_of(*post(target, body))
    target.still_serves()
    after = target.observe()
    if target.kind == "callback":
        after = after[:-1]  # the good request's own notification
    assert after == before, "the hostile request had an effect"
    return fault


# -- the hostile-body set -------------------------------------------------------------------


def xxe(target: Target, tmp_path: Path) -> bytes:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doctype = f'<!DOCTYPE m [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
    return target.call("<string>&xxe;</string>").replace(b"?>", f"?>{doctype}".encode(), 1)


def with_doctype(doctype: str) -> Callable[[Target, Path], bytes]:
    return lambda t, _: t.call(string("x")).replace(b"?>", f"?>{doctype}".encode(), 1)


HOSTILE_BODIES: dict[str, Callable[[Target, Path], bytes]] = {
    "billion-laughs": lambda t, _: BILLION_LAUGHS,
    "quadratic-blowup": lambda t, _: quadratic_blowup(),
    "xxe": xxe,
    "external-dtd": with_doctype('<!DOCTYPE methodCall SYSTEM "http://127.0.0.1:1/evil.dtd">'),
    "parameter-entity": with_doctype(
        '<!DOCTYPE m [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p.dtd"> %p;]>'
    ),
    "undeclared-entity": lambda t, _: t.call("<string>&nope;</string>"),
    "truncated": lambda t, _: t.call(string("x"))[:-40],
    "empty": lambda t, _: b"",
    "not-xml": lambda t, _: b"\x00\xff garbage \x01",
    "non-utf8": lambda t, _: t.call(string("\u00e9")).replace("\u00e9".encode(), b"\xff\xfe\xc3("),
    "deep-array": lambda t, _: t.call(nested("array", 10_000)),
    "deep-struct": lambda t, _: t.call(nested("struct", 10_000)),
    "just-too-deep": lambda t, _: t.call(nested("array", 70)),
    "nil": lambda t, _: t.call("<nil/>"),
    "base64": lambda t, _: t.call("<base64>AAEC</base64>"),
    "dateTime": lambda t, _: t.call("<dateTime.iso8601>20240101T00:00:00</dateTime.iso8601>"),
    "nil-in-list": lambda t, _: t.call("<array><data><value><nil/></value></data></array>"),
    "raw-control-char": lambda t, _: t.call(string("a\x01b")),
    "nul-char": lambda t, _: t.call(string("a\x00b")),
    "control-char-ref": lambda t, _: t.call(string("a&#1;b")),
    "escape-char-ref": lambda t, _: t.call(string("a&#x1b;[31mred")),
    "huge-int": lambda t, _: t.call("<int>" + "9" * 10_000 + "</int>"),
    "bad-boolean": lambda t, _: t.call("<boolean>2</boolean>"),
    "member-without-value": lambda t, _: t.call("<struct><member><name>a</name></member></struct>"),
    "no-method-name": lambda t, _: b"<methodCall><params></params></methodCall>",
    "response-not-call": lambda t, _: (
        b"<methodResponse><params><param><value>x</value></param></params></methodResponse>"
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_BODIES))
def test_hostile_body_gets_a_fault_has_no_effect_and_the_next_request_works(
    target: Target, case: str, tmp_path: Path
) -> None:
    body = HOSTILE_BODIES[case](target, tmp_path)
    started = time.monotonic()
    fault = assert_refused_without_effect(target, body)
    assert time.monotonic() - started < 30  # refused, not worked through
    assert b"TOP-SECRET" not in fault.faultString.encode()


@pytest.mark.parametrize("case", ["billion-laughs", "quadratic-blowup", "deep-array"])
def test_hostile_body_uses_bounded_memory(target: Target, case: str, tmp_path: Path) -> None:
    body = HOSTILE_BODIES[case](target, tmp_path)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fault_of(*post(target, body))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024 + 4 * len(body)
    target.still_serves()


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<int>42</int>", "42"),
        ("<i4>-7</i4>", "-7"),
        ("<double>2.5</double>", "2.5"),
        ("<boolean>1</boolean>", "1"),
        ("untyped", "untyped"),
    ],
    ids=["int", "i4", "double", "boolean", "untyped"],
)
def test_sloppy_scalar_is_taken_as_its_samp_string(target: Target, xml: str, expected: str) -> None:
    target.observe()  # forget earlier notifications
    status, reply = post(target, target.call(xml))
    assert status == 200 and b"fault" not in reply
    if target.kind == "hub":
        assert target.observe()["x"] == expected
    else:
        target.still_serves()
        assert {"x": expected} in target.observe()


# -- HTTP framing ---------------------------------------------------------------------------


def test_body_over_the_size_cap_gets_413_before_it_is_sent(target: Target) -> None:
    head = f"POST {target.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {DEFAULT_MAX_BODY + 1}\r\n"
    started = time.monotonic()
    status, reply = raw(target, head.encode() + b"\r\n")
    assert status == 413
    assert time.monotonic() - started < 30  # answered from the headers: no body ever comes
    assert b"limit" in reply
    target.still_serves()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"", 411),
        (b"Content-Length: -1\r\n", 411),
        (b"Content-Length: 1e3\r\n", 411),
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 4\r\nContent-Encoding: gzip\r\n", 415),
    ],
    ids=["no-length", "negative-length", "float-length", "chunked", "gzip"],
)
def test_bad_framing_gets_an_http_error(target: Target, headers: bytes, status: int) -> None:
    request = f"POST {target.path} HTTP/1.1\r\nHost: x\r\n".encode() + headers + b"\r\n"
    assert raw(target, request + b"\x1f\x8b\x08\x00")[0] == status
    target.still_serves()


def test_content_length_shorter_than_the_body_gets_a_fault(target: Target) -> None:
    body = target.call(string("x"))
    head = f"POST {target.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body) // 2}\r\n\r\n"
    fault_of(*raw(target, head.encode() + body))
    target.still_serves()


def test_content_length_longer_than_the_body_holds_only_its_own_connection(
    target: Target,
) -> None:
    body = target.call(string("x"))
    head = f"POST {target.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body) + 100}\r\n\r\n"
    with socket.create_connection(target.address, timeout=5) as liar:
        liar.sendall(head.encode() + body)
        target.still_serves()  # served while the liar's request hangs
        liar.settimeout(0.2)
        with pytest.raises(TimeoutError):
            liar.recv(1)  # and the liar got nothing
    target.still_serves()


def test_slow_loris_connections_do_not_delay_a_good_request(target: Target) -> None:
    # 50 headers of 400 bytes, a byte per 20 ms: each slow request would take 400 s
    pad = b"X-Pad: " + b"a" * 400 + b"\r\n"
    request = f"POST {target.path} HTTP/1.1\r\nHost: x\r\n".encode() + pad * 50
    with slow_loris(target.address, request) as still_dribbling:
        for _ in range(3):
            target.still_serves()
        assert still_dribbling(), "served only once the slow connections were gone"
    target.still_serves()


# -- methods, arity and keys ----------------------------------------------------------------

UNKNOWN_METHODS = [
    "samp.hub.notAMethod",
    "samp.client.notAMethod",
    "samp.hub.client",  # a HubService method that is not part of the hub API
    "samp.hub.__init__",
    "samp.client.__class__",
    "system.listMethods",
    "system.multicall",
    "",
    "x" * 10_000,
]


@pytest.mark.parametrize("method", UNKNOWN_METHODS, ids=range(len(UNKNOWN_METHODS)))
def test_unknown_method_gets_a_fault(target: Target, method: str) -> None:
    assert_refused_without_effect(target, request_body(method, string(target.key)))


def test_the_other_roles_methods_get_a_fault(target: Target) -> None:
    method = "samp.client.receiveNotification" if target.kind == "hub" else "samp.hub.register"
    message = struct(samp_mtype=string(NOTE))
    assert_refused_without_effect(
        target, request_body(method, string(target.key), string("hub"), message)
    )


@pytest.mark.parametrize("delta", [-1, +1, +5])
def test_wrong_arity_gets_a_fault(target: Target, delta: int) -> None:
    for method, arity in target.keyed_methods.items():
        values = [string(target.key)] + [string("x")] * (arity - 1 + delta)
        body = request_body(method, *values[: arity + delta])
        fault = assert_refused_without_effect(target, body)
        assert "argument" in fault.faultString


def wrong_keys(target: Target) -> dict[str, str]:
    key = target.key
    return {
        "empty": string(""),
        "guessed": string("k:" + secrets.token_hex(16)),
        "one-char-off": string(key[:-1] + ("0" if key[-1] != "0" else "1")),
        "prefix": string(key[:-4]),
        "longer": string(key + "0"),
        "upper-case": string(key.upper()),
        "trailing-newline": string(key + "\n"),
        "int": "<int>1</int>",
        "list": f"<array><data><value>{string(key)}</value></data></array>",
    }


@pytest.mark.parametrize(
    "which",
    [
        "empty",
        "guessed",
        "one-char-off",
        "prefix",
        "longer",
        "upper-case",
        "trailing-newline",
        "int",
        "list",
    ],
)
def test_wrong_private_key_gets_a_fault_and_has_no_effect(target: Target, which: str) -> None:
    bad = wrong_keys(target)[which]
    body = target.call(string("changed")).replace(string(target.key).encode(), bad.encode(), 1)
    fault = assert_refused_without_effect(target, body)
    assert "key" in fault.faultString.lower()


def test_missing_private_key_gets_a_fault(target: Target) -> None:
    for method in target.keyed_methods:
        assert_refused_without_effect(target, request_body(method))


# -- the client's callback server: forged calls and unknown ids ----------------------------


def test_forged_call_with_a_guessed_key_is_refused_and_never_handled(
    hub: Hub, victim: tuple[Client, queue.Queue[ReceivedMessage]]
) -> None:
    client, seen = victim
    assert client._server is not None
    other = Client("other", lockfile=hub.lock_url, callable=False)
    other.connect()
    try:
        keys = [
            "k:" + secrets.token_hex(16),
            other.get_private_key(),  # a real key, but someone else's
            hub.secret,
            hub.service.hub.private_key,
            client.get_public_id(),
            client.get_private_key()[:-1],
        ]
        proxy = XmlRpcProxy(client._server.url, timeout=5)
        message = {"samp.mtype": NOTE, "samp.params": {"forged": "1"}}
        for n, key in enumerate(keys):
            with pytest.raises(SAMPProxyError) as info:
                proxy.call("samp.client.receiveCall", key, client.hub_id, f"forged-{n}", message)
            assert info.value.faultCode == FAULT_BAD_KEY
        proxy.close()
    finally:
        other.close()
    target = callback_target(client, seen)
    target.observe()
    target.still_serves()
    assert all("forged" not in params for params in target.observe())


def test_response_with_an_unknown_tag_is_dropped_and_pending_calls_still_complete(
    hub: Hub, victim: tuple[Client, queue.Queue[ReceivedMessage]]
) -> None:
    client, _ = victim
    assert client._server is not None
    with Client("echo", lockfile=hub.lock_url) as echo:
        echo.on("test.echo", lambda m: {"n": m.params["n"]})
        future = client.call_async(echo.get_public_id(), "test.echo", {"n": "1"}, timeout=10)
        proxy = XmlRpcProxy(client._server.url, timeout=5)
        for tag in ("no-such-tag", "", "ms-" + "x" * 1000):
            response = {"samp.status": "samp.ok", "samp.result": {"n": "forged"}}
            args = (client.get_private_key(), echo.get_public_id(), tag, response)
            assert proxy.call("samp.client.receiveResponse", *args) == ""
        proxy.close()
        assert future.result(10).result == {"n": "1"}


def test_reply_to_an_unknown_msg_id_is_a_proxy_error_naming_it(
    hub: Hub, victim: tuple[Client, queue.Queue[ReceivedMessage]]
) -> None:
    client, _ = victim
    for msg_id in ("no-such-msg-id", "", "c1_S_999999"):
        with pytest.raises(SAMPProxyError, match="msg-id"):
            client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})
    client.ping()


def test_set_xmlrpc_callback_with_a_malformed_url_gets_a_fault(hub: Hub) -> None:
    proxy = XmlRpcProxy(hub.url, timeout=5)
    reg = proxy.call("samp.hub.register", hub.secret)
    assert isinstance(reg, dict)
    key = reg["samp.private-key"]
    for url in ("ftp://x/", "http://127.0.0.1:99999/x", "http://127.0.0.1:abc/", "http:///p", ""):
        with pytest.raises(SAMPProxyError, match="URL"):
            proxy.call("samp.hub.setXmlrpcCallback", key, url)
    proxy.call("samp.hub.unregister", key)
    proxy.close()
