"""Hostile input against minisamp.xmlrpc.server.XmlRpcServer.

Each test sends something malformed or malicious over a real loopback socket (raw
or through http.client) to a server with an echo dispatcher, checks the answer
(a fault, or an HTTP error status, or a closed connection), then checks that the
server still answers a well-formed call.

The input and the ways of sending it are in ``hostile.py``, shared with
``test_hostile_peers.py``, which aims the same input at a hub and a client.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hostile import (
    BILLION_LAUGHS,
    call_body,
    fault_of,
    nested,
    post,
    quadratic_blowup,
    raw,
)

from minisamp.xmlrpc import codec
from minisamp.xmlrpc.server import XmlRpcServer
from minisamp.xmlrpc.transport import XmlRpcProxy

MAX_BODY = 1024 * 1024


def echo(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
    return [method, *params]


@pytest.fixture
def server() -> Iterator[XmlRpcServer]:
    srv = XmlRpcServer(echo, name="hostile", max_body=MAX_BODY, idle_timeout=0.5)
    srv.start()
    yield srv
    srv.close()


def assert_still_serves(server: XmlRpcServer) -> None:
    proxy = XmlRpcProxy(server.url, timeout=5)
    try:
        assert proxy.call("echo", "still here") == ["echo", "still here"]
    finally:
        proxy.close()


# -- entity and DTD attacks -------------------------------------------------------------------


def test_billion_laughs_is_refused_with_a_fault(server: XmlRpcServer) -> None:
    fault_of(*post(server, BILLION_LAUGHS))
    assert_still_serves(server)


def test_billion_laughs_does_not_use_much_memory(server: XmlRpcServer) -> None:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fault_of(*post(server, BILLION_LAUGHS))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024


def test_quadratic_blowup_is_refused_quickly_with_a_fault(server: XmlRpcServer) -> None:
    started = time.monotonic()
    fault_of(*post(server, quadratic_blowup()))
    assert time.monotonic() - started < 30  # refused, not expanded
    assert_still_serves(server)


def test_external_entity_is_never_resolved(server: XmlRpcServer, tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        "<methodCall><methodName>echo</methodName><params><param><value><string>&xxe;"
        "</string></value></param></params></methodCall>"
    ).encode()
    status, reply = post(server, body)
    fault_of(status, reply)
    assert b"TOP-SECRET" not in reply
    assert_still_serves(server)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE methodCall SYSTEM "http://127.0.0.1:1/evil.dtd">',
        '<!DOCTYPE methodCall [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p.dtd"> %p;]>',
        "<!DOCTYPE methodCall []>",
    ],
    ids=["external-dtd", "parameter-entity", "empty-internal-dtd"],
)
def test_any_dtd_is_refused_with_a_fault(server: XmlRpcServer, doctype: str) -> None:
    body = call_body("<string>x</string>").replace(b"?>", f"?>{doctype}".encode(), 1)
    fault_of(*post(server, body))
    assert_still_serves(server)


def test_undeclared_entity_reference_is_a_fault(server: XmlRpcServer) -> None:
    fault_of(*post(server, call_body("<string>&undefined;</string>")))
    assert_still_serves(server)


# -- size and framing -------------------------------------------------------------------------


def test_body_over_the_size_cap_gets_413(server: XmlRpcServer) -> None:
    # Only the start of the body is sent: the server answers from the headers alone.
    head = f"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    status, reply = raw(server, head.encode() + call_body("<string>" + "x" * 1000))
    assert status == 413
    assert b"limit" in reply
    assert_still_serves(server)


def test_huge_announced_length_gets_413_without_waiting_for_the_body(
    server: XmlRpcServer,
) -> None:
    started = time.monotonic()
    status, _ = raw(
        server, b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n"
    )
    assert status == 413
    assert time.monotonic() - started < 30  # answered from the headers: no body ever comes
    assert_still_serves(server)


def test_missing_content_length_gets_411(server: XmlRpcServer) -> None:
    body = call_body("<string>x</string>")
    status, _ = raw(server, b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\n\r\n" + body)
    assert status == 411
    assert_still_serves(server)


@pytest.mark.parametrize("value", [b"-1", b"0x10", b"5, 5", b"\xb2", b"1e3", b""])
def test_malformed_content_length_gets_411(server: XmlRpcServer, value: bytes) -> None:
    status, _ = raw(
        server, b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\nabc"
    )
    assert status == 411
    assert_still_serves(server)


def test_chunked_body_gets_411(server: XmlRpcServer) -> None:
    body = call_body("<string>x</string>")
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    request = b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _ = raw(server, request + chunked)
    assert status == 411
    assert_still_serves(server)


def test_compressed_body_gets_415(server: XmlRpcServer) -> None:
    status, _ = post(server, b"\x1f\x8b\x08\x00", {"Content-Encoding": "gzip"})
    assert status == 415
    assert_still_serves(server)


def test_content_length_longer_than_the_body_is_closed_after_the_idle_timeout(
    server: XmlRpcServer,
) -> None:
    with socket.create_connection(server.address, timeout=30) as sock:
        sock.sendall(b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<short/>")
        started = time.monotonic()
        assert sock.recv(4096) == b""  # closed by the server (idle_timeout 0.5 s), no response
        waited = time.monotonic() - started
    assert waited > 0.3  # it waited for the rest of the body first
    assert_still_serves(server)


def test_oversized_request_line_gets_414(server: XmlRpcServer) -> None:
    status, _ = raw(server, b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert status == 414
    assert_still_serves(server)


def test_too_many_headers_get_431(server: XmlRpcServer) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    status, _ = raw(server, b"POST /xmlrpc HTTP/1.1\r\n" + headers + b"\r\n")
    assert status == 431
    assert_still_serves(server)


def test_garbage_instead_of_http_gets_an_error_and_a_closed_connection(
    server: XmlRpcServer,
) -> None:
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert b"400" in reply  # an HTTP/0.9-style error page: there was no valid version
    assert_still_serves(server)


# -- malformed XML-RPC ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        call_body("<string>x</string>")[:-30],
        b"",
        b"<methodCall>",
        b"not xml at all",
        b"<methodCall><params></params></methodCall>",
        b"<methodResponse><params><param><value>x</value></param></params></methodResponse>",
        call_body("<struct><member><name>a</name></member></struct>"),
        call_body("<array><data><value><string>x</string></value>"),
        call_body("<int>not a number</int>"),
        call_body("<boolean>2</boolean>"),
        call_body("<int>" + "9" * 10_000 + "</int>"),
    ],
    ids=[
        "truncated",
        "empty",
        "unclosed",
        "not-xml",
        "no-method-name",
        "response-not-call",
        "member-without-value",
        "unclosed-array",
        "bad-int",
        "bad-boolean",
        "huge-int",
    ],
)
def test_malformed_xml_rpc_gets_a_fault(server: XmlRpcServer, body: bytes) -> None:
    fault_of(*post(server, body))
    assert_still_serves(server)


def test_non_utf8_bytes_get_a_fault(server: XmlRpcServer) -> None:
    body = call_body("<string>PLACEHOLDER</string>").replace(b"PLACEHOLDER", b"\xff\xfe\xc3(")
    fault_of(*post(server, body))
    assert_still_serves(server)


@pytest.mark.parametrize("kind", ["array", "struct"])
def test_ten_thousand_nested_levels_get_a_fault_without_crashing(
    server: XmlRpcServer, kind: str
) -> None:
    fault = fault_of(*post(server, call_body(nested(kind, 10_000))))
    assert "deeper" in fault.faultString
    assert_still_serves(server)


@pytest.mark.parametrize(
    "value_xml",
    [
        "<nil/>",
        "<base64>AAEC</base64>",
        "<dateTime.iso8601>20240101T00:00:00</dateTime.iso8601>",
        "<array><data><value><nil/></value></data></array>",
    ],
    ids=["nil", "base64", "dateTime", "nested-nil"],
)
def test_types_samp_does_not_have_get_a_fault(server: XmlRpcServer, value_xml: str) -> None:
    fault = fault_of(*post(server, call_body(value_xml)))
    assert "not allowed in SAMP" in fault.faultString
    assert_still_serves(server)


@pytest.mark.parametrize(
    ("value_xml", "expected"),
    [
        ("<int>42</int>", "42"),
        ("<i4>-7</i4>", "-7"),
        ("<double>2.5</double>", "2.5"),
        ("<boolean>1</boolean>", "1"),
        ("<boolean>0</boolean>", "0"),
        ("untyped text", "untyped text"),
        (
            "<struct><member><name>n</name><value><int>3</int></value></member></struct>",
            {"n": "3"},
        ),
    ],
    ids=["int", "i4", "double", "true", "false", "untyped", "nested-int"],
)
def test_sloppy_scalar_types_are_coerced_to_strings(
    server: XmlRpcServer, value_xml: str, expected: Any
) -> None:
    status, reply = post(server, call_body(value_xml))
    assert status == 200
    assert codec.parse_response(reply) == ["echo", expected]


# -- slow clients ---------------------------------------------------------------------------
