"""XML-RPC bodies ⇄ Python values, hardened, with no I/O.

Parsing goes through defusedxml's expat parser (no DTDs, no entity declarations,
no external references), per parser instance, never by patching the stdlib.  Its
target, :class:`_Reader`, builds SAMP data directly: it reads the XML-RPC grammar as
``xmlrpc.client.Unmarshaller`` does, makes ``<int>``, ``<boolean>`` and ``<double>``
from sloppy peers into strings (as :func:`minisamp.datatypes.from_wire`), refuses
``<nil/>``, ``<base64>`` and ``<dateTime.iso8601>``, and stops at :data:`MAX_DEPTH`
nested arrays and structs.  Faults (rare) are read by the stdlib ``Unmarshaller``.

Amplification limits, checked as each element *starts* (so that a hostile body is
dropped before expat or we build anything for it): an element XML-RPC does not define
is refused, as are elements nested deeper than :data:`MAX_ELEMENT_DEPTH`, more than
:data:`MAX_ELEMENTS` elements, and more than :data:`MAX_ATTRIBUTES` attributes in a
body (XML-RPC has none; a namespace declaration is one).  What a body may then cost
is a few times its size: each element is at least 7 bytes and makes at most one
small Python object.

Writing SAMP data (strings, lists and string-keyed maps: all that minisamp sends) is
done here by hand, with ``&``, ``<`` and ``>`` escaped and CR written as ``&#13;`` so
that it survives XML line-end normalisation; anything else goes through
``xmlrpc.client.dumps`` (without ``allow_none``), with CR escaped the same way.
"""

from __future__ import annotations

import math
import re
import xmlrpc.client
from collections.abc import Callable
from typing import Any

from ..datatypes import MAX_DEPTH, SampValue
from ..errors import PeerProtocolError, SAMPProxyError

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ELEMENTS",
    "MAX_ELEMENT_DEPTH",
    "dump_fault",
    "dump_request",
    "dump_response",
    "parse_request",
    "parse_response",
]

#: Deepest element nesting: methodCall, params, param, value, then 3 per array/struct level.
MAX_ELEMENT_DEPTH = 3 * MAX_DEPTH + 8
#: Most elements in one body (a 10 000-item list of strings is some 20 000).
MAX_ELEMENTS = 2_000_000
#: Most attributes in one body (XML-RPC defines none; namespace declarations are some).
MAX_ATTRIBUTES = 64
_ATTRIBUTE_TAG = re.compile(rb"<[^!?/<>=\s][^<>=]*=[^<>]*")

_XML_HEADER = "<?xml version='1.0'?>\n"
_not_xml: re.Pattern[str] | None = None  # compiled on first use: it is slow to compile


def _illegal_xml() -> re.Pattern[str]:
    """Characters XML 1.0 cannot carry at all."""
    global _not_xml
    if _not_xml is None:
        _not_xml = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd]")
    return _not_xml


# -- reading ------------------------------------------------------------------------------


_defused_parser: Any = None


def _parser_class() -> Any:
    global _defused_parser
    if _defused_parser is None:
        # Imported now: defusedxml.xmlrpc loads xmlrpc.server, which `import minisamp` avoids.
        from defusedxml.xmlrpc import DefusedExpatParser

        _defused_parser = DefusedExpatParser
    return _defused_parser


def _refuse(tag: str) -> Callable[[_Reader], None]:
    def end(reader: _Reader) -> None:
        raise PeerProtocolError(
            f"XML-RPC type <{tag}> is not allowed in SAMP (only string, array and struct are)"
        )

    return end


def _float_text(text: str) -> str:
    value = float(text)
    return repr(value) if math.isfinite(value) else str(value)


