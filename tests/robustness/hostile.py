"""Hostile input, written once for the robustness tests: bodies, sending, slow loris.

``test_server_hostile_input.py`` aims it at a bare ``XmlRpcServer``,
``test_hostile_peers.py`` at a hub's and a client's endpoints.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import pytest

from minisamp.errors import SAMPProxyError
from minisamp.xmlrpc import codec


class Endpoint(Protocol):
    """Where hostile input goes: an ``XmlRpcServer``, or a hub's or client's (``Target``)."""

    @property
    def address(self) -> tuple[str, int]: ...

    @property
    def path(self) -> str: ...


def request_body(method: str, *values: str) -> bytes:
    """A methodCall of *method* whose params have the given ``<value>`` contents."""
    params = "".join(f"<param><value>{value}</value></param>" for value in values)
    return (
        f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
        f"<params>{params}</params></methodCall>"
    ).encode()


def call_body(value_xml: str, method: str = "echo") -> bytes:
    """A methodCall with one parameter whose <value> content is *value_xml*."""
    return request_body(method, value_xml)


def nested(kind: str, levels: int) -> str:
    """A string *levels* deep inside arrays (*kind* "array") or structs."""
    if kind == "array":
        opening, closing = "<array><data><value>", "</value></data></array>"
    else:
        opening, closing = "<struct><member><name>k</name><value>", "</value></member></struct>"
    return opening * levels + "<string>x</string>" + closing * levels


def post(
    endpoint: Endpoint,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """POST *body* with http.client; return the response (status, body read)."""
    conn = http.client.HTTPConnection(*endpoint.address, timeout=timeout)
    try:
        conn.request("POST", endpoint.path, body, {"Content-Type": "text/xml", **(headers or {})})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def raw(endpoint: Endpoint, data: bytes, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send *data* as-is on a fresh connection; return the HTTP status and body."""
    with socket.create_connection(endpoint.address, timeout=timeout) as sock:
        sock.sendall(data)
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        return reply.status, reply.read()


def fault_of(status: int, body: bytes) -> SAMPProxyError:
    """The fault a response carries (failing the test if it is not one)."""
    assert status == 200
    with pytest.raises(SAMPProxyError) as info:
        codec.parse_response(body)
    return info.value


@contextlib.contextmanager
def slow_loris(
    address: tuple[str, int], request: bytes, connections: int = 8
) -> Iterator[Callable[[], bool]]:
    """For the block: *connections* connections each dribbling *request*, a byte per 20 ms.

    All have sent their first byte when the block starts; they stop when it ends.  The
    block gets a function that is True while every one of them is still dribbling (none
    dropped by the server, none done): what was served meanwhile was served beside them.
    """
    stop = threading.Event()
    started = [threading.Event() for _ in range(connections)]

    def dribble(i: int) -> None:
        with socket.create_connection(address, timeout=5) as sock:
            for k, byte in enumerate(request):
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return
                if k == 0:
                    started[i].set()
                if stop.wait(0.02):
                    return

    attackers = [
        threading.Thread(target=dribble, args=(i,), name=f"loris-{i}") for i in range(connections)
    ]
    try:
        for thread in attackers:
            thread.start()
        for event in started:
            assert event.wait(5)
        yield lambda: all(thread.is_alive() for thread in attackers)
    finally:
        stop.set()
        for thread in attackers:
            thread.join(5)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>echo</methodName>
<params><param><value><string>&lol9;</string></value></param></params></methodCall>"""


def quadratic_blowup() -> bytes:
    entity = "A" * 50_000
    refs = "&a;" * 20_000  # 1 GB if expanded
    return (
        f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "{entity}">]>'
        f"<methodCall><methodName>echo</methodName><params><param><value><string>{refs}"
        "</string></value></param></params></methodCall>"
    ).encode()
