"""STIL's FITS-plus layout: a FITS table whose primary HDU carries its VOTable metadata.

A FITS-plus file (as STIL's ``FitsPlusTableWriter`` writes it, and TOPCAT, STILTS and
every STIL-based reader read it) is an ordinary FITS file with a BINTABLE in extension
1, whose primary HDU is a 1-d byte array holding a VOTable document: the table's
metadata (names, units, UCDs, descriptions, PARAMs, INFOs, GROUPs, LINKs) with one
TABLE per extension and no DATA element.  STIL recognises it by the first five header
cards, exactly ``SIMPLE = T``, ``BITPIX = 8``, ``NAXIS = 1``, ``NAXIS1 = <bytes>``,
``VOTMETA = T``; ``EXTEND = T`` follows.  STIL then takes values from the BINTABLE and
metadata from the VOTable, provided each FIELD decodes to the same Java class as its
FITS column (so the BINTABLE must be written to match the FIELDs:
:mod:`minisamp.tables.fits` does).

This module writes the primary HDU (:func:`primary_hdu`, :func:`metadata_document`),
recognises it (:func:`is_fitsplus`) and reads a whole file back with astropy as the
VOTable path would (:func:`read_fitsplus`).  astropy and numpy are imported lazily.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from astropy.io.votable.tree import VOTableFile
    from astropy.table import Table

__all__ = ["BLOCK", "is_fitsplus", "metadata_document", "pad", "primary_hdu", "read_fitsplus"]

BLOCK = 2880  # bytes in a FITS block: headers and data are padded to a multiple of it
_COMMENTS = (
    " ",
    "This header consists of bytes which comprise a VOTABLE document.",
    "The VOTable describes the metadata of the table contained",
    "in the following BINTABLE extension.",
    "The BINTABLE extension can be used on its own as a perfectly",
    "good table, but the information from this HDU may provide some",
    "useful additional metadata.",
)
# The cards STIL's FitsPlusTableBuilder.isMagic checks, in this order, then EXTEND.
_MAGIC = (("SIMPLE", "T"), ("BITPIX", "8"), ("NAXIS", "1"), ("NAXIS1", None), ("VOTMETA", "T"))


def pad(size: int) -> int:
    """Bytes of padding after *size* bytes to end on a FITS block."""
    return -size % BLOCK


def _card(key: str, value: str, comment: str = "") -> str:
    """A fixed-format card: key, ``= ``, value right-justified to column 30, comment."""
    text = f"{key:<8}= {value:>20}"
    if comment:
        text += f" / {comment}"
    return f"{text:<80}"[:80]


def primary_hdu(metadata: bytes) -> bytes:
    """The FITS-plus primary HDU (header and padded data) holding *metadata*."""
    cards = [
        _card("SIMPLE", "T", "Standard FITS format"),
        _card("BITPIX", "8", "Character data"),
        _card("NAXIS", "1", "Text string"),
        _card("NAXIS1", str(len(metadata)), "Number of characters"),
        _card("VOTMETA", "T", "Table metadata in VOTABLE format"),
        _card("EXTEND", "T", "There are standard extensions"),
        *(f"COMMENT {line}".ljust(80) for line in _COMMENTS),
        "END".ljust(80),
    ]
    header = "".join(cards).encode("ascii")
    header += b" " * pad(len(header))
    return header + metadata + b"\0" * pad(len(metadata))


def is_fitsplus(head: bytes) -> bool:
    """Whether *head* (a file's first bytes) starts with a FITS-plus primary header."""
    for i, (key, value) in enumerate(_MAGIC):
        card = head[80 * i : 80 * i + 80].decode("ascii", "replace")
        if len(card) < 80 or card[:8].rstrip() != key or card[8:10] != "= ":
            return False
        if value is not None and card[10:].split("/")[0].strip() != value:
            return False
    return True


def metadata_document(votable: VOTableFile) -> bytes:
    """*votable* as UTF-8 XML with no DATA in any TABLE: the primary HDU's content."""
    tables = list(votable.iter_tables())
    arrays = [table.array for table in tables]
    try:
        for table in tables:  # astropy writes <DATA> only for a table that has rows
            table.array = table.array[:0]
        out = io.BytesIO()
        votable.to_xml(out)
    finally:
        for table, array in zip(tables, arrays, strict=True):
            table.array = array
    return out.getvalue()


def read_fitsplus(data: bytes) -> Table:
    """The table in FITS-plus *data*, as astropy reads the same table from a VOTable.

    Columns, units, UCDs, descriptions, PARAMs and INFOs come from the VOTable in the
    primary HDU, values from extension 1: integers equal to ``TNULL``, NaN floats and
    null booleans are masked, text is decoded from UTF-8.
    """
    import numpy as np
    from astropy.io import fits
    from astropy.io.votable import parse

    with fits.open(io.BytesIO(data), lazy_load_hdus=False) as hdul:
        document = bytes(np.asarray(hdul[0].data, dtype=np.uint8))
        votable = parse(io.BytesIO(document), verify="ignore")
        element = votable.get_first_table()
        records = hdul[1].data
        raw = np.ndarray.view(records, np.ndarray)  # text as bytes, booleans as codes
        element.create_arrays(len(records))
        for index, field in enumerate(element.fields):
            cells = raw[raw.dtype.names[index]]
            if hdul[1].columns[index].format.startswith(("P", "Q")):
                cells = records.field(index)
            _fill(element.array, field, index, cells, hdul[1].columns[index].null)
    return element.to_table()


def _fill(array: Any, field: Any, index: int, cells: Any, tnull: Any) -> None:
    """Copy one FITS column into the VOTable element's masked array, nulls masked."""
    import numpy as np

    name = array.dtype.names[index]
    target = array[name]
    if field.datatype in ("char", "unicodeChar"):
        for row, value in enumerate(cells):
            target[row] = bytes(value).rstrip(b"\0 ").decode("utf-8")
        return
    if target.dtype == object:  # variable-length arrays
        for row, value in enumerate(cells):
            target[row] = np.asarray(value)
        return
    if field.datatype in ("boolean", "bit"):
        nulls, values = cells == 0, cells == ord("T")
    elif cells.dtype.kind in "fc":
        nulls, values = np.isnan(cells), cells
    else:
        nulls, values = (None if tnull is None else cells == int(tnull)), cells
    array.data[name] = values.reshape(target.shape)
    if nulls is not None:
        array.mask[name] = nulls.reshape(target.shape)
