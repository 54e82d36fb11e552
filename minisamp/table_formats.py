"""Which format a table goes to each recipient in: FITS-plus where it is worth it.

:func:`minisamp.helpers.send_table_to` (without ``format=``) sends a VOTable
(``table.load.votable``, as pyvo does) unless the table is worth sending as FITS
(``tables.fits_worthwhile``: at least ``tables.FITS_MIN_BYTES`` of values, all of which
FITS carries exactly).  Then each recipient that loads FITS gets the FITS-plus file:

1. by ``table.load.stil`` with ``format=fits-plus`` if it subscribes to that MType by
   name (TOPCAT: its ``table.load.fits`` reads plain FITS, so names, units, UCDs and
   descriptions, but not PARAMs, INFOs or GROUPs; ``fits-plus`` reads the VOTable
   metadata as well);
2. else by ``table.load.fits`` if it subscribes to that (a wildcard counts);
3. else (and every other subscriber of ``table.load.votable``) the VOTable.

Nothing here writes a file or sends a message: it asks the hub who subscribes to what.
"""

from __future__ import annotations

from typing import Any

from .messages import Message

__all__ = ["FITS_ROUTES", "VOTABLE", "recipients_by_mtype", "table_message"]

VOTABLE = "table.load.votable"
#: How a FITS-plus file is sent, in order of preference, with the extra params.
FITS_ROUTES: dict[str, dict[str, str]] = {
    "table.load.stil": {"format": "fits-plus"},
    "table.load.fits": {},
}
_BY_NAME_ONLY = {"table.load.stil"}  # TOPCAT's own MType: a wildcard does not mean it


def recipients_by_mtype(conn: Any, table: Any, recipient: str | None) -> dict[str, list[str]]:
    """MType → the client ids to send *table* with it; empty if VOTable suits everyone.

    *recipient* is one client id, or None for every subscribed client (the VOTable
    group then holds the ``table.load.votable`` subscribers that take no FITS).
    """
    from . import tables

    if not tables.fits_worthwhile(table):
        return {}
    routes: dict[str, str] = {}
    for mtype in FITS_ROUTES:
        for client_id in map(str, conn.get_subscribed_clients(mtype)):
            if client_id in routes or recipient not in (None, client_id):
                continue
            if mtype in _BY_NAME_ONLY and mtype not in conn.get_subscriptions(client_id):
                continue
            routes[client_id] = mtype
    if not routes:
        return {}
    groups: dict[str, list[str]] = {}
    for client_id, mtype in routes.items():
        groups.setdefault(mtype, []).append(client_id)
    if recipient is None:
        others = [str(c) for c in conn.get_subscribed_clients(VOTABLE) if str(c) not in routes]
        if others:
            groups[VOTABLE] = others
    return groups


def table_message(mtype: str, url: str, name: str, table_id: str | None) -> Message:
    """The ``table.load.*`` message for *url* (``table-id`` defaults to the URL)."""
    params: dict[str, Any] = {"url": url, "name": name, "table-id": table_id or url}
    params.update(FITS_ROUTES.get(mtype, {}))
    return Message.create(mtype, params)
