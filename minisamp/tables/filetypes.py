"""Which MType sends a file or URL: from its name, and for local files from its first bytes.

No astropy: a FITS file's primary header is read by hand (an image if ``NAXIS`` > 0 in
the primary HDU, else a table in an extension), a VOTable is recognised by its
``<VOTABLE`` element.
"""

from __future__ import annotations

import gzip
import re
import urllib.parse
from pathlib import Path

__all__ = ["ASTROPY_TABLE_SUFFIXES", "guess_mtype", "url_for"]

#: Text formats astropy reads and we convert to VOTable before sending.
ASTROPY_TABLE_SUFFIXES = (".csv", ".ecsv", ".tsv", ".txt", ".dat", ".parquet", ".h5", ".hdf5")

_BY_SUFFIX = {
    ".xml": "table.load.votable",
    ".vot": "table.load.votable",
    ".votable": "table.load.votable",
    ".cdf": "table.load.cdf",
    ".moc": "coverage.load.moc.fits",
}
_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")
_NAXIS = re.compile(rb"NAXIS   =\s*(\d+)")


def _suffix(name: str) -> str:
    lower = name.lower()
    for fits in _FITS_SUFFIXES:
        if lower.endswith(fits):
            return fits
    return Path(lower).suffix


def _fits_kind(head: bytes) -> str:
    """``image.load.fits`` or ``table.load.fits`` from the first FITS header block(s)."""
    primary = head[:2880]
    match = _NAXIS.search(primary)
    if match and int(match.group(1)) > 0:
        return "image.load.fits"
    return "table.load.fits"


def _read_head(path: Path, size: int = 8640) -> bytes:
    with open(path, "rb") as handle:
        head = handle.read(size)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as handle:
            head = handle.read(size)
    return head


def guess_mtype(target: str) -> str | None:
    """The MType to send *target* (a path or URL) with, or None if it cannot be told."""
    parts = urllib.parse.urlsplit(target)
    is_url = parts.scheme in ("http", "https", "ftp", "file") and bool(parts.path)
    name = parts.path if is_url else target
    suffix = _suffix(name)
    if not is_url or parts.scheme == "file":
        path = Path(urllib.parse.unquote(parts.path)) if is_url else Path(target)
        if path.is_file():
            head = _read_head(path)
            if head.startswith(b"SIMPLE  ="):
                return _fits_kind(head)
            if b"<VOTABLE" in head.upper():
                return "table.load.votable"
    if suffix in _FITS_SUFFIXES:
        return "coverage.load.moc.fits" if "moc" in name.lower() else "image.load.fits"
    if suffix in ASTROPY_TABLE_SUFFIXES and not is_url:
        return "table.load.votable"  # a local file, converted to VOTable before sending
    return _BY_SUFFIX.get(suffix)


def url_for(target: str) -> str:
    """*target* as a URL: URLs unchanged, paths as absolute ``file:`` URLs."""
    if urllib.parse.urlsplit(target).scheme in ("http", "https", "ftp", "file"):
        return target
    return Path(target).resolve().as_uri()
