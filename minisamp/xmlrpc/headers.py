"""HTTP/1.1 header blocks, read within ``http.server``'s limits.

A header block is the lines after a request or status line, up to an empty one: at
most :data:`MAX_HEADERS` lines of at most :data:`MAX_LINE` bytes; names ignore case,
the first of a repeated header counts (as with ``email``'s parser, which
``http.server`` uses), and an obsolete folded line continues the header before it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_HEADERS", "MAX_LINE", "HeaderError", "Headers", "read_headers"]

#: Longest request or header line, and most header lines (http.server's limits).
MAX_LINE = 65536
MAX_HEADERS = 100


class Headers(dict[str, str]):
    """Request headers: lower-case name → value; ``get`` ignores case, as ``email``'s."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class HeaderError(Exception):
    """The request's header block breaks a limit (answered with 431)."""


def read_headers(rfile: Any) -> Headers:
    """The header lines read from *rfile* up to the empty one (or the end of input)."""
    headers = Headers()
    last = ""  # the header a folded line continues ("" after a repeated one: ignored)
    for _ in range(MAX_HEADERS + 1):
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeaderError("Line too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        text = line.decode("iso-8859-1")
        if text[0] in " \t":  # an obsolete folded continuation line
            if last:
                headers[last] = f"{headers[last]} {text.strip()}".lstrip()
            continue
        name, colon, value = text.partition(":")
        name = name.strip().lower()
        last = ""
        if colon and name not in headers:  # the first of repeated headers counts, as in email
            headers[name] = value.strip()
            last = name
    raise HeaderError("Too many headers")
