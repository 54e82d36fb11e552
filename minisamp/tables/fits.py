"""Fast FITS writer: a table as FITS-plus (VOTable metadata + BINTABLE), rows from numpy.

The columns are planned once, by :func:`minisamp.tables.votable.plan`, exactly as for a
VOTable: same widened types, same FIELDs.  Those FIELDs go into the primary HDU
(:mod:`minisamp.tables.fitsplus`); the rows go into a BINTABLE in extension 1 whose
column types decode, in STIL, to the same Java classes as the FIELDs, so TOPCAT and
STILTS read the file with its full VOTable metadata.  Rows are written a chunk at a
time from a packed big-endian record array: the only column-sized copies are of text
columns, encoded to bytes up front (a quarter the size of numpy's ``str``).

Why not astropy's FITS writer (``Table.write(format="fits")``): it builds the whole
BINTABLE in memory, a second full copy of the table, and it is slower (see
docs/benchmarks.md); it also picks ``TNULL`` values that may collide with real data.

Column by column (VOTable FIELD → FITS):

* numbers → ``B I J K E D C M`` with their repeat count (``TDIM`` for 2-d and more);
  masked integers get a ``TNULL`` that no unmasked value takes, masked floats NaN;
* ``boolean``/``bit`` → ``L`` ('T', 'F', and 0 for null);
* ``char``/``unicodeChar`` → ``A`` of the widest value in bytes, UTF-8 (STIL 4.1 shows
  non-ASCII bytes as U+FFFD: :func:`lossless` says no for such tables); masked → "";
* variable-length arrays → ``P`` descriptors into the heap (null → length 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import SampDataError
from .binary2 import Column
from .fitsplus import metadata_document, pad, primary_hdu
from .votable import plan

__all__ = ["FitsUnsupported", "estimated_bytes", "lossless", "write_fits"]

_LETTERS = {"u1": "B", "i2": "I", "i4": "J", "i8": "K", "f4": "E", "f8": "D", "c8": "C"}
_LETTERS["c16"] = "M"
_CHUNK_BYTES = 4 << 20  # rows are packed and written about this many bytes at a time
_HEAP_ROWS = 10_000  # variable-length values joined per write


class FitsUnsupported(SampDataError):
    """This table's columns have no FITS layout here (nothing was written)."""


@dataclass
class _FitsColumn:
    """One BINTABLE column: its cards and how to fill its cells of a chunk of rows."""

    name: str
    tform: str
    dtype: Any  # numpy dtype of one cell in the packed record (with its shape)
    source: Column
    values: Any  # what fills the cells: ndarray (text: bytes), or counts for the heap
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    tnull: int | None = None
    tdim: str | None = None
    heap: Any = None  # variable-length: the non-null rows' items, native byte order


def write_fits(table: Any, fh: BinaryIO) -> None:
    """Write an astropy Table/QTable (or a one-TABLE VOTableFile) to *fh* as FITS-plus.

    Raises :class:`FitsUnsupported` before writing anything for a table whose columns
    need astropy's own VOTable writer, :class:`SampDataError` for other failures.
    """
    votable, columns = plan(table)
    if columns is None:
        raise FitsUnsupported(
            "cannot write this table as FITS: a column has no FITS equivalent; "
            "send it as a VOTable (format='votable')"
        )
    element = votable.get_first_table()
    fits_columns = [_fits_column(f, c) for f, c in zip(element.fields, columns, strict=True)]
    nrows = len(columns[0].data) if columns else 0
    heap = _assign_heap(fits_columns)
    fh.write(primary_hdu(metadata_document(votable)))
    fh.write(_header(fits_columns, nrows, heap, element.name))
    written = _write_rows(fits_columns, nrows, fh) + _write_heap(fits_columns, fh)
    fh.write(b"\0" * pad(written))


def lossless(table: Any) -> bool:
    """Whether STIL (TOPCAT) reads *table* back from FITS-plus exactly as from VOTable.

    False for what FITS cannot carry for STIL: non-ASCII text, or columns that need
    astropy's own VOTable writer.
    """
    try:
        votable, columns = plan(table)
    except SampDataError:
        return False
    if columns is None:
        return False
    return all(_ascii(f.name) for f in votable.get_first_table().fields) and not any(
        col.unicode or (col.kind == "text" and not _ascii_text(col)) for col in columns
    )


