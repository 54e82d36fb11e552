"""What a connection remembers of the tables it sent or received: their table-ids.

One entry per table-id: the table's URL, a reference to the table (weak when the table
allows one; never a copy), its row count, and who listens for its selections and
highlights.  ``send_table_to`` and ``receive_table`` fill it in (one dict entry, no
subscription); :mod:`minisamp.linked` reads it.  Tables are looked up by table-id, then
by URL, as TOPCAT does, with every spelling of a ``file:`` URL taken as the same file.
"""

from __future__ import annotations

import os
import queue
import threading
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import SAMPClientError

__all__ = ["Linked", "Links", "known", "links_of", "remember_table"]


@dataclass(eq=False)
class Linked:
    """One table this connection sent or received: its id, URL and a reference to it."""

    table_id: str
    url: str
    ref: Callable[[], Any]
    nrows: int | None
    on_select: list[Callable[[Any], Any]] = field(default_factory=list)
    on_highlight: list[Callable[[int], Any]] = field(default_factory=list)
    waiters: list[queue.SimpleQueue[Any]] = field(default_factory=list)
    pinned: Any = None  # the table itself, held while callbacks want its rows
    pending: tuple[list[int], str] | None = None  # the last selection no waiter took

    def watch(self, callbacks: list[Any], callback: Any) -> None:
        """Add *callback*; the table is then kept alive until the last one goes."""
        self.pinned = self.ref()
        callbacks.append(callback)

    def unwatch(self, callbacks: list[Any], callback: Any) -> None:
        if callback in callbacks:
            callbacks.remove(callback)
        if not self.on_select and not self.on_highlight:
            self.pinned = None


class Links:
    """Every table one connection knows, by table-id; whether it listens yet."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: dict[str, Linked] = {}
        self.listening = False

    def find(self, table: Any) -> Linked | None:
        """The latest entry for *table*: the object itself, the same file path, or a
        table-id string."""
        path = os.fspath(table) if isinstance(table, (str, os.PathLike)) else None
        with self.lock:
            entries = list(self.tables.values())
        for entry in reversed(entries):
            held = entry.ref()
            if held is table or (
                path is not None
                and isinstance(held, (str, os.PathLike))
                and os.fspath(held) == path
            ):
                return entry
        if isinstance(table, str):
            return self.tables.get(table)
        return None

    def lookup(self, table_id: str | None, url: str | None) -> Linked | None:
        """The entry a message names: by table-id, else by URL (TOPCAT's order)."""
        with self.lock:
            if table_id is not None and table_id in self.tables:
                return self.tables[table_id]
            # TOPCAT names a table it has no table-id for by url alone, and one it sent
            # itself by its own URL as the table-id; either written file:/x.
            wanted = {_same_resource_key(u) for u in (url, table_id) if u}
            for entry in reversed(list(self.tables.values())):
                if entry.url and _same_resource_key(entry.url) in wanted:
                    return entry
        return None


_links: weakref.WeakKeyDictionary[Any, Links] = weakref.WeakKeyDictionary()
_links_lock = threading.Lock()


def links_of(conn: Any) -> Links:
    with _links_lock:
        links = _links.get(conn)
        if links is None:
            links = _links[conn] = Links()
        return links


def _same_resource_key(url: str) -> str:
    """``file:/x``, ``file:///x`` and ``file://localhost/x`` are one file (TOPCAT writes
    the first); other URLs compare as they are."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return "file:" + urllib.request.url2pathname(parts.path)
    return url


def _reference(table: Any) -> Callable[[], Any]:
    try:
        return weakref.ref(table)
    except TypeError:  # str paths and the like: small, kept as they are
        return lambda: table


def _row_count(table: Any) -> int | None:
    if hasattr(table, "colnames"):  # an astropy Table or QTable
        return len(table)
    return None


def remember_table(conn: Any, table_id: str, table: Any, url: str) -> None:
    """Remember that *table* travelled on *conn* as *table_id* (by reference, no copy).

    Called by ``send_table_to`` and ``receive_table``; costs one dict entry, and does not
    subscribe the connection to anything.
    """
    links = links_of(conn)
    entry = Linked(table_id, url, _reference(table), _row_count(table))
    with links.lock:
        old = links.tables.pop(table_id, None)
        if old is not None and old.ref() is table:  # sent again: keep its listeners
            entry.on_select, entry.on_highlight = old.on_select, old.on_highlight
            entry.waiters, entry.pinned = old.waiters, old.pinned
        links.tables[table_id] = entry


def known(conn: Any, table: Any) -> Linked:
    entry = links_of(conn).find(table)
    if entry is None:
        raise SAMPClientError(
            "this table was neither sent nor received on this connection: send it with "
            "samp.send_table_to(conn, table, ...) first, or use the table receive_table returned"
        )
    return entry
