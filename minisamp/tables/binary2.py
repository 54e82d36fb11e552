"""BINARY2 rows from numpy columns, vectorised and streamed as base64: nothing else.

BINARY2 (VOTable 1.3 and later) is, per row: a null-flag bitmap of ceil(ncols / 8)
bytes, the first column in the most significant bit, then each field big-endian; a
variable-length value is a 4-byte big-endian count followed by its items;
``unicodeChar`` is UTF-16 big-endian (UCS-2 plus surrogate pairs for characters beyond
the Basic Multilingual Plane, each pair counting as two characters).
:func:`stream_base64` encodes the rows column by column with numpy, a chunk of rows at a
time, so memory stays bounded whatever the table's length; :func:`text_profile` tells
which text a column holds, hence whether and how it can be encoded.

This module knows numpy arrays and the BINARY2 layout only.  Which VOTable field becomes
which :class:`Column`, and which tables cannot be encoded here at all, is decided by
:mod:`minisamp.tables.votable`, which also writes everything around the rows.  numpy is
imported inside the functions that use it.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

__all__ = ["Column", "char_codes", "stream_base64", "text_profile", "utf16_units", "utf16_width"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@dataclass
class Column:
    """How one field is encoded: what to write for each row of ``data``."""

    kind: str  # "num", "bit", "boolean" or "text"
    data: Any  # ndarray, one item per row (object for variable-length values)
    mask: Any  # bool ndarray (per row or per element) or None when nothing is masked
    variable: bool = False
    base: str = ""  # num: big-endian numpy dtype
    fill: Any = None  # num: value written for masked elements (None: keep the data)
    width: int = 0  # text: characters in a fixed-width field
    unicode: bool = False  # text: UCS-2 rather than ASCII


def stream_base64(columns: list[Column], raw: BinaryIO, chunk_bytes: int) -> None:
    """Encode all rows of *columns* as base64 lines into *raw*.

    Rows are encoded a chunk of about *chunk_bytes* bytes at a time; all columns must
    have the same number of rows.
    """
    import numpy as np

    nrows = len(columns[0].data) if columns else 0
    step = max(1, min(1 << 20, chunk_bytes // _row_estimate(columns)))
    carry = np.empty(0, dtype=np.uint8)  # the 0-2 bytes left over from a 3-byte quantum
    for start in range(0, nrows, step):
        block = _encode_rows(columns, start, min(nrows, start + step))
        if carry.size:
            block = np.concatenate([carry, block])
        cut = block.size - block.size % 3
        raw.write(binascii.b2a_base64(block[:cut].data))
        carry = block[cut:].copy()
    if carry.size:
        raw.write(binascii.b2a_base64(carry.data))


def _row_estimate(columns: list[Column]) -> int:
    import numpy as np

    size = (len(columns) + 7) // 8
    for col in columns:
        if col.kind == "text":
            chars = col.width if not col.variable else _sample_length(col.data)
            size += 4 * col.variable + chars * (2 if col.unicode else 1)
        elif col.variable:
            size += 4 + np.dtype(col.base).itemsize * _sample_length(col.data)
        elif col.kind == "num":
            size += np.dtype(col.base).itemsize * int(np.prod(col.data.shape[1:]))
        else:
            size += max(1, col.data[:1].nbytes)
    return max(1, size)


def _sample_length(data: Any) -> int:
    if data.dtype.kind in "US":
        return int(data.dtype.itemsize // (4 if data.dtype.kind == "U" else 1))
    if data.dtype.kind != "O":
        return int(data[:1].size)
    sample = [len(v) for v in data[:256] if v is not None and hasattr(v, "__len__")]
    return max(1, sum(sample) // max(1, len(sample)))


def _encode_rows(columns: list[Column], start: int, stop: int) -> Any:
    """The BINARY2 bytes of rows ``start:stop`` as a flat uint8 array."""
    import numpy as np

    n = stop - start
    flags = np.zeros((n, len(columns)), dtype=bool)
    segments: list[Any] = [None]
    for j, col in enumerate(columns):
        if col.mask is not None:
            m = col.mask[start:stop]
            flags[:, j] = m if m.ndim == 1 else m.reshape(n, -1).all(axis=1)
        segments.extend(_ENCODERS[col.kind](col, start, stop, flags[:, j]))
    segments[0] = np.packbits(flags, axis=1)
    return _assemble(segments, n)


def _encode_num(col: Column, start: int, stop: int, nulls: Any) -> list[Any]:
    import numpy as np

    values = col.data[start:stop]
    n = len(values)
    if col.variable:
        return _encode_num_variable(col, values, nulls)
    if col.mask is not None and col.fill is not None:
        m = col.mask[start:stop]
        if m.any():
            m = m.reshape(m.shape + (1,) * (values.ndim - m.ndim))
            values = np.where(m, col.fill, values)
    return [np.ascontiguousarray(values, dtype=col.base).reshape(n, -1).view(np.uint8)]


def _encode_num_variable(col: Column, values: Any, nulls: Any) -> list[Any]:
    import numpy as np

    n = len(values)
    if values.dtype != object:  # a fixed 2-d array written as variable-length rows
        counts = np.where(nulls, 0, values.shape[1]).astype(">i4")
        items = np.ascontiguousarray(values, dtype=col.base).view(np.uint8)
        sizes = np.where(nulls, 0, items.shape[1])
        return [counts.reshape(n, 1).view(np.uint8), (sizes, items[~nulls].reshape(-1))]
    parts = []
    counts = np.zeros(n, dtype=">i4")
    for i, value in enumerate(values):
        if value is None or nulls[i]:
            continue
        data = np.ma.getdata(value)
        if col.fill is not None and np.ma.is_masked(value):
            data = np.where(np.ma.getmaskarray(value), np.asarray(col.fill, dtype=data.dtype), data)
        parts.append(np.asarray(data, dtype=col.base).reshape(-1))
        counts[i] = parts[-1].size
    flat = np.concatenate(parts).astype(col.base) if parts else np.empty(0, dtype=col.base)
    sizes = counts.astype(np.int64) * np.dtype(col.base).itemsize
    return [counts.reshape(n, 1).view(np.uint8), (sizes, flat.view(np.uint8))]


def _encode_bit(col: Column, start: int, stop: int, nulls: Any) -> list[Any]:
    import numpy as np

    values = np.asarray(col.data[start:stop], dtype=bool)
    n = len(values)
    if values.ndim == 1:  # 0x88: astropy reads bit 3, STIL (and the standard) bit 7
        return [np.where(values & ~nulls, 0x88, 0).astype(np.uint8).reshape(n, 1)]
    return [np.packbits(values.reshape(n, -1), axis=1)]


def _encode_boolean(col: Column, start: int, stop: int, nulls: Any) -> list[Any]:
    import numpy as np

    values = np.asarray(col.data[start:stop], dtype=bool)
    codes = np.where(values, ord("T"), ord("F")).astype(np.uint8)
    if col.mask is not None:
        codes[col.mask[start:stop]] = ord("?")
    return [codes.reshape(len(values), -1)]


def _encode_text(col: Column, start: int, stop: int, nulls: Any) -> list[Any]:
    import numpy as np

    codes = _text_codes(col.data[start:stop], nulls)
    if col.unicode:
        codes = utf16_units(codes)
    n, width = codes.shape
    char = np.dtype(">u2" if col.unicode else "u1")
    if not col.variable:
        out = np.zeros((n, col.width), dtype=char)
        k = min(width, col.width)
        out[:, :k] = codes[:, :k]
        return [out.view(np.uint8)]
    nonzero = codes != 0
    lengths = np.where(nonzero.any(axis=1), width - np.argmax(nonzero[:, ::-1], axis=1), 0)
    flat = codes[np.arange(width) < lengths[:, None]].astype(char)
    counts = lengths.astype(">i4").reshape(n, 1).view(np.uint8)
    return [counts, (lengths * char.itemsize, flat.view(np.uint8))]


def _text_codes(values: Any, nulls: Any) -> Any:
    """Character codes (uint32, shape (n, width)) of a chunk of text, nulls blanked."""
    import numpy as np

    if values.dtype.kind == "O":
        texts = [
            "" if v is None or nulls[i] else v.decode("ascii") if isinstance(v, bytes) else v
            for i, v in enumerate(values)
        ]
        return char_codes(np.array(texts, dtype=str))
    codes = char_codes(np.ascontiguousarray(values))
    if nulls.any():
        codes = np.where(nulls[:, None], 0, codes)
    return codes


def utf16_units(codes: Any) -> Any:
    """Rows of character codes (uint32, (n, width)) as rows of UTF-16 code units.

    Characters beyond U+FFFF become surrogate pairs, so a row may grow; rows keep
    their trailing zeros (padding).  Returned unchanged when there are none.  The
    codec does the encoding (in C); numpy only lays each row out again.
    """
    import numpy as np

    extra = (codes >= 0x10000).sum(axis=1)  # one more unit per character beyond U+FFFF
    if not extra.any():
        return codes
    n, width = codes.shape
    text = np.ascontiguousarray(codes, dtype="<u4").tobytes().decode("utf-32-le")
    units = np.frombuffer(text.encode("utf-16-le"), dtype="<u2")  # row r: width + extra[r]
    per_row = width + extra
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(per_row[:-1], out=starts[1:])
    row = np.repeat(np.arange(n), per_row)
    out_width = width + int(extra.max())
    out = np.zeros((n, out_width), dtype=codes.dtype)
    out.reshape(-1)[row * out_width + np.arange(units.size) - starts[row]] = units
    return out


def char_codes(array: Any) -> Any:
    """Character codes of a 1-d str (uint32) or bytes (uint8) array, shape (n, width)."""
    import numpy as np

    n = len(array)
    if array.dtype.kind == "U":
        return array.view(np.uint32).reshape(n, -1)
    return array.view(np.uint8).reshape(n, -1)


def text_profile(data: Any, mask: Any) -> str:
    """What a column of text needs: 'ascii' (``char``), 'bmp' (UCS-2), 'astral' (beyond
    the Basic Multilingual Plane too: UTF-16) or 'other' (not encodable here)."""
    import numpy as np

    if data.dtype.kind == "O":
        return _object_text_profile(data, mask)
    codes = char_codes(np.ascontiguousarray(data))
    if mask is not None:
        codes = codes[~mask]
    top = int(codes.max()) if codes.size else 0
    if top < 0x80:
        return "ascii"
    if data.dtype.kind == "S":
        return "other"
    if top >= 0xD800 and ((codes >= 0xD800) & (codes < 0xE000)).any():
        return "other"  # lone surrogates: neither XML nor UTF-16 can carry them
    return "bmp" if top < 0x10000 else "astral"


def _object_text_profile(data: Any, mask: Any) -> str:
    profile = "ascii"
    for i, value in enumerate(data):
        if value is None or (mask is not None and mask[i]):
            continue
        if isinstance(value, bytes):
            if not value.isascii():
                return "other"
        elif isinstance(value, str):
            if not value.isascii():
                if _SURROGATE.search(value):
                    return "other"
                if _ASTRAL.search(value):
                    profile = "astral"
                elif profile == "ascii":
                    profile = "bmp"
        else:
            return "other"  # not text at all
    return profile


def utf16_width(data: Any, mask: Any) -> int:
    """The most UTF-16 code units any unmasked value of a text column needs."""
    import numpy as np

    if data.dtype.kind == "O":
        lengths = [
            len(v) + len(_ASTRAL.findall(v)) if isinstance(v, str) else len(v)
            for i, v in enumerate(data)
            if v is not None and not (mask is not None and mask[i])
        ]
        return max(lengths, default=0)
    codes = char_codes(np.ascontiguousarray(data))
    if mask is not None:
        codes = codes[~mask]
    if not codes.size:
        return 0
    nonzero = codes != 0
    width = codes.shape[1]
    chars = np.where(nonzero.any(axis=1), width - np.argmax(nonzero[:, ::-1], axis=1), 0)
    return int((chars + (codes >= 0x10000).sum(axis=1)).max())


_ENCODERS = {
    "num": _encode_num,
    "bit": _encode_bit,
    "boolean": _encode_boolean,
    "text": _encode_text,
}


def _assemble(segments: list[Any], n: int) -> Any:
    """Interleave per-row segments into one flat uint8 buffer, row after row.

    A segment is either an (n, width) uint8 array or a pair (sizes, flat) of per-row byte
    counts and the rows' bytes laid end to end.
    """
    import numpy as np

    if all(not isinstance(s, tuple) for s in segments):
        return np.concatenate(segments, axis=1).reshape(-1) if segments else np.empty(0)
    sizes = np.zeros(n, dtype=np.int64)
    for seg in segments:
        sizes += seg[0] if isinstance(seg, tuple) else seg.shape[1]
    cursor = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=cursor[1:])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    for seg in segments:
        if isinstance(seg, tuple):
            seg_sizes, flat = seg
            begins = np.zeros(n, dtype=np.int64)
            np.cumsum(seg_sizes[:-1], out=begins[1:])
            out[np.repeat(cursor - begins, seg_sizes) + np.arange(flat.size)] = flat
            cursor += seg_sizes
        else:
            width = seg.shape[1]
            out[cursor[:, None] + np.arange(width)] = seg
            cursor += width
    return out