class _Reader:
    """expat target: the values of a methodCall or methodResponse, as SAMP data.

    The grammar is ``xmlrpc.client.Unmarshaller``'s (it is as tolerant: unknown
    elements outside a ``<value>`` are ignored, a ``<value>`` with no type element is
    a string); the conversions are :func:`~minisamp.datatypes.from_wire`'s, done as
    each value ends instead of in a second pass.
    """

    __slots__ = ("depth", "elements", "in_value", "kind", "marks", "method", "stack", "text")

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.marks: list[int] = []  # where each open array or struct starts on the stack
        self.text: list[str] = []
        self.in_value = False  # inside a <value> with no type element (yet)
        self.kind: str | None = None  # "params", "fault" or "methodName", as Unmarshaller
        self.method: str | None = None
        self.depth = 0  # elements open now
        self.elements = 0  # elements started so far

    def xml(self, encoding: str | None, standalone: Any) -> None:
        """Called by the parser with the XML declaration; nothing to do."""

    def start(self, tag: str, attrs: Any) -> None:
        if ":" in tag:
            tag = tag.rpartition(":")[2]
        self.depth += 1
        self.elements += 1
        if tag not in _KNOWN:
            raise PeerProtocolError(f"unknown XML-RPC element <{tag[:40]}>")
        if self.depth > MAX_ELEMENT_DEPTH:
            raise PeerProtocolError(f"XML-RPC elements nested deeper than {MAX_ELEMENT_DEPTH}")
        if self.elements > MAX_ELEMENTS:
            raise PeerProtocolError(f"XML-RPC body with more than {MAX_ELEMENTS} elements")
        if tag == "array" or tag == "struct":
            if len(self.marks) >= MAX_DEPTH:
                raise PeerProtocolError(f"XML-RPC value nested deeper than {MAX_DEPTH} levels")
            self.marks.append(len(self.stack))
        self.text = []
        if self.in_value and tag not in _END:
            raise PeerProtocolError(f"unknown XML-RPC tag {tag!r} in a value")
        self.in_value = tag == "value"

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        self.depth -= 1
        handler = _END.get(tag)
        if handler is None:
            if ":" not in tag:
                return  # an element XML-RPC does not define: ignored, as the stdlib does
            handler = _END.get(tag.rpartition(":")[2])
            if handler is None:
                return
        handler(self)

    # -- what each element's end does --------------------------------------------------

    def end_value(self) -> None:
        if self.in_value:  # no type element inside: a string
            self.stack.append("".join(self.text))
            self.in_value = False

    def end_string(self) -> None:
        self.stack.append("".join(self.text))
        self.in_value = False

    def end_int(self) -> None:
        self.stack.append(str(int("".join(self.text))))
        self.in_value = False

    def end_boolean(self) -> None:
        text = "".join(self.text)
        if text != "0" and text != "1":
            raise PeerProtocolError(f"bad XML-RPC boolean {text[:20]!r}")
        self.stack.append(text)
        self.in_value = False

    def end_double(self) -> None:
        self.stack.append(_float_text("".join(self.text)))
        self.in_value = False

    def end_array(self) -> None:
        mark = self.marks.pop()
        self.stack[mark:] = [self.stack[mark:]]
        self.in_value = False

    def end_struct(self) -> None:
        mark = self.marks.pop()
        items = self.stack[mark:]
        if len(items) % 2:
            raise PeerProtocolError("an XML-RPC struct member lacks its name or its value")
        self.stack[mark:] = [dict(zip(items[::2], items[1::2], strict=True))]
        self.in_value = False

    def end_params(self) -> None:
        self.kind = "params"

    def end_fault(self) -> None:
        self.kind = "fault"

    def end_method_name(self) -> None:
        self.method = "".join(self.text)
        self.kind = "methodName"

    def values(self, what: str) -> tuple[SampValue, ...]:
        """The values read, once the parser has closed."""
        if self.kind is None or self.marks:
            raise PeerProtocolError(f"incomplete XML-RPC {what}")
        return tuple(self.stack)


_END: dict[str, Callable[[_Reader], None]] = {
    "value": _Reader.end_value,
    "string": _Reader.end_string,
    "name": _Reader.end_string,  # struct keys are strings
    "i1": _Reader.end_int,
    "i2": _Reader.end_int,
    "i4": _Reader.end_int,
    "i8": _Reader.end_int,
    "int": _Reader.end_int,
    "biginteger": _Reader.end_int,
    "boolean": _Reader.end_boolean,
    "double": _Reader.end_double,
    "float": _Reader.end_double,
    "array": _Reader.end_array,
    "struct": _Reader.end_struct,
    "params": _Reader.end_params,
    "fault": _Reader.end_fault,
    "methodName": _Reader.end_method_name,
    **{tag: _refuse(tag) for tag in ("nil", "base64", "dateTime.iso8601", "bigdecimal")},
}
#: Every element a methodCall or methodResponse may hold.
_KNOWN = frozenset(_END) | {"methodCall", "methodResponse", "param", "data", "member"}


def _check_attributes(body: bytes | bytearray) -> None:
    """Refuse a body with over :data:`MAX_ATTRIBUTES` attributes before expat reads it:
    expat would build every attribute of a start tag before we see the tag."""
    if body.count(b"=") <= MAX_ATTRIBUTES + 2:  # fast path: the XML declaration has two
        return
    seen = 0
    for match in _ATTRIBUTE_TAG.finditer(body):
        seen += match.group().count(b"=")
        if seen > MAX_ATTRIBUTES + 2:
            raise PeerProtocolError(f"XML-RPC body with more than {MAX_ATTRIBUTES} attributes")


