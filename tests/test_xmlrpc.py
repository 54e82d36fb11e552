"""XML-RPC for SAMP: the codec, the outgoing proxy and the incoming server.

minisamp.xmlrpc.codec, minisamp.xmlrpc.transport and minisamp.xmlrpc.server, tested
against each other over real loopback sockets.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from minisamp.errors import (
    PeerProtocolError,
    SampDataError,
    SAMPProxyError,
    TransportError,
)
from minisamp.xmlrpc import codec
from minisamp.xmlrpc.server import XmlRpcServer
from minisamp.xmlrpc.transport import XmlRpcProxy

LEGAL = "\t\n\r" + "".join(chr(c) for c in range(0x20, 0x80))
NESTED = {"a": ["x", {"b": "y", "c": []}, [["deep"]]], "e": {}, "f": ""}

Dispatcher = Callable[[str, tuple[Any, ...], tuple[str, int]], Any]


def echo(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
    if method == "echo":
        return params[0] if len(params) == 1 else list(params)
    if method == "void":
        return None
    raise SAMPProxyError(1, f"no such method: {method}")


@pytest.fixture
def serve() -> Iterator[Callable[..., XmlRpcServer]]:
    """Start XmlRpcServers (closed after the test): ``serve(dispatcher, **options)``."""
    servers: list[XmlRpcServer] = []

    def start(dispatcher: Dispatcher = echo, **options: Any) -> XmlRpcServer:
        server = XmlRpcServer(dispatcher, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def proxies() -> Iterator[Callable[..., XmlRpcProxy]]:
    """Make XmlRpcProxies (closed after the test): ``proxies(url, **options)``."""
    made: list[XmlRpcProxy] = []

    def make(url: str, **options: Any) -> XmlRpcProxy:
        proxy = XmlRpcProxy(url, **options)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


def raw_post(server: XmlRpcServer, body: bytes) -> tuple[int, bytes]:
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("POST", server.path, body, {"Content-Type": "text/xml"})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def fault_members(body: bytes) -> dict[str, tuple[str, str]]:
    """``{member name: (value type tag, text)}`` of a fault response, read from the raw XML."""
    root = ElementTree.fromstring(body)
    assert root.tag == "methodResponse"
    assert root.find("params") is None
    struct = root.find("fault/value/struct")
    assert struct is not None
    members: dict[str, tuple[str, str]] = {}
    for member in struct.findall("member"):
        value = member.find("value")
        assert value is not None
        (typed,) = list(value)
        members[member.findtext("name", "")] = (typed.tag, typed.text or "")
    assert len(struct.findall("member")) == len(members)
    return members


# -- codec --------------------------------------------------------------------------------


def test_request_round_trips_nested_values() -> None:
    body = codec.dump_request("samp.hub.notifyAll", ("key", NESTED))
    assert codec.parse_request(body) == ("samp.hub.notifyAll", ("key", NESTED))


def test_response_round_trips_nested_values() -> None:
    assert codec.parse_response(codec.dump_response(NESTED)) == NESTED


def test_every_legal_character_survives_a_round_trip_including_cr_and_0x7f() -> None:
    body = codec.dump_response({"text": LEGAL, "list": ["a\r\nb", "\r", "\x7f"]})
    assert codec.parse_response(body) == {"text": LEGAL, "list": ["a\r\nb", "\r", "\x7f"]}
    request = codec.dump_request("m", (LEGAL,))
    assert codec.parse_request(request) == ("m", (LEGAL,))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "a & b < c > d \r\n\t 'q' \"qq\" \x7f",
        "caf\u00e9 \u2603",
        [],
        {},
        ["x", ["y", {"k & <k>": "v\r"}], ("t", "u")],
        NESTED,
    ],
    ids=["empty", "plain", "markup", "non-ascii", "empty-list", "empty-map", "mixed", "nested"],
)
def test_written_xml_means_what_the_stdlib_would_have_written(value: Any) -> None:
    expected = value if not isinstance(value, list) else _lists(value)
    params, method = xmlrpc.client.loads(codec.dump_request("m.x", ("k", value)))
    assert (method, params) == ("m.x", ("k", expected))
    (result,), _ = xmlrpc.client.loads(codec.dump_response(value))
    assert result == expected


def _lists(value: Any) -> Any:
    """*value* with tuples as lists (XML-RPC has only arrays)."""
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize("value", [7, True, 2.5], ids=["int", "bool", "double"])
def test_values_samp_does_not_have_are_written_by_the_stdlib(value: Any) -> None:
    body = codec.dump_response({"n": value})
    assert xmlrpc.client.loads(body)[0] == ({"n": value},)


def test_recursive_value_is_refused_not_looped_over() -> None:
    loop: list[Any] = ["x"]
    loop.append(loop)
    with pytest.raises(TypeError, match="recursive"):
        codec.dump_response(loop)


def test_cr_is_written_as_a_character_reference() -> None:
    body = codec.dump_response("a\rb")
    assert b"a&#13;b" in body
    assert b"\r" not in body


def test_fault_has_exactly_an_int_code_and_a_string() -> None:
    body = codec.dump_fault(42, "no such client: c9")
    assert fault_members(body) == {
        "faultCode": ("int", "42"),
        "faultString": ("string", "no such client: c9"),
    }


def test_fault_text_with_characters_xml_cannot_carry_is_still_parseable() -> None:
    body = codec.dump_fault(1, "bad \x00\x01 byte & <tag> \r end")
    members = fault_members(body)
    assert members["faultCode"] == ("int", "1")
    with pytest.raises(SAMPProxyError) as info:
        codec.parse_response(body)
    assert info.value.faultString == "bad ?? byte & <tag> \r end"


def test_parsing_a_fault_raises_proxy_error_with_code_and_text() -> None:
    with pytest.raises(SAMPProxyError) as info:
        codec.parse_response(codec.dump_fault(7, "no"))
    assert (info.value.faultCode, info.value.faultString) == (7, "no")


def test_void_result_is_an_empty_string_never_nil() -> None:
    body = codec.dump_response("")
    assert b"<value><string></string></value>" in body
    assert b"nil" not in body
    assert codec.parse_response(body) == ""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<methodResponse><params></params></methodResponse>",
        b"<methodResponse><params><param><value>a</value></param>"
        b"<param><value>b</value></param></params></methodResponse>",
    ],
)
def test_malformed_response_is_a_peer_error(body: bytes) -> None:
    with pytest.raises(PeerProtocolError):
        codec.parse_response(body)


def test_request_without_method_name_is_a_peer_error() -> None:
    with pytest.raises(PeerProtocolError):
        codec.parse_request(b"<methodCall><params></params></methodCall>")


# -- server and proxy together -------------------------------------------------------------


def test_call_returns_the_servers_answer(serve: Any, proxies: Any) -> None:
    proxy = proxies(serve().url, timeout=5)
    assert proxy.call("echo", NESTED) == NESTED
    assert proxy.call("echo", "a", ["b"]) == ["a", ["b"]]


def test_void_method_answers_an_empty_string(serve: Any, proxies: Any) -> None:
    server = serve()
    assert proxies(server.url, timeout=5).call("void") == ""
    status, body = raw_post(server, codec.dump_request("void", ()))
    assert status == 200
    assert b"<value><string></string></value>" in body
    assert b"nil" not in body


def test_server_binds_loopback_by_default(serve: Any) -> None:
    server = serve()
    assert server.address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.address[1]}/xmlrpc"


def test_calls_from_one_thread_reuse_one_connection(serve: Any, proxies: Any) -> None:
    ports: list[int] = []

    def record(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        ports.append(client[1])
        return ""

    proxy = proxies(serve(record).url, timeout=5)
    for _ in range(3):
        proxy.call("any")
    assert len(ports) == 3
    assert len(set(ports)) == 1


def test_calls_in_turn_from_two_threads_share_one_connection(serve: Any, proxies: Any) -> None:
    ports: list[int] = []

    def record(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        ports.append(client[1])
        return ""

    proxy = proxies(serve(record).url, timeout=5)
    proxy.call("any")
    other = threading.Thread(target=proxy.call, args=("any",))
    other.start()
    other.join(5)
    assert len(ports) == 2
    assert len(set(ports)) == 1


def test_calls_at_the_same_time_get_a_connection_each(serve: Any, proxies: Any) -> None:
    n = 4
    all_in = threading.Barrier(n)
    ports: list[int] = []

    def rendezvous(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        ports.append(client[1])
        if method == "meet":
            all_in.wait(5)  # breaks (and faults) unless all n calls are in flight at once
        return ""

    proxy = proxies(serve(rendezvous).url, timeout=10)
    threads = [threading.Thread(target=proxy.call, args=("meet",)) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(ports)) == n
    proxy.call("again")  # one of the n idle connections is reused
    assert len(set(ports)) == n


def test_concurrent_calls_from_many_threads_get_their_own_answers(serve: Any, proxies: Any) -> None:
    threads_n, calls_n = 12, 20
    proxy = proxies(serve().url, timeout=10)
    answers: dict[int, list[Any]] = {}
    start = threading.Barrier(threads_n)

    def worker(i: int) -> None:
        start.wait(5)
        answers[i] = [proxy.call("echo", {"who": str(i), "n": str(k)}) for k in range(calls_n)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == {
        i: [{"who": str(i), "n": str(k)} for k in range(calls_n)] for i in range(threads_n)
    }


def test_server_handles_calls_concurrently(serve: Any, proxies: Any) -> None:
    n = 6
    all_in = threading.Barrier(n)

    def rendezvous(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        all_in.wait(5)  # breaks (and faults) unless all n calls are being served at once
        return params[0]

    proxy = proxies(serve(rendezvous).url, timeout=10)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(proxy.call("m", str(i))))
        for i in range(n)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [str(i) for i in range(n)]


def test_burst_of_new_connections_is_served_without_errors_or_stalls(
    serve: Any, proxies: Any
) -> None:
    # Many first calls at once (a hub fanning out, clients registering together) must
    # not overflow the accept backlog: overflow shows as resets or 1 s SYN retries.
    n = 40
    proxy = proxies(serve().url, timeout=5)
    go = threading.Barrier(n)
    latencies: list[float] = []
    errors: list[BaseException] = []

    def first_call(i: int) -> None:
        go.wait(5)
        started = time.monotonic()
        try:
            assert proxy.call("echo", str(i)) == str(i)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(latencies) == n  # every call answered; their latency: python bench/burst.py


def test_call_to_a_server_that_does_not_answer_times_out(serve: Any, proxies: Any) -> None:
    release = threading.Event()
    entered = threading.Event()

    def block(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        entered.set()
        release.wait(60)
        return ""

    proxy = proxies(serve(block).url, timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(TransportError, match="within"):
            proxy.call("slow")
        assert entered.is_set()
        assert time.monotonic() - started < 30  # the server held on for 60 s
    finally:
        release.set()


def test_per_call_timeout_overrides_the_proxys(serve: Any, proxies: Any) -> None:
    release = threading.Event()

    def block(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        if method == "slow":
            release.wait(60)
        return method

    proxy = proxies(serve(block).url, timeout=30)
    started = time.monotonic()
    try:
        with pytest.raises(TransportError):
            proxy.call("slow", timeout=0.3)
        assert time.monotonic() - started < 25  # under the proxy's 30 s: the call's own
    finally:
        release.set()
    assert proxy.call("fast") == "fast"  # the proxy recovers on a fresh connection


def test_dispatcher_fault_reaches_the_caller_with_its_code(serve: Any, proxies: Any) -> None:
    proxy = proxies(serve().url, timeout=5)
    with pytest.raises(SAMPProxyError) as info:
        proxy.call("samp.hub.not-a-method")
    assert info.value.faultCode == 1
    assert info.value.faultString == "no such method: samp.hub.not-a-method"


def test_fault_code_chosen_by_the_dispatcher_is_passed_through(serve: Any, proxies: Any) -> None:
    def refuse(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        raise SAMPProxyError(17, "bad private key")

    with pytest.raises(SAMPProxyError) as info:
        proxies(serve(refuse).url, timeout=5).call("x")
    assert (info.value.faultCode, info.value.faultString) == (17, "bad private key")


def test_fault_on_the_wire_has_exactly_two_members(serve: Any) -> None:
    def refuse(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        raise SAMPProxyError(3, "nope")

    status, body = raw_post(serve(refuse), codec.dump_request("x", ()))
    assert status == 200
    assert fault_members(body) == {"faultCode": ("int", "3"), "faultString": ("string", "nope")}


def test_samp_error_in_dispatcher_becomes_a_fault(serve: Any, proxies: Any) -> None:
    def bad(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        raise SampDataError("samp.params.x is not legal")

    with pytest.raises(SAMPProxyError, match=r"samp\.params\.x"):
        proxies(serve(bad).url, timeout=5).call("x")


def test_unexpected_dispatcher_exception_faults_and_server_keeps_serving(
    serve: Any, proxies: Any
) -> None:
    def flaky(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        if method == "boom":
            raise ZeroDivisionError("oops")
        if method == "unencodable":
            return object()
        return "fine"

    proxy = proxies(serve(flaky).url, timeout=5)
    with pytest.raises(SAMPProxyError, match="internal error"):
        proxy.call("boom")
    assert proxy.call("ok") == "fine"
    with pytest.raises(SAMPProxyError, match="internal error"):
        proxy.call("unencodable")
    assert proxy.call("ok") == "fine"
    assert proxies(proxy.url, timeout=5).call("ok") == "fine"


def test_close_joins_every_server_thread(proxies: Any) -> None:
    before = set(threading.enumerate())
    server = XmlRpcServer(echo, name="joinme")
    server.start()
    # keep-alive connections from two threads stay open on the client side
    proxy = proxies(server.url, timeout=5)
    assert proxy.call("echo", "a") == "a"
    other = threading.Thread(target=proxy.call, args=("echo", "b"))
    other.start()
    other.join(5)
    assert any(t.name.startswith("joinme-conn") for t in threading.enumerate())
    server.close(timeout=5)
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []


def test_close_is_idempotent_and_refuses_new_connections(proxies: Any) -> None:
    server = XmlRpcServer(echo)
    server.start()
    url = server.url
    server.close()
    server.close()
    with pytest.raises(TransportError):
        proxies(url, timeout=2).call("echo", "x")


def test_server_threads_are_named_daemons(serve: Any, proxies: Any) -> None:
    server = serve(name="named")
    proxies(server.url, timeout=5).call("echo", "x")
    ours = [t for t in threading.enumerate() if t.name.startswith("named-")]
    assert {t.name for t in ours} >= {"named-accept"}
    assert any(t.name.startswith("named-conn-") for t in ours)
    assert all(t.daemon for t in ours)


def test_proxy_reconnects_after_the_server_closes_an_idle_connection(
    serve: Any, proxies: Any
) -> None:
    ports: list[int] = []

    def record(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        ports.append(client[1])
        return "ok"

    server = serve(record, name="idle", idle_timeout=0.2)
    proxy = proxies(server.url, timeout=5)
    assert proxy.call("a") == "ok"
    (conn_thread,) = [t for t in threading.enumerate() if t.name.startswith("idle-conn-")]
    conn_thread.join(5)  # the server gave up on the idle connection
    assert not conn_thread.is_alive()
    assert proxy.call("b") == "ok"
    assert len(set(ports)) == 2


# -- transport failures ---------------------------------------------------------------------


def test_call_to_a_closed_port_is_a_transport_error(proxies: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportError, match="refused"):
        proxies(f"http://127.0.0.1:{port}/xmlrpc", timeout=2).call("x")


def test_transport_error_is_an_os_error(proxies: Any) -> None:
    with pytest.raises(OSError):
        proxies("http://127.0.0.1:1/xmlrpc", timeout=2).call("x")


@pytest.mark.parametrize("url", ["https://127.0.0.1:1/", "ftp://h/x", "127.0.0.1:80", "http:///x"])
def test_proxy_refuses_urls_that_are_not_http(url: str) -> None:
    with pytest.raises(TransportError):
        XmlRpcProxy(url)


def test_http_error_status_is_a_transport_error(serve: Any, proxies: Any) -> None:
    proxy = proxies(serve(max_body=10).url, timeout=5)
    with pytest.raises(TransportError, match="HTTP 413"):
        proxy.call("echo", "a request body longer than ten bytes")


def test_get_is_answered_with_404(serve: Any) -> None:
    server = serve()
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", server.path)
        assert conn.getresponse().status == 404
    finally:
        conn.close()


def test_peer_not_admitted_gets_403_before_its_body_is_read_and_is_never_dispatched() -> None:
    dispatched: list[str] = []
    asked: list[tuple[str, int]] = []

    def record(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        dispatched.append(method)
        return ""

    class Refusing(XmlRpcServer):
        def admit(self, client_address: tuple[str, int]) -> bool:
            asked.append(client_address)
            return False

    server = Refusing(record)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=5) as sock:
            # headers promise a body that never comes: only an answer given before
            # reading the body arrives within the timeout
            sock.sendall(
                f"POST {server.path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                "Content-Length: 100\r\n\r\n".encode()
            )
            reply = b""
            while chunk := sock.recv(4096):  # the server closes the connection
                reply += chunk
    finally:
        server.close()
    assert reply.startswith(b"HTTP/1.1 403 ")
    assert asked and asked[0][0] == "127.0.0.1"
    assert dispatched == []


def test_redact_hides_secrets_from_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    class Redacting(XmlRpcServer):
        def redact(self, line: str) -> str:
            return line.replace("k:secret-123", "k:…")

    server = Redacting(echo)
    server.start()
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="minisamp.xmlrpc.server"),
            socket.create_connection(server.address, timeout=5) as sock,
        ):
            sock.sendall(b"GET /k:secret-123 junk HTTP/1.1\r\n\r\n")  # logged as bad syntax
            while sock.recv(4096):
                pass
    finally:
        server.close()
    log = "\n".join(r.getMessage() for r in caplog.records if r.name == "minisamp.xmlrpc.server")
    assert "GET /k:…" in log
    assert "secret-123" not in log


def test_closed_proxy_refuses_calls_until_reopened(serve: Any, proxies: Any) -> None:
    proxy = proxies(serve().url, timeout=5)
    assert proxy.call("echo", "1") == "1"
    proxy.close()
    with pytest.raises(TransportError, match="closed"):
        proxy.call("echo", "2")
    proxy.reopen()
    assert proxy.call("echo", "3") == "3"


def one_shot_server(response: bytes) -> tuple[socket.socket, threading.Thread]:
    """A raw server answering one request with *response* bytes, then closing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            reader = conn.makefile("rb")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            conn.sendall(response)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize("length", [b"\xb2", b"abc", b"-5"])
