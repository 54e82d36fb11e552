"""Fast VOTable writer: astropy writes the header, numpy encodes the rows as BINARY2.

astropy's writer formats every cell in Python (about 20 µs a row).  Here astropy still
writes everything but the rows (FIELDs, PARAMs, INFOs, GROUPs, LINKs, ...); this module
decides how each field is encoded (a :class:`minisamp.tables.binary2.Column`) and
:mod:`minisamp.tables.binary2` encodes each TABLE's rows column by column with numpy into
BINARY2 records, streamed out as base64 in chunks of about 1 MiB, so memory stays bounded.

Tables this module cannot encode go, one by one, to astropy's own TABLEDATA writer:
variable-length multi-dimensional arrays, arrays of strings, variable-length ``bit`` or
``boolean`` arrays, text holding lone surrogates, non-ASCII text in a ``char`` field of a
VOTableFile, object columns holding anything but strings or 1-d numeric arrays.
VOTableFiles older than version 1.3 (no BINARY2) are written by astropy.

Deliberate differences from astropy's writer, each of which would otherwise lose data or
be misread by STIL-based readers (TOPCAT, Aladin):

* bool columns of a Table become ``boolean`` ('T', 'F', '?'), not ``bit``: astropy writes
  a scalar bit as 0x08 and reads bit 3, STIL reads the top bit.  ``bit`` fields of a
  VOTableFile are written as 0x88 for true, which both read as true.
* multi-dimensional columns get their arraysize in VOTable order (first index fastest):
  numpy shape (n, 2, 3) is "3x2"; astropy writes "2x3", which reads back scrambled.
* int8, uint16 and uint32 columns (no VOTable type) widen to short, int and long; uint64
  to long when the values fit; float16 to float.  astropy refuses all of these.
* fixed-width str columns that are pure ASCII are written as ``char`` (one byte a
  character, not two); they read back as str all the same.
* masked strings are written empty, with their null flag set (astropy writes the hidden
  value, and its reader ignores null flags of strings).
* characters outside the Basic Multilingual Plane (emoji, …) in ``unicodeChar`` fields
  are written as UTF-16 surrogate pairs, each counted as two characters in arraysize
  and lengths (astropy and STIL decode them back exactly); astropy's writer cannot
  encode them in BINARY2 and falls back to its slow TABLEDATA writer.
* no warnings the caller did not cause: IDs astropy would derive from names (its
  W03) are not generated, and units are written in VOUnit syntax, as VOTable 1.4
  asks, without astropy's notices about units VOUnit calls deprecated (``erg``,
  ``Angstrom``: legal VOUnit all the same).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from ..errors import MissingDependencyError, SampDataError
from .binary2 import Column, stream_base64, text_profile, utf16_width
from .header import header_from_table, writing_as

if TYPE_CHECKING:
    from astropy.io.votable.tree import TableElement, VOTableFile
    from astropy.table import Table

__all__ = ["plan", "write_votable"]

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 20  # about this many bytes of BINARY2 are encoded at a time
_INSTALL_HINT = "sending tables needs astropy: pip install 'minisamp[tables]'"

# VOTable numeric datatype -> big-endian numpy dtype.
_NUMERIC = {
    "unsignedByte": "u1",
    "short": ">i2",
    "int": ">i4",
    "long": ">i8",
    "float": ">f4",
    "double": ">f8",
    "floatComplex": ">c8",
    "doubleComplex": ">c16",
}
# numpy dtypes VOTable has no type for -> the dtype written instead (values kept exactly).
_WIDEN = {"i1": "i2", "u2": "i4", "u4": "i8", "u8": "i8", "f2": "f4"}


class _Unsupported(Exception):
    """This table needs astropy's own writer; the message says why."""


def write_votable(
    table: Any, destination: str | os.PathLike[str] | BinaryIO, *, name: str | None = None
) -> None:
    """Write an astropy Table/QTable or VOTableFile to a path or binary file, fast.

    The result is a VOTable with BINARY2 data that astropy, TOPCAT and Aladin read back
    with the same values and column metadata.  *name*, if given, is written as the
    (first) table's name, exactly.  Raises :class:`SampDataError` for a value that is not
    a table or cannot be written, :class:`MissingDependencyError` without astropy.
    """
    votable, columns = _to_votable(table)
    with _binary_output(destination) as raw, writing_as(votable, name):
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        try:
            _write_document(votable, columns, text, raw)
        finally:
            text.flush()
            text.detach()