def _read(body: bytes | bytearray, what: str) -> _Reader:
    _check_attributes(body)
    reader = _Reader()
    try:
        parser = _parser_class()(reader, forbid_dtd=True)
        parser._parser.buffer_text = True  # one data() call per text node
        parser.feed(body)
        parser.close()
    except PeerProtocolError:
        raise
    except Exception as exc:
        raise PeerProtocolError(f"malformed XML-RPC {what}: {exc}") from exc
    return reader


def parse_request(body: bytes | bytearray) -> tuple[str, tuple[SampValue, ...]]:
    """``(method name, params)`` from a methodCall body; :class:`PeerProtocolError` if bad."""
    reader = _read(body, "request")
    if reader.kind == "fault":
        raise PeerProtocolError("malformed XML-RPC request: it holds a fault")
    params = reader.values("request")
    method = reader.method
    if not isinstance(method, str) or not method:
        raise PeerProtocolError("XML-RPC request has no methodName")
    return method, params


def parse_response(body: bytes) -> SampValue:
    """The value of a methodResponse body; raises :class:`SAMPProxyError` for a fault."""
    reader = _read(body, "response")
    if reader.kind == "fault":
        _raise_fault(body)
    values = reader.values("response")
    if len(values) != 1:
        raise PeerProtocolError(f"XML-RPC response holds {len(values)} values, not 1")
    return values[0]


def _raise_fault(body: bytes) -> None:
    """Raise the fault *body* holds, read (as it always was) by the stdlib Unmarshaller."""
    unmarshaller = xmlrpc.client.Unmarshaller()
    try:
        parser = _parser_class()(unmarshaller, forbid_dtd=True)
        parser.feed(body)
        parser.close()
        values = unmarshaller.close()
    except xmlrpc.client.Fault as fault:
        code = fault.faultCode if isinstance(fault.faultCode, int) else 1
        raise SAMPProxyError(code, str(fault.faultString)) from None
    except Exception as exc:
        raise PeerProtocolError(f"malformed XML-RPC response: {exc}") from exc
    raise PeerProtocolError(f"malformed XML-RPC fault: {values!r:.100}")


# -- writing ------------------------------------------------------------------------------


class _NotSamp(Exception):
    """A value that is not str / list / tuple / str-keyed dict (or is nested too deep)."""


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _write(value: Any, out: list[str], depth: int) -> None:
    # Each value is exactly what xmlrpc.client's Marshaller writes for it.
    kind = type(value)
    if kind is str:
        out.append(f"<value><string>{_escape(value)}</string></value>")
    elif kind is dict:
        if depth >= 2 * MAX_DEPTH:
            raise _NotSamp  # let the stdlib handle (and refuse) recursive values
        out.append("<value><struct>")
        for key, item in value.items():
            if type(key) is not str:
                raise _NotSamp
            out.append(f"<member><name>{_escape(key)}</name>")
            _write(item, out, depth + 1)
            out.append("</member>")
        out.append("</struct></value>")
    elif kind is list or kind is tuple:
        if depth >= 2 * MAX_DEPTH:
            raise _NotSamp
        out.append("<value><array><data>")
        for item in value:
            _write(item, out, depth + 1)
        out.append("</data></array></value>")
    else:
        raise _NotSamp  # subclasses, numbers, None, …: the stdlib decides


def _escape_cr(text: str) -> bytes:
    # Only string contents can hold CR: dumps() itself writes "\n" line ends.
    return text.replace("\r", "&#13;").encode("utf-8")


def dump_request(method: str, params: tuple[Any, ...]) -> bytes:
    """A methodCall body."""
    out = [f"{_XML_HEADER}<methodCall><methodName>{_escape(method)}</methodName><params>"]
    try:
        for param in params:
            out.append("<param>")
            _write(param, out, 0)
            out.append("</param>")
    except _NotSamp:
        return _escape_cr(xmlrpc.client.dumps(params, methodname=method, encoding="utf-8"))
    out.append("</params></methodCall>\n")
    return "".join(out).encode("utf-8")


def dump_response(value: Any) -> bytes:
    """A methodResponse body for a successful call (void methods should pass ``""``)."""
    out = [f"{_XML_HEADER}<methodResponse><params><param>"]
    try:
        _write(value, out, 0)
    except _NotSamp:
        return _escape_cr(xmlrpc.client.dumps((value,), methodresponse=True, encoding="utf-8"))
    out.append("</param></params></methodResponse>\n")
    return "".join(out).encode("utf-8")


def dump_fault(code: int, text: str) -> bytes:
    """A methodResponse fault body: exactly ``{faultCode: int, faultString: string}``."""
    fault = xmlrpc.client.Fault(int(code), _illegal_xml().sub("?", text))
    return _escape_cr(xmlrpc.client.dumps(fault, methodresponse=True, encoding="utf-8"))
