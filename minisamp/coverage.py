"""Coverage maps: send a MOC (Multi-Order Coverage map) to Aladin or TOPCAT.

``coverage.load.moc.fits`` carries the URL of a MOC in FITS; this sends one from a file
path, a URL, or a :class:`mocpy.MOC` (written to the connection's private directory
and removed when the connection closes).  mocpy itself is never imported here: a MOC
object is recognised by its ``save`` method (``pip install 'minisamp[moc]'``).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from . import helpers
from .errors import SampDataError
from .messages import Message

__all__ = ["MOC_MTYPE", "send_moc_to"]

MOC_MTYPE = "coverage.load.moc.fits"

_counter = itertools.count(1)


def _moc_url(conn: Any, moc: Any, name: str) -> str:
    from .tables.filetypes import url_for

    if isinstance(moc, (str, os.PathLike)):
        text = os.fspath(moc)
        if "://" in text or text.startswith("file:"):
            return text
        path = Path(text)
        if not path.is_file():
            raise SampDataError(f"{path} is not a file: give a MOC FITS file, a URL or a mocpy.MOC")
        return url_for(str(path))
    save = getattr(moc, "save", None)
    if not callable(save):
        raise SampDataError(
            f"cannot send a {type(moc).__name__} as a MOC: give the path or URL of a MOC FITS "
            "file, or a mocpy.MOC"
        )
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "moc"
    path = helpers._spool(conn) / f"{safe}-{next(_counter)}.fits"
    save(str(path), format="fits", overwrite=True)
    os.chmod(path, 0o600)
    return path.as_uri()


def send_moc_to(
    conn: Any,
    moc: Any,
    client_name: str | None = None,
    name: str | None = None,
    *,
    timeout: float = helpers.TABLE_TIMEOUT,
) -> helpers.Delivery:
    """Send a coverage map to the client called *client_name*, or to every subscribed one.

    *moc* is the path or URL of a MOC FITS file, or a ``mocpy.MOC``.  Waits up to
    *timeout* s for acknowledgements, as :func:`~minisamp.send_table_to` does (a
    targeted refusal raises :class:`~minisamp.errors.SampResponseError`).
    """
    if client_name is not None:
        helpers.find_client_id(conn, client_name)  # fail before writing anything
    params = {"url": _moc_url(conn, moc, name or "moc")}
    if name is not None:
        params["name"] = name
    message = Message.create(MOC_MTYPE, params)
    return helpers.send_and_wait(conn, message, client_name, timeout=timeout)
