"""Linked views: row selections and highlights shared with TOPCAT, Aladin, glue…

A table sent with :func:`~minisamp.send_table_to` or received with
:func:`~minisamp.receive_table` is remembered by the connection under the
``table-id`` it travelled with — a reference to the table (a weak one when the table
allows it), never a copy.  Then::

    samp.select_rows(conn, table, [3, 5, 8], client_name="topcat")   # table.select.rowList
    samp.highlight_row(conn, table, 42)                              # table.highlight.row
    rows = samp.selected_rows(conn, table, timeout=60)               # the next selection
    samp.on_selection(conn, table, show)                             # show(rows) each time
    samp.on_highlight(conn, table, mark)                             # mark(row_index)

Rows are identified as the MTypes define them, and as TOPCAT does: 0-based indices of
the rows *as the table was sent* (TOPCAT's own sorting and subsets do not change them),
as SAMP int strings; TOPCAT sends them ascending.  The connection subscribes to the two
MTypes the first time one of these functions is used, never before; a selection or
highlight of a table it does not know is answered ``samp.error`` "unknown table-id …".
"""

from __future__ import annotations

import logging
import operator
import queue
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import helpers
from .datatypes import decode_int, encode_int
from .errors import SAMPClientError, SampDataError, SampError, SampResponseError, SampTimeoutError
from .messages import Message
from .table_ids import Linked, Links, known, links_of

__all__ = [
    "HIGHLIGHT",
    "SELECT",
    "highlight_row",
    "on_highlight",
    "on_selection",
    "select_rows",
    "selected_rows",
    "send_linked",
]

logger = logging.getLogger(__name__)

SELECT = "table.select.rowList"
HIGHLIGHT = "table.highlight.row"


# -- listening ---------------------------------------------------------------------------------


def _listen(conn: Any, *, required: bool) -> Links:
    """Subscribe *conn* to the two MTypes, once; *required* if the caller must receive."""
    links = links_of(conn)
    with links.lock:
        if links.listening:
            return links
        can_receive = callable(getattr(conn, "on", None)) and _is_callable(conn)
        if not can_receive:
            if required:
                raise SAMPClientError(
                    "receiving selections needs a callable minisamp connection: use "
                    "samp.connection() (callable by default), not callable=False"
                )
            return links
        links.listening = True
    conn.on(SELECT, lambda msg: _on_select(links, msg))
    conn.on(HIGHLIGHT, lambda msg: _on_highlight(links, msg))
    return links


def _is_callable(conn: Any) -> bool:
    state = getattr(conn, "state", None)
    return getattr(state, "value", None) == "callable"


def _entry_for(links: Links, params: Mapping[str, Any]) -> tuple[Linked, Any]:
    table_id = params.get("table-id")
    url = params.get("url")
    table_id = table_id if isinstance(table_id, str) else None
    url = url if isinstance(url, str) else None
    if table_id is None and url is None:
        raise SampError("the message has neither table-id nor url")
    entry = links.lookup(table_id, url)
    if entry is None:
        where = f" (url={url})" if url else ""
        raise SampError(
            f"unknown table-id {table_id!r}{where}: no such table was sent or received here"
        )
    table = entry.ref()
    if table is None:
        raise SampError(f"table-id {entry.table_id!r} is no longer held by this client")
    return entry, table


def _decode_row(text: Any, nrows: int | None) -> int:
    if not isinstance(text, str):
        raise SampDataError(f"row index {text!r} is not a SAMP int string")
    row = decode_int(text)
    if row < 0 or (nrows is not None and row >= nrows):
        raise SampDataError(f"row index {row} is out of range (the table has {nrows} rows)")
    return row