def estimated_bytes(table: Any) -> int:
    """Roughly how many bytes *table*'s values take (8 per object cell or mixin row)."""
    import numpy as np

    arrays: list[Any] = []
    if hasattr(table, "columns") and hasattr(table, "colnames"):
        arrays = [table[name] for name in table.colnames]
    elif hasattr(table, "iter_tables"):
        for element in table.iter_tables():
            array = np.ma.getdata(element.array)
            arrays += [array[name] for name in array.dtype.names or ()]
    return sum(
        a.size * (8 if a.dtype.kind == "O" else a.dtype.itemsize)
        if isinstance(a, np.ndarray)
        else 8 * len(a)
        for a in arrays
    )


# --- columns ------------------------------------------------------------------------------


def _ascii(text: str | None) -> bool:
    return text is None or str(text).isascii()


def _ascii_text(col: Column) -> bool:
    import numpy as np

    data = col.data
    if data.dtype.kind == "O":
        return all(
            v is None or (v.isascii() if isinstance(v, (str, bytes)) else False) for v in data
        )
    data = np.ascontiguousarray(data)
    codes = data.view(np.uint32 if data.dtype.kind == "U" else np.uint8)
    return bool(codes.size == 0 or codes.max() < 0x80)


def _fits_column(field: Any, col: Column) -> _FitsColumn:
    fc = _layout(field, col)
    fc.ucd = _plain(field.ucd)
    fc.description = _plain(field.description)
    return fc


def _plain(text: Any) -> str | None:
    """*text* as a header value: ASCII on one line, or None."""
    if text is None:
        return None
    line = " ".join(str(text).split())
    return line if line and line.isascii() else None


def _layout(field: Any, col: Column) -> _FitsColumn:
    import numpy as np

    name = str(field.name).encode("ascii", "replace").decode("ascii")
    unit = _plain(field.unit)
    if col.kind == "text":
        encoded = _encode_text(col)
        width = max(1, encoded.dtype.itemsize)
        return _FitsColumn(name, f"{width}A", np.dtype(f"S{width}"), col, encoded, unit)
    shape = tuple(col.data.shape[1:]) if col.data.dtype != object else ()
    tdim = "(" + ",".join(map(str, reversed(shape))) + ")" if len(shape) > 1 else None
    repeat = math.prod(shape)
    if col.kind in ("boolean", "bit"):
        return _FitsColumn(name, f"{repeat}L", np.dtype(("u1", shape)), col, col.data, unit)
    letter = _LETTERS[np.dtype(col.base).str[1:]]
    if col.variable and col.data.dtype == object:
        return _FitsColumn(name, f"P{letter}", np.dtype((">i4", 2)), col, None, unit)
    tnull = _tnull(col) if col.mask is not None and letter in "BIJK" else None
    cell = np.dtype((col.base, shape))
    return _FitsColumn(name, f"{repeat}{letter}", cell, col, col.data, unit, tnull=tnull, tdim=tdim)


def _encode_text(col: Column) -> Any:
    """The column's text as a fixed-width bytes array, UTF-8, masked and None as b""."""
    import numpy as np

    data, mask = col.data, col.mask
    if data.dtype.kind in "US":
        data = np.ascontiguousarray(data)
    if data.dtype.kind == "U" and (data.size == 0 or data.view(np.uint32).max() < 0x80):
        width = data.dtype.itemsize // 4  # ASCII: one byte a character, no codec needed
        codes = data.view(np.uint32).reshape(len(data), width).astype(np.uint8)
        encoded = codes.view(f"S{max(1, width)}").reshape(len(data)) if width else None
        if encoded is None:
            encoded = np.zeros(len(data), dtype="S1")
    elif data.dtype.kind == "S":
        encoded = data.copy() if mask is not None else data
    else:
        items = [
            b"" if v is None else v if isinstance(v, bytes) else str(v).encode("utf-8")
            for v in data
        ]
        encoded = np.array(items, dtype=bytes) if items else np.zeros(0, dtype="S1")
    if mask is not None:
        encoded[mask] = b""
    return encoded


def _tnull(col: Column) -> int:
    """A value of the column's type that no unmasked cell holds: its null marker."""
    import numpy as np

    info = np.iinfo(np.dtype(col.base))
    present = np.unique(np.asarray(col.data)[~_row_mask(col)])
    for candidate in (info.min, info.max):
        if candidate not in present:
            return int(candidate)
    gaps = np.nonzero(np.diff(present) > 1)[0]
    if not len(gaps):
        raise SampDataError("an integer column uses every value of its type: no null marker")
    return int(present[gaps[0]] + 1)


def _row_mask(col: Column) -> Any:
    return _broadcast(col.mask, col.data)


