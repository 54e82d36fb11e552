"""Frames on a byte stream: what the two ends of a bridge write to each other.

A frame is a 9-byte header — kind (1 byte), stream id (4), payload length (4), all
big-endian — then the payload.  Two kinds: ``CONTROL`` (a JSON object, stream 0) and
``DATA`` (a chunk of a file or URL being streamed across, on its stream id).  Payloads
are at most :data:`MAX_PAYLOAD` bytes (a hub's largest XML-RPC body; data frames are
far smaller), so a reader never holds more than that.

The far side first writes :data:`MAGIC`; the near side skips whatever comes before it
(a login banner a shell printed on stdout) and then reads frames.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from ..errors import PeerProtocolError

__all__ = [
    "CONTROL",
    "DATA",
    "MAGIC",
    "MAX_PAYLOAD",
    "PROTOCOL",
    "decode_control",
    "encode_control",
    "encode_frame",
    "read_frame",
    "skip_to_magic",
]

#: The bridge protocol's version: both ends must speak the same one.
PROTOCOL = 1
MAGIC = b"\nMINISAMP-BRIDGE/1\n"
CONTROL = 0
DATA = 1
MAX_PAYLOAD = 32 << 20
_HEADER = struct.Struct(">BII")
#: How much a login banner before the magic may hold.
_MAX_PREAMBLE = 64 * 1024


def encode_frame(kind: int, stream: int, payload: bytes) -> bytes:
    """The bytes of one frame."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    return _HEADER.pack(kind, stream, len(payload)) + payload


def encode_control(message: dict[str, Any]) -> bytes:
    """A CONTROL frame carrying *message* as JSON."""
    return encode_frame(CONTROL, 0, json.dumps(message, separators=(",", ":")).encode())


def decode_control(payload: bytes) -> dict[str, Any]:
    """The JSON object of a CONTROL frame; PeerProtocolError if it is not one."""
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise PeerProtocolError(f"bridge control frame is not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("op"), str):
        raise PeerProtocolError("bridge control frame is not an object with an 'op'")
    return value


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    parts: list[bytes] = []
    while size:
        data = stream.read(size)
        if not data:
            if parts:
                raise PeerProtocolError("the bridge stream ended inside a frame")
            return None
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def read_frame(stream: BinaryIO) -> tuple[int, int, bytes] | None:
    """The next (kind, stream id, payload), or None at a clean end of the stream."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    kind, stream_id, length = _HEADER.unpack(header)
    if kind not in (CONTROL, DATA) or length > MAX_PAYLOAD:
        raise PeerProtocolError(f"bad bridge frame header (kind {kind}, length {length})")
    payload = _read_exactly(stream, length) if length else b""
    if payload is None:
        raise PeerProtocolError("the bridge stream ended inside a frame")
    return kind, stream_id, payload


def skip_to_magic(stream: BinaryIO) -> bytes | None:
    """Read up to and including :data:`MAGIC`; None if the stream ends first.

    Returns what came before it (a banner, or an error the far side printed).
    """
    seen = bytearray()
    while not seen.endswith(MAGIC):
        byte = stream.read(1)
        if not byte:
            return None
        seen += byte
        if len(seen) > _MAX_PREAMBLE + len(MAGIC):
            raise PeerProtocolError(
                "the far side printed more than 64 KiB without starting the bridge protocol"
            )
    return bytes(seen[: -len(MAGIC)])