def _on_select(links: Links, msg: Any) -> dict[str, str]:
    entry, table = _entry_for(links, msg.params)
    row_list = msg.params.get("row-list")
    if not isinstance(row_list, list):
        raise SampDataError("table.select.rowList needs row-list, a list of row indices")
    indices = [_decode_row(text, entry.nrows) for text in row_list]
    with links.lock:
        waiters, entry.waiters = entry.waiters, []
        callbacks = list(entry.on_select)
        entry.pending = None if waiters else (indices, msg.sender_id)
    if not waiters and not callbacks:
        logger.debug("selection of %d rows of %s kept", len(indices), entry.table_id)
        return {}
    rows = take_rows(table, indices, msg.sender_id)
    for waiter in waiters:
        waiter.put(rows)
    for callback in callbacks:
        callback(rows)  # an exception becomes the samp.error the sender sees
    return {}


def _on_highlight(links: Links, msg: Any) -> dict[str, str]:
    entry, _table = _entry_for(links, msg.params)
    row = _decode_row(msg.params.get("row"), entry.nrows)
    with links.lock:
        callbacks = list(entry.on_highlight)
    for callback in callbacks:
        callback(row)
    return {}


def take_rows(table: Any, indices: list[int], sender_id: str = "") -> Any:
    """``table[indices]`` in the order given, for an astropy table (its ``meta`` gains
    ``row-indices`` and ``sender-id``); the list of indices for anything else."""
    if not hasattr(table, "colnames"):
        return list(indices)
    import numpy

    rows = table[numpy.asarray(indices, dtype=numpy.int64)]
    rows.meta["row-indices"] = list(indices)
    rows.meta["sender-id"] = sender_id
    return rows


# -- receiving: the public functions -----------------------------------------------------------


def selected_rows(conn: Any, table: Any, timeout: float | None = 60.0) -> Any:
    """Another application's selection of rows of *table*: the latest one that arrived
    since the connection started listening and that no call returned yet, else the next.

    *table* was sent (``send_table_to``) or received (``receive_table``) on *conn*.
    Returns ``table[indices]`` in the order the sender gave (its ``meta["row-indices"]``
    holds the indices), or the list of indices for a table sent as a file path.  Raises
    :class:`~minisamp.errors.SampTimeoutError` if no selection comes in *timeout* s.
    """
    entry = known(conn, table)
    links = _listen(conn, required=True)
    waiter: queue.SimpleQueue[Any] = queue.SimpleQueue()
    with links.lock:
        pending, entry.pending = entry.pending, None
        if pending is None:
            entry.waiters.append(waiter)
    if pending is not None:
        return take_rows(table, *pending)
    try:
        return waiter.get(timeout=timeout)
    except queue.Empty:
        raise SampTimeoutError(
            f"no selection of table-id {entry.table_id!r} arrived within {timeout} s"
        ) from None
    finally:
        with links.lock:
            if waiter in entry.waiters:
                entry.waiters.remove(waiter)


def on_selection(conn: Any, table: Any, callback: Callable[[Any], Any]) -> Callable[[], None]:
    """Call ``callback(rows)`` for every selection of rows of *table* another app sends.

    *rows* is as :func:`selected_rows` returns.  The callback runs on a worker thread;
    if it raises, the sender gets ``samp.error``.  The connection holds *table* until
    the returned function is called, which stops the callback.
    """
    entry = known(conn, table)
    links = _listen(conn, required=True)
    with links.lock:
        entry.watch(entry.on_select, callback)
    return lambda: _discard(links, entry, entry.on_select, callback)


def on_highlight(conn: Any, table: Any, callback: Callable[[int], Any]) -> Callable[[], None]:
    """Call ``callback(row_index)`` (0-based) whenever another app highlights a row of
    *table*.  The connection holds *table* until the returned function is called,
    which stops the callback."""
    entry = known(conn, table)
    links = _listen(conn, required=True)
    with links.lock:
        entry.watch(entry.on_highlight, callback)
    return lambda: _discard(links, entry, entry.on_highlight, callback)


def _discard(links: Links, entry: Linked, callbacks: list[Any], callback: Any) -> None:
    with links.lock:
        entry.unwatch(callbacks, callback)


