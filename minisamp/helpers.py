"""pyvo.samp's helper functions, as drop-ins: same names, signatures and meaning.

``from pyvo import samp`` → ``import minisamp as samp`` and scripts keep working::

    with samp.connection(client_name="my script") as conn:
        samp.send_table_to(conn, table, client_name="TOPCAT", name="results")
        samp.send_image_to(conn, "https://example.org/m31.fits")

What is better than pyvo's (and documented in the migration guide): broadcasting a
table reaches exactly the clients subscribed to ``table.load.votable`` and reports
who accepted; a ``samp.error`` answer raises an error naming the recipient; client
names also match case-insensitively and an unknown name lists who is there; tables
are written fast, privately, under a correct ``file:`` URL, and removed only when the
connection closes.  Astropy is imported only when a table is actually handled.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compat import SAMPIntegratedClient
from .errors import (
    ClientNotFoundError,
    SAMPClientError,
    SampError,
    SAMPHubError,
    SampResponseError,
    SampTimeoutError,
    SAMPWarning,
)
from .messages import Message, Response

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


@dataclass
class Delivery:
    """Who got a message: ``accepted`` maps client id → result map, ``failed`` id → reason.

    ``url`` is the URL that was sent (for tables, the temporary file's)."""

    mtype: str
    url: str = ""
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.accepted)


# -- connection and temporary table files ---------------------------------------------------

_spools: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()
_spools_lock = threading.Lock()


def _spool(conn: Any) -> Path:
    """The private directory where tables sent on *conn* stay until it closes."""
    with _spools_lock:
        directory = _spools.get(conn)
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="minisamp-"))
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
def accessible_table(table: Any) -> Iterator[str]:
    """The ``file:`` URL of a private copy of *table* for the ``with`` block (as pyvo)."""
    from . import tables

    with tables.accessible_table(table) as url:
        yield url


# -- finding clients ----------------------------------------------------------------------


def find_client_id(conn: Any, name: str) -> str:
    """The public id of the client whose ``samp.name`` is *name*.

    An exact match wins, else a case-insensitive one.  Raises
    :class:`~minisamp.errors.ClientNotFoundError` (a ``KeyError``, as pyvo) listing the
    names that are registered.
    """
    finder = getattr(conn, "find_client_id", None)
    if callable(finder):
        return str(finder(name))
    names = {
        cid: str(conn.get_metadata(cid).get("samp.name", ""))
        for cid in conn.get_registered_clients()
    }
    for exact in (True, False):
        for cid, cname in names.items():
            if cname == name if exact else cname.casefold() == name.casefold():
                return str(cid)
    listed = ", ".join(sorted(repr(n) for n in names.values() if n)) or "none"
    raise ClientNotFoundError(f"no SAMP client is called {name!r}; registered: {listed}")


def _target(conn: Any, client_name: str | None) -> str | None:
    return None if client_name is None else find_client_id(conn, client_name)


# -- sending ------------------------------------------------------------------------------


