"""XML-RPC bodies ⇄ Python values, hardened, with no I/O.

Parsing goes through defusedxml's expat parser (no DTDs, no entity declarations,
no external references) attached to the stdlib ``xmlrpc.client.Unmarshaller`` —
per parser instance, never by patching the stdlib.  Values are then made SAMP data
by :func:`minisamp.datatypes.from_wire` (depth-limited; ``<nil/>``, ``<base64>``,
``<dateTime.iso8601>`` refused).  Writing uses ``xmlrpc.client.dumps`` without
``allow_none`` and escapes CR so that it survives XML line-end normalisation.
"""

from __future__ import annotations

import re
import xmlrpc.client
from typing import Any

from .datatypes import SampValue, from_wire
from .errors import PeerProtocolError, SAMPProxyError

_LEGAL_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd]")

__all__ = ["dump_fault", "dump_request", "dump_response", "parse_request", "parse_response"]


def _unmarshal(body: bytes) -> xmlrpc.client.Unmarshaller:
    # Imported here: defusedxml.xmlrpc loads xmlrpc.server, which `import minisamp` avoids.
    from defusedxml.xmlrpc import DefusedExpatParser

    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    parser.feed(body)
    parser.close()
    return unmarshaller


def parse_request(body: bytes) -> tuple[str, tuple[SampValue, ...]]:
    """``(method name, params)`` from a methodCall body; :class:`PeerProtocolError` if bad."""
    try:
        unmarshaller = _unmarshal(body)
        params = unmarshaller.close()
        method = unmarshaller.getmethodname()
    except Exception as exc:
        raise PeerProtocolError(f"malformed XML-RPC request: {exc}") from exc
    if not isinstance(method, str) or not method:
        raise PeerProtocolError("XML-RPC request has no methodName")
    return method, tuple(from_wire(param) for param in params)


def parse_response(body: bytes) -> SampValue:
    """The value of a methodResponse body; raises :class:`SAMPProxyError` for a fault."""
    try:
        unmarshaller = _unmarshal(body)
        values = unmarshaller.close()
    except xmlrpc.client.Fault as fault:
        code = fault.faultCode if isinstance(fault.faultCode, int) else 1
        raise SAMPProxyError(code, str(fault.faultString)) from None
    except Exception as exc:
        raise PeerProtocolError(f"malformed XML-RPC response: {exc}") from exc
    if len(values) != 1:
        raise PeerProtocolError(f"XML-RPC response holds {len(values)} values, not 1")
    return from_wire(values[0])


def _escape_cr(text: str) -> bytes:
    # Only string contents can hold CR: dumps() itself writes "\n" line ends.
    return text.replace("\r", "&#13;").encode("utf-8")


def dump_request(method: str, params: tuple[Any, ...]) -> bytes:
    """A methodCall body."""
    return _escape_cr(xmlrpc.client.dumps(params, methodname=method, encoding="utf-8"))


def dump_response(value: Any) -> bytes:
    """A methodResponse body for a successful call (void methods should pass ``""``)."""
    return _escape_cr(xmlrpc.client.dumps((value,), methodresponse=True, encoding="utf-8"))


def dump_fault(code: int, text: str) -> bytes:
    """A methodResponse fault body: exactly ``{faultCode: int, faultString: string}``."""
    fault = xmlrpc.client.Fault(int(code), _LEGAL_XML.sub("?", text))
    return _escape_cr(xmlrpc.client.dumps(fault, methodresponse=True, encoding="utf-8"))