# -- sending -------------------------------------------------------------------------------------


def _as_index(value: Any, nrows: int | None) -> int:
    if isinstance(value, bool):
        raise SampDataError("row indices are integers: give a list of ints or a boolean mask")
    try:
        row = operator.index(value)
    except TypeError:
        raise SampDataError(f"row index {value!r} is not an integer") from None
    if row < 0 or (nrows is not None and row >= nrows):
        raise SampDataError(f"row index {row} is out of range (the table has {nrows} rows)")
    return row


def row_indices(rows: Iterable[Any], nrows: int | None) -> list[int]:
    """*rows* (indices, or a boolean mask as long as the table) as sorted unique indices."""
    dtype = getattr(rows, "dtype", None)
    values = list(rows.tolist() if hasattr(rows, "tolist") else rows)
    is_mask = getattr(dtype, "kind", None) == "b" or (
        bool(values) and all(isinstance(v, bool) for v in values)
    )
    if is_mask:
        if nrows is not None and len(values) != nrows:
            raise SampDataError(f"the mask has {len(values)} entries, the table {nrows} rows")
        return [i for i, selected in enumerate(values) if selected]
    return sorted({_as_index(v, nrows) for v in values})


def send_linked(
    conn: Any,
    mtype: str,
    params: dict[str, Any],
    client_name: str | None,
    timeout: float,
) -> helpers.Delivery:
    """Call *client_name* (or every subscribed client) with *mtype* and wait for answers.

    A targeted refusal raises :class:`~minisamp.errors.SampResponseError`, and so does a
    broadcast nobody accepts; other apps refusing a table they never loaded is normal
    for a broadcast and only reported in the returned :class:`~minisamp.Delivery`.
    """
    message = Message.create(mtype, params)
    delivery = helpers.send_and_wait(
        conn, message, client_name, timeout=timeout, strict=client_name is not None
    )
    if not delivery.accepted and delivery.failed:
        reasons = "; ".join(
            f"{helpers.client_label(conn, cid)}: {why}" for cid, why in delivery.failed.items()
        )
        raise SampResponseError(
            f"{mtype} was accepted by nobody: {reasons}", responder_id=next(iter(delivery.failed))
        )
    return delivery


def _table_params(conn: Any, table: Any) -> tuple[dict[str, Any], int | None]:
    entry = links_of(conn).find(table)
    if entry is None:
        if isinstance(table, str):  # a table-id another application chose
            return {"table-id": table}, None
        known(conn, table)  # raises, saying what to do
    assert entry is not None
    params = {"table-id": entry.table_id}
    if entry.url:
        params["url"] = entry.url
    return params, entry.nrows


def select_rows(
    conn: Any,
    table: Any,
    rows: Iterable[Any],
    client_name: str | None = None,
    *,
    timeout: float = helpers.TABLE_TIMEOUT,
) -> helpers.Delivery:
    """Select *rows* of *table* in the app called *client_name* (or in every app that
    listens): ``table.select.rowList``.

    *rows* are 0-based indices or a boolean mask; *table* was sent or received on
    *conn* (or is a table-id string another app used).  Returns who accepted.
    """
    params, nrows = _table_params(conn, table)
    params["row-list"] = [encode_int(i) for i in row_indices(rows, nrows)]
    _listen(conn, required=False)
    return send_linked(conn, SELECT, params, client_name, timeout)


def highlight_row(
    conn: Any,
    table: Any,
    row: int,
    client_name: str | None = None,
    *,
    timeout: float = helpers.TABLE_TIMEOUT,
) -> helpers.Delivery:
    """Highlight row *row* (0-based) of *table* in the app called *client_name* (or in
    every app that listens): ``table.highlight.row``.  Returns who accepted."""
    params, nrows = _table_params(conn, table)
    params["row"] = encode_int(_as_index(row, nrows))
    _listen(conn, required=False)
    return send_linked(conn, HIGHLIGHT, params, client_name, timeout)
