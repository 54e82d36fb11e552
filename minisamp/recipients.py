"""Whom a helper sends to: finding clients by name, and the one rule every helper follows.

Names (:func:`find_client_id`, and so every ``client_name=`` and ``--to``): an exact
``samp.name`` wins, then one equal ignoring case, then the only name containing the
given text ignoring case: ``"ds9"`` finds DS9, which registers as ``SAOImageDS9``;
``"topcat"`` finds ``topcat``; ``"aladin"`` finds ``Aladin``.  When several names contain
it, the :class:`~minisamp.errors.ClientNotFoundError` lists them.

The rule of every sending helper (``send_table_to``, ``send_spectrum_to``,
``send_image_to``, ``send_product_to``, ``point_at``, ``send_and_wait``), checked by
:func:`recipients` before anything is written or sent:

* a broadcast (no *client_name*) that nobody is subscribed to sends nothing, warns
  with a :class:`~minisamp.errors.SAMPWarning` naming the MType, and returns an empty
  result.  A warning, not an error, because pyvo's helpers return silently there and
  a script broadcasting "to whoever listens" should keep running;
* a named recipient that is not subscribed to the MType raises
  :class:`~minisamp.errors.SAMPProxyError` with ``faultCode`` 2 (what the hub would
  answer, and what pyvo raises) listing what it is subscribed to.
"""

from __future__ import annotations

import warnings
from typing import Any

from .client.directory import ClientInfo, find_client_id_in
from .errors import SampError, SAMPProxyError, SAMPWarning
from .messages import best_match

__all__ = ["client_label", "find_client_id", "recipients"]


def find_client_id(conn: Any, name: str) -> str:
    """The public id of the client called *name* (the module's rule for names).

    Raises :class:`~minisamp.errors.ClientNotFoundError` (a ``KeyError``, as pyvo)
    listing the registered names, or the candidates when several names contain *name*.
    """
    finder = getattr(conn, "find_client_id", None)
    if callable(finder):
        return str(finder(name))
    clients = {  # a pyvo/astropy client: ask the hub
        str(cid): ClientInfo(str(cid), dict(conn.get_metadata(cid)))
        for cid in conn.get_registered_clients()
    }
    return find_client_id_in(clients, name)


def client_label(conn: Any, client_id: str) -> str:
    """``"name (id)"`` for a client, or just its id if it has no name."""
    try:
        name = conn.get_metadata(client_id).get("samp.name")
    except SampError:
        name = None
    return f"{name} ({client_id})" if name else client_id


def recipients(conn: Any, mtype: str, client_name: str | None, *, stacklevel: int) -> list[str]:
    """Whom to send *mtype* to, by the module's rule.

    The named client if it is subscribed (else :class:`SAMPProxyError` 2 listing its
    subscriptions), or every subscribed client but ourselves (warning if none; the
    warning's *stacklevel* counts this function as 1).
    """
    if client_name is not None:
        client_id = find_client_id(conn, client_name)
        subscriptions = list(conn.get_subscriptions(client_id))
        if best_match(subscriptions, mtype) is None:
            listed = ", ".join(sorted(subscriptions)) or "nothing"
            raise SAMPProxyError(
                2,
                f"{client_label(conn, client_id)} is not subscribed to {mtype}, so nothing "
                f"was sent; it is subscribed to: {listed}",
            )
        return [client_id]
    me = _own_id(conn)
    ids = [str(c) for c in conn.get_subscribed_clients(mtype) if c != me]
    if not ids:
        warnings.warn(
            f"no SAMP client is subscribed to {mtype}, so nothing was sent: start an "
            "application that accepts it (TOPCAT, Aladin, DS9, ...)",
            SAMPWarning,
            stacklevel=stacklevel,
        )
    return ids


def _own_id(conn: Any) -> str | None:
    try:
        return str(conn.get_public_id())
    except SampError:
        return None