def _assign_heap(columns: list[_FitsColumn]) -> int:
    """Lay the variable-length columns' items out in the heap; its size in bytes."""
    import numpy as np

    offset = 0
    for fc in columns:
        if not fc.tform.startswith("P"):
            continue
        col = fc.source
        native = np.dtype(col.base).newbyteorder("=")  # big-endian only when written
        items: list[Any] = []
        counts = np.zeros(len(col.data), dtype=np.int64)
        for row, value in enumerate(col.data):
            if value is None or (col.mask is not None and col.mask[row]):
                continue
            if isinstance(value, np.ma.MaskedArray):  # masked items: as the VOTable path
                value = value.data if col.fill is None else value.filled(col.fill)
            items.append(np.asarray(value, dtype=native).reshape(-1))
            counts[row] = items[-1].size
        sizes = counts * native.itemsize
        offsets = np.cumsum(sizes) - sizes + offset
        offset += int(sizes.sum())
        if offset >= 1 << 31:
            raise SampDataError("variable-length arrays over 2 GiB: send this table as VOTable")
        longest = int(counts.max()) if len(counts) else 0
        fc.tform, fc.heap = f"{fc.tform}({longest})", items
        fc.values = np.stack([counts, offsets], axis=1)
    return offset


# --- writing ------------------------------------------------------------------------------


def _header(columns: list[_FitsColumn], nrows: int, heap: int, table_name: Any) -> bytes:
    from astropy.io import fits

    header = fits.Header()
    header["XTENSION"] = ("BINTABLE", "binary table extension")
    header["BITPIX"] = (8, "8-bit bytes")
    header["NAXIS"] = (2, "2-dimensional table")
    header["NAXIS1"] = (sum(fc.dtype.itemsize for fc in columns), "width of table in bytes")
    header["NAXIS2"] = (nrows, "number of rows in table")
    header["PCOUNT"] = (heap, "size of the heap in bytes")
    header["GCOUNT"] = (1, "one table")
    header["TFIELDS"] = (len(columns), "number of columns")
    if table_name and str(table_name).isascii():
        header["EXTNAME"] = str(table_name)[:68]
    for i, fc in enumerate(columns, start=1):
        header[f"TTYPE{i}"] = fc.name
        header[f"TFORM{i}"] = fc.tform
        for key, value in (
            ("TUNIT", fc.unit),
            ("TNULL", fc.tnull),
            ("TDIM", fc.tdim),
            ("TUCD", fc.ucd),  # read by STIL's plain FITS reader (TOPCAT's table.load.fits)
            ("TCOMM", fc.description),
        ):
            if value is not None:
                header[f"{key}{i}"] = value
    try:
        return str(header.tostring()).encode("ascii")
    except ValueError as exc:
        raise SampDataError(f"cannot write this table's FITS header: {exc}") from exc


def _write_rows(columns: list[_FitsColumn], nrows: int, fh: BinaryIO) -> int:
    """Pack the rows a chunk at a time into big-endian records; bytes written."""
    import numpy as np

    record = np.dtype([(f"c{i}", fc.dtype) for i, fc in enumerate(columns)])
    step = max(1, _CHUNK_BYTES // max(1, record.itemsize))
    for start in range(0, nrows, step):
        stop = min(nrows, start + step)
        chunk = np.empty(stop - start, dtype=record)
        for i, fc in enumerate(columns):
            chunk[f"c{i}"] = _cells(fc, start, stop)
        fh.write(chunk.data)
    return nrows * record.itemsize


def _cells(fc: _FitsColumn, start: int, stop: int) -> Any:
    import numpy as np

    col = fc.source
    values = fc.values[start:stop]
    mask = None if col.mask is None else col.mask[start:stop]
    if fc.tform.startswith("P"):
        return values
    if col.kind in ("boolean", "bit"):
        codes = np.where(values, ord("T"), ord("F")).astype(np.uint8)
        if mask is not None:
            codes[_broadcast(mask, codes)] = 0
        return codes
    if col.kind == "text" or mask is None or not mask.any():
        return values
    fill = fc.tnull if fc.tnull is not None else col.fill
    if fill is None:
        return values
    return np.where(_broadcast(mask, values), np.asarray(fill, dtype=values.dtype), values)


def _broadcast(mask: Any, values: Any) -> Any:
    """A per-row or per-element mask shaped like *values*."""
    import numpy as np

    return np.broadcast_to(
        mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim)), values.shape
    )


def _write_heap(columns: list[_FitsColumn], fh: BinaryIO) -> int:
    """The variable-length columns' items, one column after another, big-endian."""
    import numpy as np

    written = 0
    for fc in columns:
        items = fc.heap or []
        for start in range(0, len(items), _HEAP_ROWS):
            block = np.concatenate(items[start : start + _HEAP_ROWS]).astype(fc.source.base)
            fh.write(block.data)
            written += block.nbytes
    return written
