"""HTTP/1.1 lines and header blocks, read within ``http.server``'s limits.

Both directions read them alike: the server a request's, the transport a response's.
A header block is the lines after the request or status line, up to an empty one: at
most :data:`MAX_HEADERS` lines of at most :data:`MAX_LINE` bytes; names ignore case,
the first of a repeated header counts (as with ``email``'s parser, which
``http.server`` uses; a repeated ``Content-Length`` that disagrees is flagged, for the
server to refuse: :attr:`Headers.conflicting_length`), and an obsolete folded line
continues the header before it (where the reader asks for it: the server does, the
transport never has).  Kept apart
from the server so that a client which only sends does not load it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_HEADERS",
    "MAX_LINE",
    "HeaderError",
    "Headers",
    "LineTooLong",
    "TooManyHeaders",
    "read_headers",
    "read_line",
]

#: Longest request, status or header line, and most header lines (http.server's limits).
MAX_LINE = 65536
MAX_HEADERS = 100


class Headers(dict[str, str]):
    """Headers: lower-case name → value; ``get`` ignores case, as ``email``'s."""

    #: True if two ``Content-Length`` headers disagree (request smuggling: refuse it).
    conflicting_length = False

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class HeaderError(Exception):
    """A header block breaks a limit (a server answers 431); its text is http.server's."""


class LineTooLong(HeaderError):
    """A line is over :data:`MAX_LINE` bytes."""


class TooManyHeaders(HeaderError):
    """A header block is over :data:`MAX_HEADERS` lines."""


def read_line(rfile: Any) -> bytes:
    """The next line from *rfile* (``b""`` at the end), refused past :data:`MAX_LINE`."""
    line: bytes = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise LineTooLong("Line too long")
    return line


def read_headers(rfile: Any, *, unfold: bool = True) -> Headers:
    """The header lines read from *rfile* up to the empty one (or the end of input).

    With *unfold* false, a line starting with white space is read as a header line of
    its own (``name: value``, or skipped without a colon) rather than a continuation.
    """
    headers = Headers()
    last = ""  # the header a folded line continues ("" after a repeated one: ignored)
    for _ in range(MAX_HEADERS + 1):
        line = read_line(rfile)
        if line in (b"\r\n", b"\n", b""):
            return headers
        text = line.decode("iso-8859-1")
        if unfold and text[0] in " \t":  # an obsolete folded continuation line
            if last:
                headers[last] = f"{headers[last]} {text.strip()}".lstrip()
            continue
        name, colon, value = text.partition(":")
        name = name.strip().lower()
        last = ""
        if colon and name not in headers:  # the first of repeated headers counts, as in email
            headers[name] = value.strip()
            last = name
        elif colon and name == "content-length" and value.strip() != headers[name]:
            headers.conflicting_length = True
    raise TooManyHeaders("Too many headers")
