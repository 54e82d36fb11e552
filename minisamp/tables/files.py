"""Tables and images as files for SAMP: write them privately, name them by URL, read them.

Sending: :func:`prepare_table` turns an astropy Table/QTable, a VOTableFile or the path of
an existing VOTable/FITS file into a :class:`TableFile` (path, ``file:`` URL, MType);
:func:`accessible_table` is pyvo.samp's context manager of the same name, built on it.
Written files are mode 0600 inside a 0700 directory from :func:`private_directory`.
VOTables are written by :func:`minisamp.tables.votable.write_votable`, some 50 times
faster than astropy's writer that pyvo uses; FITS as FITS-plus by
:func:`minisamp.tables.fits.write_fits`.  :func:`fits_worthwhile` says when a table is
better sent as FITS (big, and nothing lost): the rule the helpers apply per recipient.

Receiving: :func:`read_table` and :func:`read_image` load what a ``table.load.*`` or
``image.load.fits`` message points to, from a ``file:`` or ``http(s):`` URL.

astropy (and numpy) are imported inside the functions that need them, never at import.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import shutil
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    MissingDependencyError,
    PeerProtocolError,
    SampDataError,
    TransportError,
)
from .fits import FitsUnsupported, estimated_bytes, lossless, write_fits
from .fitsplus import is_fitsplus, read_fitsplus
from .votable import write_votable

if TYPE_CHECKING:
    from astropy.io.fits import HDUList
    from astropy.table import Table

__all__ = [
    "FITS_MIN_BYTES",
    "TableFile",
    "accessible_table",
    "fits_worthwhile",
    "make_private_directory",
    "prepare_table",
    "private_directory",
    "read_image",
    "read_table",
    "remove_stale_directories",
    "table_mtype",
    "write_votable",
]

logger = logging.getLogger(__name__)

_MTYPES = {"votable": "table.load.votable", "fits": "table.load.fits"}
_SUFFIXES = {"votable": ".xml", "fits": ".fits"}
_SNIFF_BYTES = 4096
#: Tables with at least this many bytes of values go as FITS to a recipient that takes
#: FITS: below it, both formats load in TOPCAT within noise (docs/benchmarks.md).
FITS_MIN_BYTES = 1_000_000
_ACCEPTED = (
    "an astropy Table or QTable, an astropy VOTableFile, or the path (str or os.PathLike) "
    "of an existing VOTable or FITS file"
)


@dataclass(frozen=True)
class TableFile:
    """A table ready to send: where it is, its ``file:`` URL and the MType to send it with.

    ``written`` is true for a file minisamp wrote (and its directory's owner removes),
    false for the caller's own file, sent as it is.
    """

    path: Path
    url: str
    mtype: str
    written: bool = True


#: A leftover directory of a dead process is removed once it is this old (seconds).
STALE_AGE = 60.0


def make_private_directory() -> Path:
    """A new directory only this user can read (0700), named ``minisamp-<pid>-*`` after
    this process; first removes the ones dead processes of this user left behind."""
    remove_stale_directories()
    return Path(tempfile.mkdtemp(prefix=f"minisamp-{os.getpid()}-"))


def remove_stale_directories(root: Path | None = None) -> list[Path]:
    """Remove this user's ``minisamp-<pid>-*`` directories whose process is gone.

    Only private (0700) real directories of ours, untouched for :data:`STALE_AGE`
    seconds, whose process no longer exists (a process killed before it could clean
    up); returns the ones removed.  Not on Windows (no safe "is it alive" there).
    """
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return []
    removed: list[Path] = []
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(root or tempfile.gettempdir()) as entries:
        for entry in entries:
            parts = entry.name.split("-", 2)
            if len(parts) != 3 or parts[0] != "minisamp" or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            try:
                status = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (
                not stat.S_ISDIR(status.st_mode)
                or status.st_uid != getuid()
                or status.st_mode & 0o077
                or now - status.st_mtime < STALE_AGE
                or pid == os.getpid()
                or _process_exists(pid)
            ):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            logger.info("removed %s, left behind by process %d", entry.path, pid)
            removed.append(Path(entry.path))
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's: it exists
    return True


def fits_worthwhile(table: Any) -> bool:
    """Whether *table* loads faster as FITS-plus and loses nothing that way.

    True for an astropy Table (or a one-TABLE VOTableFile) holding at least
    :data:`FITS_MIN_BYTES` of values, all of which FITS carries exactly for STIL-based
    readers (no non-ASCII text).  A path to an existing file is sent as it is: False.
    """
    if isinstance(table, (str, os.PathLike)):
        return False
    _check_table_type(table)
    return estimated_bytes(table) >= FITS_MIN_BYTES and lossless(table)


@contextlib.contextmanager
def private_directory() -> Iterator[Path]:
    """A new directory only this user can read (0700), removed with its files on exit."""
    path = make_private_directory()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            logger.warning("could not remove temporary directory %s", path)


def table_mtype(table: Any, format: str = "votable") -> str:
    """The MType :func:`prepare_table` will send *table* with, without writing anything.

    Raises :class:`SampDataError` for an unknown *format*, or a path that is not an
    existing VOTable or FITS file.
    """
    if format not in _MTYPES:
        raise SampDataError(f"unknown table format {format!r}: use 'votable' or 'fits'")
    if isinstance(table, (str, os.PathLike)):
        return _existing_file(Path(table)).mtype
    return _MTYPES[format]


def prepare_table(
    table: Any,
    directory: Path,
    *,
    format: str = "votable",
    basename: str = "table",
    table_name: str | None = None,
) -> TableFile:
    """Write ``table`` into ``directory`` (mode 0600) and say how to send it.

    ``format`` is "votable" (``table.load.votable``) or "fits" (``table.load.fits``);
    a VOTable's table is called ``table_name`` (exactly, any Unicode) when it is given.
    A path to an existing VOTable or FITS file is not copied: it is sent as it is, with
    the MType its content calls for.  Raises :class:`SampDataError` for anything else,
    :class:`FileExistsError` if ``basename`` is already taken in ``directory``.
    """
    if format not in _MTYPES:
        raise SampDataError(f"unknown table format {format!r}: use 'votable' or 'fits'")
    if isinstance(table, (str, os.PathLike)):
        return _existing_file(Path(table))
    _check_table_type(table)
    if not basename or Path(basename).name != basename or basename in (".", ".."):
        raise SampDataError(f"basename {basename!r} must be a plain file name")
    path = Path(directory).absolute() / (basename + _SUFFIXES[format])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            if format == "votable":
                write_votable(table, fh, name=table_name)
            else:
                _write_fits(table, fh)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.debug("wrote %s", path)
    return TableFile(path=path, url=path.as_uri(), mtype=_MTYPES[format])


@contextlib.contextmanager
def accessible_table(table: Any, *, format: str = "votable") -> Iterator[str]:
    """pyvo.samp's ``accessible_table``: the ``file:`` URL of a private copy of ``table``.

    The copy is removed when the block ends.  A path to an existing VOTable or FITS file
    is yielded as a URL without copying (and left alone).
    """
    with private_directory() as directory:
        yield prepare_table(table, directory, format=format).url


def read_table(url: str, *, timeout: float = 30.0) -> Table:
    """Read the VOTable or FITS table at a ``file:`` or ``http(s):`` URL (content sniffed).

    A FITS-plus file comes back with its VOTable metadata, as the same table sent as a
    VOTable would.  Raises :class:`TransportError` when it cannot be fetched,
    :class:`PeerProtocolError` when what is there is not a readable table.
    """
    Table = _import_astropy_table()
    data = _fetch(url, timeout)
    kind = _sniff(data[:_SNIFF_BYTES])
    if kind is None:
        raise PeerProtocolError(f"{url} is neither a VOTable nor a FITS file")
    fmt = "votable" if kind == "votable" else "fits"
    try:
        if kind == "fits" and is_fitsplus(data[:_SNIFF_BYTES]):
            return read_fitsplus(data)
        return Table.read(io.BytesIO(data), format=fmt)
    except Exception as exc:
        raise PeerProtocolError(f"cannot read the {kind} table at {url}: {exc}") from exc


def read_image(url: str, *, timeout: float = 30.0) -> HDUList:
    """Read the FITS file at a ``file:`` or ``http(s):`` URL (for ``image.load.fits``).

    The HDUList lives in memory; the file may be deleted as soon as this returns.
    """
    _import_astropy_table()
    from astropy.io import fits

    data = _fetch(url, timeout)
    if _sniff(data[:_SNIFF_BYTES]) != "fits":
        raise PeerProtocolError(f"{url} is not a FITS file")
    try:
        hdul = fits.open(io.BytesIO(data), lazy_load_hdus=False)
    except Exception as exc:
        raise PeerProtocolError(f"cannot read the FITS file at {url}: {exc}") from exc
    return hdul


# --- helpers -----------------------------------------------------------------------------


def _import_astropy_table(purpose: str = "reading") -> Any:
    try:
        from astropy.table import Table
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} tables needs astropy: pip install 'minisamp[tables]'"
        ) from exc
    return Table


def _check_table_type(table: Any) -> None:
    Table = _import_astropy_table("sending")
    from astropy.io.votable.tree import VOTableFile

    if not isinstance(table, (Table, VOTableFile)):
        raise SampDataError(f"cannot send {type(table).__name__!r}: expected {_ACCEPTED}")


def _existing_file(path: Path) -> TableFile:
    if not path.is_file():
        raise SampDataError(f"table file {str(path)!r} does not exist (or is not a file)")
    with open(path, "rb") as fh:
        kind = _sniff(fh.read(_SNIFF_BYTES))
    if kind is None:
        raise SampDataError(f"{str(path)!r} is neither a VOTable nor a FITS file")
    resolved = path.resolve()
    return TableFile(path=resolved, url=resolved.as_uri(), mtype=_MTYPES[kind], written=False)


def _write_fits(table: Any, fh: Any) -> None:
    """FITS-plus, or astropy's plain FITS for what our writer cannot lay out."""
    from astropy.io.votable.tree import VOTableFile

    try:
        write_fits(table, fh)
        return
    except FitsUnsupported as exc:
        logger.debug("astropy writes this FITS table: %s", exc)
    if isinstance(table, VOTableFile):
        table = table.get_first_table().to_table()
    try:
        table.write(fh, format="fits")
    except (TypeError, ValueError) as exc:
        raise SampDataError(f"cannot write this table as FITS: {exc}") from exc


def _sniff(head: bytes) -> str | None:
    """'fits', 'votable' or None from the first bytes of a file (gzip undone)."""
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _SNIFF_BYTES)
        except zlib.error:
            return None
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom) :].decode(codec, "ignore").encode("ascii", "ignore")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return "votable" if head.startswith(b"<") else None


def _fetch(url: str, timeout: float) -> bytes:
    """The bytes at a file: or http(s): URL, gunzipped when they are gzip."""
    parts = urllib.parse.urlparse(url)
    if parts.scheme == "file":
        data = _read_file_url(url, parts)
    elif parts.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (OSError, ValueError) as exc:
            raise TransportError(f"cannot fetch {url}: {exc}") from exc
    else:
        raise SampDataError(f"cannot read {url!r}: only file: and http(s): URLs are supported")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise PeerProtocolError(f"{url} is not valid gzip: {exc}") from exc
    return data


def _read_file_url(url: str, parts: urllib.parse.ParseResult) -> bytes:
    if parts.netloc not in ("", "localhost"):
        raise SampDataError(f"cannot read {url!r}: a file: URL on host {parts.netloc!r}")
    path = Path(urllib.request.url2pathname(parts.path))
    if not path.is_file():  # not /dev/zero or a FIFO: a hostile URL must not hang us
        raise TransportError(f"cannot read {url}: {path} is not an existing file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TransportError(f"cannot read {url}: {exc}") from exc