def test_proxy_tolerates_a_content_length_that_is_not_a_number(proxies: Any, length: bytes) -> None:
    body = codec.dump_response("fine")
    listener, thread = one_shot_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: "
        + length
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    with listener:
        port = listener.getsockname()[1]
        assert proxies(f"http://127.0.0.1:{port}/xmlrpc", timeout=5).call("x") == "fine"
        thread.join(5)


def test_garbage_response_is_a_peer_protocol_error(proxies: Any) -> None:
    body = b"<html>not xml-rpc</html>"
    listener, thread = one_shot_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    with listener:
        port = listener.getsockname()[1]
        with pytest.raises(PeerProtocolError):
            proxies(f"http://127.0.0.1:{port}/xmlrpc", timeout=5).call("x")
        thread.join(5)


def test_wire_log_never_shows_keys_or_secrets(
    serve: Callable[..., XmlRpcServer],
    proxies: Callable[..., XmlRpcProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = proxies(serve(echo).url)
    with caplog.at_level(logging.DEBUG, logger="minisamp.wire"):
        proxy.call(
            "void", "k:private-123", {"samp.private-key": "k:other-456", "samp.secret": "s-789"}
        )
    wire = "\n".join(r.getMessage() for r in caplog.records if r.name == "minisamp.wire")
    assert "<methodName>void</methodName>" in wire
    for secret in ("k:private-123", "k:other-456", "s-789"):
        assert secret not in wire


# -- our own HTTP: what any server may answer, what any client may send ---------------------


def answer_once(proxies: Any, response: bytes) -> Any:
    """Call a one-shot raw server that answers *response*; return what the proxy made of it."""
    listener, thread = one_shot_server(response)
    with listener:
        port = listener.getsockname()[1]
        try:
            return proxies(f"http://127.0.0.1:{port}/xmlrpc", timeout=5).call("x")
        finally:
            thread.join(5)


def test_proxy_reads_a_chunked_response(proxies: Any) -> None:
    body = codec.dump_response({"a": "chunked"})
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\nX: y\r\n\r\n"
    )
    assert answer_once(proxies, response) == {"a": "chunked"}


def test_proxy_skips_an_interim_100_continue(proxies: Any) -> None:
    body = codec.dump_response("after continue")
    response = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(
        body
    )
    assert answer_once(proxies, response + body) == "after continue"


def test_proxy_reads_a_close_delimited_http_1_0_response(proxies: Any) -> None:
    body = codec.dump_response("one point oh")
    assert answer_once(proxies, b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n" + body) == "one point oh"


def test_response_with_too_many_headers_is_a_transport_error(proxies: Any) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    with pytest.raises(TransportError, match="headers"):
        answer_once(proxies, b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: 0\r\n\r\n")


def test_response_announcing_a_huge_body_is_refused_before_reading_it(proxies: Any) -> None:
    with pytest.raises(PeerProtocolError, match="too big"):
        answer_once(proxies, b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n")


def test_truncated_response_is_a_transport_error(proxies: Any) -> None:
    with pytest.raises(TransportError):
        answer_once(proxies, b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<methodRe")


def raw_exchange(server: XmlRpcServer, data: bytes) -> bytes:
    """Send *data* on a fresh connection; everything the server sends until it closes."""
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_server_sends_100_continue_before_reading_the_body(serve: Any) -> None:
    server = serve()
    body = codec.dump_request("echo", ("go on",))
    head = (
        f"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nexpect: 100-continue\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        assert reply.status == 200
        assert codec.parse_response(reply.read()) == "go on"


def test_http_1_0_request_is_answered_and_its_connection_closed(serve: Any) -> None:
    body = codec.dump_request("echo", ("old",))
    request = b"POST /xmlrpc HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    reply = raw_exchange(serve(), request)  # returns once the server has closed
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Date: " in reply
    assert reply.endswith(b"</methodResponse>\n")


def test_folded_header_line_continues_the_previous_header(serve: Any) -> None:
    body = codec.dump_request("echo", ("folded",))
    request = b"POST /xmlrpc HTTP/1.1\r\nConnection:\r\n close\r\nContent-Length: %d\r\n\r\n" % len(
        body
    )
    reply = raw_exchange(serve(), request + body)  # "Connection: close" after unfolding
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("request_line", "status"),
    [(b"PUT /xmlrpc HTTP/1.1", b"501"), (b"POST /xmlrpc HTTP/2.0", b"505")],
    ids=["unknown-method", "http-2"],
)
def test_request_the_server_cannot_serve_gets_an_error(
    serve: Any, request_line: bytes, status: bytes
) -> None:
    reply = raw_exchange(serve(), request_line + b"\r\nContent-Length: 0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 " + status)


CLOSE_DURING_CALL = """
import socket, sys, threading, time
from minisamp.xmlrpc.transport import XmlRpcProxy
server = socket.create_server(("127.0.0.1", 0))
proxy = XmlRpcProxy(f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=None)
caller = threading.Thread(target=lambda: proxy.call("never.answered"), daemon=True)
caller.start()
peer, _ = server.accept()
peer.recv(65536)  # the request is in: the caller waits for an answer that never comes
deadline = time.monotonic() + 10
while sys._current_frames()[caller.ident].f_code.co_name != "readinto":
    assert time.monotonic() < deadline, "the caller never started reading"
    time.sleep(0.01)  # until the caller blocks in the socket read (nothing signals it)
proxy.close()
print("closed", flush=True)
"""


def test_close_returns_while_another_thread_waits_without_a_time_limit(tmp_path: Path) -> None:
    # In a child process: if close() blocks, nothing in this process could interrupt it.
    import minisamp

    env = {**os.environ, "PYTHONPATH": str(Path(minisamp.__file__).parent.parent)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", CLOSE_DURING_CALL],
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
            cwd=tmp_path,  # the minisamp under test, not one in the current directory
        )
    except subprocess.TimeoutExpired:
        pytest.fail("close() did not return while another thread waited for an answer")
    assert "closed" in done.stdout, done.stderr
