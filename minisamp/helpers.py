"""pyvo.samp's helper functions, as drop-ins: same names, signatures and meaning.

``from pyvo import samp`` → ``import minisamp as samp`` and scripts keep working::

    with samp.connection(client_name="my script") as conn:
        samp.send_table_to(conn, table, client_name="TOPCAT", name="results")
        samp.send_image_to(conn, "https://example.org/m31.fits")

What is better than pyvo's (and documented in the migration guide): broadcasting a
table reaches exactly the clients subscribed to ``table.load.votable`` and reports
who accepted; a ``samp.error`` answer raises an error naming the recipient; client
names also match ignoring case or by a unique part (``"ds9"`` finds ``SAOImageDS9``)
and an unknown name lists who is there; tables are written fast, privately, under a
correct ``file:`` URL, and removed only when the connection closes.  Astropy is
imported only when a table is actually handled.

Every sending helper follows one rule, checked before anything is written or sent
(:mod:`minisamp.recipients`): a broadcast nobody is subscribed to warns
(:class:`~minisamp.errors.SAMPWarning`) and sends nothing; a named recipient that is not
subscribed raises :class:`~minisamp.errors.SAMPProxyError` listing its subscriptions.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .acknowledgements import Delivery, call_each
from .compat import SAMPIntegratedClient
from .datatypes import samp_text
from .errors import (
    SAMPClientError,
    SampError,
    SampTimeoutError,
)
from .messages import Message
from .recipients import client_label, find_client_id
from .recipients import recipients as _recipients

if TYPE_CHECKING:
    from astropy.io.fits import HDUList
    from astropy.table import Table

__all__ = [
    "Delivery",
    "accessible_table",
    "client_label",
    "connection",
    "find_client_id",
    "point_at",
    "receive_image",
    "receive_table",
    "send_and_wait",
    "send_image_to",
    "send_product_to",
    "send_spectrum_to",
    "send_table_to",
]

logger = logging.getLogger(__name__)

#: Seconds a targeted or broadcast table send waits for acknowledgements (pyvo: "10").
TABLE_TIMEOUT = 10.0


# -- connection and temporary table files ---------------------------------------------------

_spools: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()
_spools_lock = threading.Lock()


def _spool(conn: Any) -> Path:
    """The private directory where tables sent on *conn* stay until it closes."""
    with _spools_lock:
        directory = _spools.get(conn)
        if directory is None:
            from .tables.files import make_private_directory

            directory = make_private_directory()
            _spools[conn] = directory
            weakref.finalize(conn, shutil.rmtree, directory, True)
        return directory


def _drop_spool(conn: Any) -> None:
    with _spools_lock:
        directory = _spools.pop(conn, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def connection(
    client_name: str = "pyvo client",
    description: str = "A generic PyVO client",
    **kwargs: Any,
) -> Iterator[SAMPIntegratedClient]:
    """A connected client for the ``with`` block; unregistered on every way out.

    *kwargs* go to :class:`~minisamp.SAMPIntegratedClient` (``metadata``, ``addr``,
    ``port``, ``callable``, …).  Tables sent on it are removed when the block ends.
    """
    client = SAMPIntegratedClient(name=client_name, description=description, **kwargs)
    client.connect()
    try:
        yield client
    finally:
        try:
            client.disconnect()
        finally:
            _drop_spool(client)


@contextlib.contextmanager
def accessible_table(
    table: Any,
    *,
    conn: Any = None,
    client_name: str | None = None,
    format: str | None = None,
) -> Iterator[str]:
    """The ``file:`` URL of a private copy of *table* for the ``with`` block (as pyvo):
    FITS if *format* is "fits" or send_table_to would send FITS to *client_name*."""
    from . import tables
    from .table_formats import recipients_by_mtype

    if format is None:
        recipient = (
            None if conn is None or client_name is None else find_client_id(conn, client_name)
        )
        fits = recipient is not None and recipients_by_mtype(conn, table, recipient)
        format = "fits" if fits else "votable"
    with tables.accessible_table(table, format=format) as url:
        yield url


# -- sending ------------------------------------------------------------------------------


def send_table_to(
    conn: Any,
    table: Any,
    client_name: str | None = None,
    name: str = "data",
    *,
    timeout: float = TABLE_TIMEOUT,
    table_id: str | None = None,
    format: str | None = None,
    strict: bool = True,
) -> Delivery:
    """Send *table* to the client called *client_name*, or to every subscribed client.

    *table* is an astropy ``Table``/``QTable``, a ``VOTableFile``, or the path of a
    VOTable or FITS file (sent as is).  Waits up to *timeout* seconds for each
    recipient's acknowledgement.  A targeted send whose recipient answers
    ``samp.error`` raises :class:`~minisamp.errors.SampResponseError`; a broadcast
    raises only if nobody accepts (warning about those who failed).  The written file
    stays until the connection closes.  With ``strict=False`` nothing is raised for
    refusals: the returned :class:`Delivery` says who accepted and who failed.

    *format* "votable" or "fits" holds for every recipient.  Left out, each gets a
    VOTable (as pyvo), but a large table goes as FITS-plus to those that load FITS
    (the rule: :mod:`minisamp.table_formats`); each format is written once.
    *name* may be any Unicode: a VOTable we write keeps it exactly as its table's
    name, and the SAMP ``name`` parameter (ASCII only) carries
    :func:`~minisamp.datatypes.samp_text`'s rendering of it (``\\uXXXX`` escapes).
    Everything that can be refused (recipient, subscription, parameters) is checked
    before the table is written.
    """
    from . import tables
    from .table_formats import VOTABLE, recipients_by_mtype, table_message
    from .table_ids import remember_table  # a reference for selections later; no subscription

    label = samp_text(name)
    table_name = None if label == name else name
    mtype = tables.table_mtype(table, format or "votable")
    probe = {"url": "file:///", "name": label, "table-id": table_id or "x"}
    Message.create(mtype, probe)  # refuse bad parameters before writing anything
    recipient = None if client_name is None else find_client_id(conn, client_name)
    groups = recipients_by_mtype(conn, table, recipient) if format is None else {}
    base = _basename(name)
    if not groups:  # no FITS: the helpers' rule for the VOTable (or the file's own MType)
        targets = _recipients(conn, mtype, client_name, stacklevel=3)
        if not targets:
            return Delivery(mtype)
        prepared = tables.prepare_table(
            table, _spool(conn), format=format or "votable", basename=base, table_name=table_name
        )
        message = table_message(prepared.mtype, prepared.url, label, table_id)
        remember_table(conn, table_id or prepared.url, table, prepared.url)
        calls = [(t, message) for t in targets]
        return call_each(conn, prepared.mtype, calls, recipient, timeout, strict)
    fits = tables.prepare_table(table, _spool(conn), format="fits", basename=base)
    table_id = table_id or fits.url
    remember_table(conn, table_id, table, fits.url)
    calls = []
    for group_mtype, client_ids in groups.items():
        url = fits.url
        if group_mtype == VOTABLE:
            url = tables.prepare_table(
                table, _spool(conn), basename=base, table_name=table_name
            ).url
        message = table_message(group_mtype, url, label, table_id)
        calls += [(client_id, message) for client_id in client_ids]
    return call_each(conn, calls[0][1].mtype, calls, recipient, timeout, strict)


def _basename(name: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)
    return f"{safe[:40].strip('_') or 'table'}-{next(_counter)}"


_counter = iter(range(1, 1 << 62))


def send_and_wait(
    conn: Any,
    message: Mapping[str, Any] | Message,
    client_name: str | None = None,
    *,
    timeout: float = TABLE_TIMEOUT,
    strict: bool = True,
) -> Delivery:
    """Call the client called *client_name* (or every subscribed client, in parallel)
    and wait up to *timeout* seconds for each acknowledgement.

    With *strict*, a targeted ``samp.error`` answer raises
    :class:`~minisamp.errors.SampResponseError` naming the recipient, and so does a
    broadcast nobody accepts (a partial failure only warns).  A broadcast nobody is
    subscribed to warns and returns an empty :class:`Delivery` (the module's rule).  If
    the hub goes away meanwhile, :class:`~minisamp.errors.HubGoneError` is raised,
    whatever *strict*.  Works on a send-only connection too (it uses the hub's
    ``callAndWait``).
    """
    msg = Message.from_user(message)
    targets = _recipients(conn, msg.mtype, client_name, stacklevel=3)
    recipient = targets[0] if client_name is not None else None
    return call_each(conn, msg.mtype, [(t, msg) for t in targets], recipient, timeout, strict)


def send_product_to(
    conn: Any,
    url: str,
    mtype: str,
    client_name: str | None = None,
    name: str = "data",
    *,
    extra_params: Mapping[str, Any] | None = None,
) -> list[str]:
    """Notify the client called *client_name* (or every subscribed client) to load *url*.

    Returns the ids of the clients notified (pyvo returns None); follows the module's
    rule when nobody is subscribed.  *name* may be any Unicode (sent as
    :func:`~minisamp.datatypes.samp_text` renders it).
    """
    return _product(conn, url, mtype, client_name, name, extra_params)


def _product(
    conn: Any,
    url: str,
    mtype: str,
    client_name: str | None,
    name: str,
    extra_params: Mapping[str, Any] | None,
) -> list[str]:
    params = {"url": url, "name": samp_text(name), **dict(extra_params or {})}
    return _notify(conn, Message.create(mtype, params), client_name, stacklevel=5)


def _notify(conn: Any, message: Message, client_name: str | None, stacklevel: int) -> list[str]:
    """Notify whom the rule says; *stacklevel* of its warning counts this function as 2."""
    targets = _recipients(conn, message.mtype, client_name, stacklevel=stacklevel)
    if not targets:
        return []
    if client_name is None:
        return [str(c) for c in conn.notify_all(message.to_map())]
    conn.notify(targets[0], message.to_map())
    return targets


def send_spectrum_to(
    conn: Any,
    url: str,
    client_name: str | None = None,
    name: str = "data",
    *,
    meta: Mapping[str, Any] | None = None,
    spectrum_id: str | None = None,
) -> list[str]:
    """Send a spectrum URL (``spectrum.load.ssa-generic``); *meta* is its SSA metadata."""
    extra: dict[str, Any] = {"meta": dict(meta or {})}
    if spectrum_id is not None:
        extra["spectrum-id"] = spectrum_id
    return _product(conn, url, "spectrum.load.ssa-generic", client_name, name, extra)


def send_image_to(
    conn: Any,
    url: str,
    client_name: str | None = None,
    name: str = "data",
    *,
    image_id: str | None = None,
) -> list[str]:
    """Send a FITS image URL (``image.load.fits``)."""
    extra = {} if image_id is None else {"image-id": image_id}
    return _product(conn, url, "image.load.fits", client_name, name, extra)


def point_at(conn: Any, ra: float, dec: float, client_name: str | None = None) -> list[str]:
    """Ask the client called *client_name* (or everyone) to look at (ra, dec) in degrees."""
    if not (0.0 <= ra <= 360.0 and -90.0 <= dec <= 90.0):
        raise SampError(f"({ra}, {dec}) is not a sky position in degrees (0<=ra<=360, |dec|<=90)")
    message = Message.create("coord.pointAt.sky", {"ra": float(ra), "dec": float(dec)})
    return _notify(conn, message, client_name, stacklevel=4)


# -- receiving ----------------------------------------------------------------------------


def receive_table(conn: Any, timeout: float | None = 60.0) -> Table:
    """Wait for a table sent to us (``table.load.votable`` or ``table.load.fits``).

    Downloads it, acknowledges the call (or answers ``samp.error`` if it cannot be
    read), and returns an astropy Table whose ``meta`` holds the sender's ``name``,
    ``table-id``, ``url`` and ``sender-id`` (``name`` as the file has it when the SAMP
    ``name`` is its ``\\uXXXX`` rendering: non-ASCII names arrive exactly).  Raises
    :class:`~minisamp.errors.SampTimeoutError` if nothing arrives in *timeout* s.
    """
    from . import tables

    def load(url: str) -> Table:
        return tables.read_table(url)

    table = _receive(conn, ("table.load.votable", "table.load.fits"), load, timeout, "table")
    from .table_ids import remember_table  # so selections of it can be sent and received

    url = str(table.meta.get("url", ""))
    remember_table(conn, str(table.meta.get("table-id") or url), table, url)
    return table


def receive_image(conn: Any, timeout: float | None = 60.0) -> HDUList:
    """Wait for an image sent to us (``image.load.fits``); returns its ``HDUList``."""
    from . import tables

    return _receive(conn, ("image.load.fits",), tables.read_image, timeout, "image")


def _receive(
    conn: Any, mtypes: tuple[str, ...], load: Any, timeout: float | None, what: str
) -> Any:
    with conn.messages(*mtypes, timeout=timeout) as inbox:
        try:
            message = inbox.get(timeout)
        except TimeoutError as exc:
            raise SampTimeoutError(f"no {what} arrived within {timeout} s") from exc
        except EOFError as exc:
            raise SAMPClientError(f"disconnected while waiting for a {what}") from exc
    url = str(message.params.get("url", ""))
    try:
        loaded = load(url)
    except Exception as exc:
        if message.is_call:
            message.reply_error(f"could not load {url}: {exc}")
        raise
    if message.is_call:
        message.reply({})
    meta = getattr(loaded, "meta", None)
    if isinstance(meta, dict):
        exact = meta.get("name")  # a name SAMP could carry only as \uXXXX escapes
        for key in ("name", "table-id", "image-id", "url"):
            if key in message.params:
                meta[key] = message.params[key]
        if isinstance(exact, str) and samp_text(exact) == meta.get("name"):
            meta["name"] = exact
        meta["sender-id"] = message.sender_id
    return loaded