def send_table_to(
    conn: Any,
    table: Any,
    client_name: str | None = None,
    name: str = "data",
    *,
    timeout: float = TABLE_TIMEOUT,
    table_id: str | None = None,
    format: str = "votable",
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
    """
    from . import tables

    if client_name is not None:
        find_client_id(conn, client_name)  # fail before writing anything
    prepared = tables.prepare_table(table, _spool(conn), format=format, basename=_basename(name))
    params: dict[str, Any] = {"url": prepared.url, "name": name}
    params["table-id"] = table_id or prepared.url
    message = Message.create(prepared.mtype, params)
    from .table_ids import remember_table  # a reference for selections later; no subscription

    remember_table(conn, params["table-id"], table, prepared.url)
    return send_and_wait(conn, message, client_name, timeout=timeout, strict=strict)


def _basename(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40].strip("_")
    return f"{safe or 'table'}-{next(_counter)}"


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
    broadcast nobody accepts (a partial failure only warns).  If the hub goes away
    meanwhile, :class:`~minisamp.errors.HubGoneError` is raised, whatever *strict*.
    Works on a send-only connection too (it uses the hub's ``callAndWait``).
    """
    msg = Message.from_user(message)
    recipient = _target(conn, client_name)
    recipients = (
        [recipient] if recipient is not None else list(conn.get_subscribed_clients(msg.mtype))
    )
    if not recipients:
        raise SAMPClientError(
            f"no SAMP client is subscribed to {msg.mtype}: start TOPCAT, Aladin or DS9, "
            "or name the recipient with client_name="
        )
    url = str(msg.params.get("url", ""))
    delivery = Delivery(msg.mtype, url)
    wire = msg.to_map()
    seconds = str(max(1, round(timeout)))

    def ask(client_id: str) -> None:
        try:
            response = Response.from_map(conn.call_and_wait(client_id, wire, seconds))
        except SAMPHubError:
            raise  # the hub is gone: not a refusal by the recipient
        except SampError as exc:
            delivery.failed[client_id] = str(exc)
            return
        if response.is_ok:
            delivery.accepted[client_id] = dict(response.result or {})
        else:
            delivery.failed[client_id] = response.errortxt or response.status

    if len(recipients) == 1:
        ask(recipients[0])
    else:
        with ThreadPoolExecutor(
            min(8, len(recipients)), thread_name_prefix="minisamp-send"
        ) as pool:
            list(pool.map(ask, recipients))
    if strict:
        _report(conn, delivery, targeted=recipient is not None)
    return delivery


def client_label(conn: Any, client_id: str) -> str:
    """``"name (id)"`` for a client, or just its id if it has no name."""
    try:
        name = conn.get_metadata(client_id).get("samp.name")
    except SampError:
        name = None
    return f"{name} ({client_id})" if name else client_id


def _report(conn: Any, delivery: Delivery, *, targeted: bool) -> None:
    if not delivery.failed:
        return
    reasons = "; ".join(f"{client_label(conn, cid)}: {why}" for cid, why in delivery.failed.items())
    if targeted or not delivery.accepted:
        raise SampResponseError(
            f"{delivery.mtype} was not accepted by {reasons}",
            responder_id=next(iter(delivery.failed)),
        )
    warnings.warn(
        f"some clients did not accept {delivery.mtype}: {reasons}", SAMPWarning, stacklevel=3
    )


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

    Returns the ids of the clients notified (pyvo returns None).
    """
    params = {"url": url, "name": name, **dict(extra_params or {})}
    message = Message.create(mtype, params).to_map()
    recipient = _target(conn, client_name)
    if recipient is None:
        return list(conn.notify_all(message))
    conn.notify(recipient, message)
    return [recipient]


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
    return send_product_to(
        conn, url, "spectrum.load.ssa-generic", client_name, name, extra_params=extra
    )


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
    return send_product_to(conn, url, "image.load.fits", client_name, name, extra_params=extra)


def point_at(conn: Any, ra: float, dec: float, client_name: str | None = None) -> list[str]:
    """Ask the client called *client_name* (or everyone) to look at (ra, dec) in degrees."""
    if not (0.0 <= ra <= 360.0 and -90.0 <= dec <= 90.0):
        raise SampError(f"({ra}, {dec}) is not a sky position in degrees (0<=ra<=360, |dec|<=90)")
    message = Message.create("coord.pointAt.sky", {"ra": float(ra), "dec": float(dec)}).to_map()
    recipient = _target(conn, client_name)
    if recipient is None:
        return list(conn.notify_all(message))
    conn.notify(recipient, message)
    return [recipient]


# -- receiving ----------------------------------------------------------------------------


def receive_table(conn: Any, timeout: float | None = 60.0) -> Table:
    """Wait for a table sent to us (``table.load.votable`` or ``table.load.fits``).

    Downloads it, acknowledges the call (or answers ``samp.error`` if it cannot be
    read), and returns an astropy Table whose ``meta`` holds the sender's ``name``,
    ``table-id``, ``url`` and ``sender-id``.  Raises
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
        for key in ("name", "table-id", "image-id", "url"):
            if key in message.params:
                meta[key] = message.params[key]
        meta["sender-id"] = message.sender_id
    return loaded
