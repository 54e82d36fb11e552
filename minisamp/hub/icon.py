"""The hub's icon (``samp.icon.url``): a small PNG drawn by code, served by the hub.

A 32×32 RGBA image of a hub: a ring with four spokes to a centre, in the blue of the
minisamp docs.  Made once, on first use, with the standard library (zlib, struct).
"""

from __future__ import annotations

import functools
import struct
import zlib

__all__ = ["ICON_PATH", "icon_png"]

#: Where the hub serves its icon on its own HTTP server.
ICON_PATH = "/samp/icon.png"

_SIZE = 32
_BLUE = (31, 95, 170, 255)
_CLEAR = (0, 0, 0, 0)


def _pixel(x: int, y: int) -> tuple[int, int, int, int]:
    dx, dy = x - (_SIZE - 1) / 2, y - (_SIZE - 1) / 2
    r = (dx * dx + dy * dy) ** 0.5
    ring = 11.5 <= r <= 15.0
    hub = r <= 5.0
    spoke = r <= 12.0 and (abs(dx) <= 1.0 or abs(dy) <= 1.0)
    return _BLUE if ring or hub or spoke else _CLEAR


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@functools.cache
def icon_png() -> bytes:
    """The icon as PNG bytes (8-bit RGBA, no interlace)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(_pixel(x, y)) for x in range(_SIZE)) for y in range(_SIZE)
    )
    header = struct.pack(">IIBBBBB", _SIZE, _SIZE, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )
