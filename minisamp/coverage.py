"""Coverage maps: send a MOC (Multi-Order Coverage map) to Aladin or TOPCAT.

``coverage.load.moc.fits`` carries the URL of a MOC in FITS; this sends one from a file
path, a URL, or a :class:`mocpy.MOC` (written to the connection's private directory
and removed when the connection closes).  mocpy itself is never imported here: a MOC
object is recognised by its ``save`` method (``pip install 'minisamp[moc]'``).

Aladin 12.001 (Debian's) does not subscribe to that MType, and never answers an
``image.load.fits`` of a MOC; it loads one with its script command ``load``.  So a
client subscribed to ``script.aladin.send`` but not to the MOC MType is sent
``load <path or URL>`` that way: ``send_moc_to(conn, moc)`` shows the coverage in the
Aladin users have.
"""

from __future__ import annotations

import itertools
import os
import warnings
from pathlib import Path
from typing import Any

from . import helpers
from .acknowledgements import call_each
from .errors import SampDataError
from .messages import Message, best_match
from .recipients import recipients

__all__ = ["MOC_MTYPE", "send_moc_to"]

MOC_MTYPE = "coverage.load.moc.fits"
#: Aladin's own script MType: the way to an Aladin that does not take MOCs by MType.
ALADIN_SCRIPT = "script.aladin.send"

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
    routes = _routes(conn, client_name)  # fail before writing anything
    url = _moc_url(conn, moc, name or "moc")
    params = {"url": url}
    if name is not None:
        params["name"] = name
    messages = {MOC_MTYPE: Message.create(MOC_MTYPE, params)}
    if ALADIN_SCRIPT in routes.values():
        messages[ALADIN_SCRIPT] = Message.create(ALADIN_SCRIPT, {"script": _aladin_load(url)})
    calls = [(client_id, messages[mtype]) for client_id, mtype in routes.items()]
    recipient = next(iter(routes)) if client_name is not None else None
    return call_each(conn, MOC_MTYPE, calls, recipient, timeout, strict=True)


def _routes(conn: Any, client_name: str | None) -> dict[str, str]:
    """Client id → the MType to send it the MOC with (the helpers' rule otherwise)."""
    if client_name is not None:
        client_id = helpers.find_client_id(conn, client_name)
        subscriptions = list(conn.get_subscriptions(client_id))
        for mtype in (MOC_MTYPE, ALADIN_SCRIPT):
            if best_match(subscriptions, mtype) is not None:
                return {client_id: mtype}
        recipients(conn, MOC_MTYPE, client_name, stacklevel=4)  # raises, listing them
    routes = dict.fromkeys(_subscribed(conn, MOC_MTYPE), MOC_MTYPE)
    for client_id in _subscribed(conn, ALADIN_SCRIPT):
        routes.setdefault(client_id, ALADIN_SCRIPT)
    if not routes:
        recipients(conn, MOC_MTYPE, None, stacklevel=4)  # warns: nobody takes MOCs
    return routes


def _subscribed(conn: Any, mtype: str) -> list[str]:
    """Every client but us subscribed to *mtype* (no warning if none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return recipients(conn, mtype, None, stacklevel=1)


def _aladin_load(url: str) -> str:
    """Aladin's script command loading *url* (a local path for a ``file:`` URL)."""
    from .lockfile import file_url_to_path

    target = str(file_url_to_path(url)) if url.startswith("file:") else url
    return f'load "{target}"' if " " in target else f"load {target}"