def plan(table: Any) -> tuple[VOTableFile, list[Column] | None]:
    """*table*'s VOTable metadata and how each column of its (only) TABLE is encoded.

    For a Table the VOTableFile holds at most one row, never written as data.  Columns
    are None where astropy's own writer is needed (or a VOTableFile has several tables).
    :mod:`minisamp.tables.fits` writes the same columns as FITS.
    """
    votable, columns = _to_votable(table)
    tables = list(votable.iter_tables())
    if columns is None and table is votable and len(tables) == 1 and len(tables[0].array):
        with contextlib.suppress(_Unsupported):
            columns = _plan_element(tables[0])
    return votable, columns


def _import_astropy() -> Any:
    try:
        from astropy.io.votable import tree
    except ImportError as exc:
        raise MissingDependencyError(_INSTALL_HINT) from exc
    return tree


@contextlib.contextmanager
def _binary_output(destination: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(destination, (str, os.PathLike)):
        with open(destination, "wb") as fh:
            yield fh
    elif isinstance(destination, io.TextIOBase):
        raise SampDataError("write_votable needs a binary file (open it with 'wb')")
    else:
        yield destination


def _to_votable(table: Any) -> tuple[VOTableFile, list[Column] | None]:
    """The VOTableFile to write and, for a Table, the columns of its fast data."""
    tree = _import_astropy()
    from astropy.table import Table

    if isinstance(table, tree.VOTableFile):
        return table, None
    if isinstance(table, Table):
        return _table_to_votable(table)
    raise SampDataError(
        f"cannot write {type(table).__name__!r} as a VOTable: "
        "expected an astropy Table, QTable or VOTableFile"
    )


def _write_document(
    votable: VOTableFile, table_columns: list[Column] | None, text: IO[str], raw: BinaryIO
) -> None:
    version = tuple(int(part) for part in str(votable.version).split(".")[:2])
    tables = [t for t in votable.iter_tables() if len(t.array)]
    if version < (1, 3) or not all(hasattr(t, "_write_tabledata") for t in tables):
        logger.debug("VOTable %s: written by astropy", votable.version)
        _to_xml(votable, text)
        return
    for element in tables:  # astropy calls element._write_binary(2, w) inside <DATA>
        element._write_binary = _data_writer(element, table_columns, text, raw)
    try:
        _to_xml(votable, text, tabledata_format="binary2")
    finally:
        for element in tables:
            del element._write_binary


def _to_xml(votable: VOTableFile, text: IO[str], **kwargs: Any) -> None:
    try:
        votable.to_xml(text, **kwargs)
    except SampDataError:
        raise
    except (TypeError, ValueError) as exc:  # astropy's E/W errors, UnicodeEncodeError, ...
        raise SampDataError(f"cannot write this table as a VOTable: {exc}") from exc


def _data_writer(
    element: TableElement, columns: list[Column] | None, text: IO[str], raw: BinaryIO
) -> Any:
    """A stand-in for ``TableElement._write_binary``, called inside the DATA element."""

    def write(mode: int, w: Any, **kwargs: Any) -> None:
        try:
            planned = columns if columns is not None else _plan_element(element)
        except _Unsupported as exc:
            logger.debug("table %r: astropy TABLEDATA (%s)", element.name, exc)
            element._write_tabledata(w, **kwargs)
            return
        with w.tag("BINARY2"), w.tag("STREAM", encoding="base64"):
            w._flush()  # what astropy's own BINARY2 writer does before writing the text
            text.flush()
            stream_base64(planned, raw, _CHUNK_BYTES)

    return write


# --- Table -> header VOTableFile + columns ---------------------------------------------


def _table_to_votable(table: Table) -> tuple[VOTableFile, list[Column] | None]:
    """A header-only VOTableFile (one row, never written) and the columns to encode.

    Falls back to a complete VOTableFile (and no columns) for astropy's own writer.
    """
    import numpy as np
    from astropy.table.column import BaseColumn
    from astropy.units import Quantity

    mixins = table.columns.not_isinstance((BaseColumn, Quantity))
    if mixins:
        names = [col.info.name for col in mixins]
        raise SampDataError(f"cannot write mixin column(s) {names} to VOTable; convert them")
    prepared = table.copy(copy_data=False)
    for name in table.colnames:
        widened = _WIDEN.get(table[name].dtype.str[1:])
        if widened:
            _check_widening(name, np.asarray(table[name]))
            prepared.replace_column(name, table[name].astype(widened))
    votable = header_from_table(prepared[:1] if len(table) else prepared)
    if not len(table):
        return votable, None
    arrays = [_column_arrays(prepared[name]) for name in table.colnames]
    fields = votable.get_first_table().fields
    try:
        for field, name, (data, mask) in zip(fields, table.colnames, arrays, strict=True):
            _fix_field(field, table[name], data, mask)
        return votable, [_plan_column(f, *arrays[i]) for i, f in enumerate(fields)]
    except _Unsupported as exc:
        logger.debug("table: astropy writer (%s)", exc)
    full = header_from_table(prepared)
    for field, (data, _) in zip(full.get_first_table().fields, arrays, strict=True):
        if data.dtype == np.bool_:
            field.datatype = "boolean"
        _fix_arraysize(field, data.shape[1:])
    return full, None


def _column_arrays(col: Any) -> tuple[Any, Any]:
    """The plain data ndarray of a Table column and its mask (None if nothing masked)."""
    import numpy as np

    if hasattr(col, "unmasked"):  # astropy.utils.masked.Masked (e.g. a masked Quantity)
        data, mask = np.asarray(col.unmasked), np.asarray(col.mask)
    elif isinstance(col, np.ma.MaskedArray):
        data, mask = np.ma.getdata(col), np.ma.getmaskarray(col)
    else:
        data, mask = np.asarray(col), None
    if mask is not None and not mask.any():
        mask = None
    return data, mask


def _check_widening(name: str, data: Any) -> None:
    import numpy as np

    if data.dtype == np.uint64 and data.size and data.max() > np.iinfo(np.int64).max:
        raise SampDataError(f"column {name!r}: uint64 values above 2**63-1 have no VOTable type")


def _fix_field(field: Any, col: Any, data: Any, mask: Any) -> None:
    """Correct what astropy's from_table gets wrong or leaves generic (module docstring)."""
    import numpy as np

    if data.dtype == np.bool_:
        field.datatype = "boolean"
    _fix_arraysize(field, data.shape[1:])
    if data.dtype.kind == "O":
        item_dtype = _object_items(data, mask)
        if item_dtype is not None:
            field.datatype = _votable_datatype(item_dtype)
            if not str(field.arraysize or "").endswith("*"):
                field.arraysize = "*"
            return
    if data.dtype.kind in "UO" and data.ndim == 1:
        meta_type = (col.info.meta or {}).get("_votable_string_dtype")
        profile = text_profile(data, mask)
        field.datatype = (meta_type or "char") if profile == "ascii" else "unicodeChar"
        if profile == "astral" and not str(field.arraysize or "").endswith("*"):
            field.arraysize = str(max(1, utf16_width(data, mask)))


def _fix_arraysize(field: Any, shape: tuple[int, ...]) -> None:
    if len(shape) > 1 and field.arraysize == "x".join(map(str, shape)):
        field.arraysize = "x".join(map(str, reversed(shape)))


def _votable_datatype(dtype: Any) -> str:
    import numpy as np

    native = np.dtype(_WIDEN.get(dtype.str[1:], dtype.str[1:]))
    for datatype, base in _NUMERIC.items():
        if np.dtype(base).newbyteorder("=") == native:
            return datatype
    if dtype == np.bool_:
        raise _Unsupported("variable-length bool arrays")
    raise _Unsupported(f"arrays of {dtype}")


# --- planning: field + data -> Column (or _Unsupported) --------------------------------


def _plan_element(element: TableElement) -> list[Column]:
    import numpy as np

    array = element.array
    data = np.ma.getdata(array)
    mask = None if array.mask is np.ma.nomask else np.ma.getmaskarray(array)
    columns = []
    for field, name in zip(element.fields, data.dtype.names, strict=True):
        col_mask = None if mask is None else mask[name]
        if col_mask is not None and not col_mask.any():
            col_mask = None
        columns.append(_plan_column(field, data[name], col_mask))
    return columns


def _parse_arraysize(arraysize: str | None) -> tuple[list[int], bool]:
    if arraysize is None:
        return [], False
    text = arraysize.strip()
    variable = text.endswith("*")
    parts = text.rstrip("*").split("x")
    try:
        dims = [int(p) for p in parts if p]
    except ValueError as exc:
        raise _Unsupported(f"arraysize {arraysize!r}") from exc
    if variable and "x" in text:
        raise _Unsupported(f"multi-dimensional variable-length arraysize {arraysize!r}")
    return dims, variable


def _plan_column(field: Any, data: Any, mask: Any) -> Column:
    import numpy as np

    datatype = field.datatype
    dims, variable = _parse_arraysize(field.arraysize)
    if datatype in ("char", "unicodeChar"):
        return _plan_text(datatype, dims, variable, data, mask)
    if variable and datatype in ("bit", "boolean"):
        raise _Unsupported(f"variable-length {datatype} arrays")
    if datatype in ("bit", "boolean"):
        if data.dtype != np.bool_:
            raise _Unsupported(f"{datatype} field holding {data.dtype}")
        return Column(datatype, data, mask)
    base = _NUMERIC.get(datatype)
    if base is None:
        raise _Unsupported(f"datatype {datatype!r}")
    fill = field.values.null
    if np.dtype(base).kind in "fc" and fill is None:
        fill = np.nan
    allowed = "biufc" if np.dtype(base).kind == "c" else "biuf"
    if variable and data.dtype == object:
        _object_items(data, mask)
    elif data.dtype.kind not in allowed:
        raise _Unsupported(f"{datatype} field holding {data.dtype}")
    elif variable and data.ndim != 2:
        raise _Unsupported("variable-length field holding fixed scalars")
    elif not variable and math.prod(dims) != math.prod(data.shape[1:]):
        raise _Unsupported(f"arraysize {field.arraysize!r} but data shape {data.shape[1:]}")
    if data.dtype == np.uint64:
        _check_widening(str(field.name), data)
    return Column("num", data, mask, variable=variable, base=base, fill=fill)


def _plan_text(datatype: str, dims: list[int], variable: bool, data: Any, mask: Any) -> Column:
    if len(dims) > 1:
        raise _Unsupported("arrays of strings")
    if data.dtype.kind not in "USO" or data.ndim != 1:
        raise _Unsupported(f"{datatype} field holding {data.dtype} {data.shape[1:]}")
    profile = text_profile(data, mask)
    unicode = datatype == "unicodeChar"
    if profile == "other" or (profile != "ascii" and not unicode):
        raise _Unsupported(f"text not representable as {datatype}")
    width = dims[0] if dims else 1
    if profile == "astral" and not variable and utf16_width(data, mask) > width:
        raise _Unsupported(f"text longer than arraysize {width} in UTF-16")
    return Column("text", data, mask, variable=variable, width=width, unicode=unicode)


def _object_items(data: Any, mask: Any) -> Any:
    """None for an object column of text, the common dtype for one of 1-d numeric arrays."""
    import numpy as np

    texts, arrays, dtypes = False, False, set()
    for i, value in enumerate(data):
        if value is None or (mask is not None and mask[i]):
            continue
        if isinstance(value, (str, bytes)):
            texts = True
            continue
        if not isinstance(value, (np.ndarray, list, tuple)):
            raise _Unsupported(f"object column holding {type(value).__name__}")
        arrays, arr = True, np.asarray(value)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "biufc"):
            raise _Unsupported(f"variable-length value of shape {arr.shape} and {arr.dtype}")
        if arr.size:
            dtypes.add(arr.dtype)
    if texts and arrays:
        raise _Unsupported("object column mixing text and arrays")
    if not arrays:
        return None
    return np.result_type(*dtypes) if dtypes else np.dtype(np.float64)


# --- encoding: columns -> BINARY2 bytes --------------------------------------------------
