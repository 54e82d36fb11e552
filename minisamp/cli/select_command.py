"""``minisamp select``: select (or highlight) rows of a table another app has loaded,
and the readable form ``minisamp listen`` prints selections and highlights in.

``ROWS`` is a comma-separated list of 0-based row indices and inclusive ranges:
``0,3,10-12`` selects rows 0, 3, 10, 11 and 12.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from .. import linked
from ..datatypes import encode_int
from ..errors import SampDataError
from .commands import _client, _labels, _print_delivery, _reporting_nobody

__all__ = ["add_select_command", "cmd_select", "describe_linked", "parse_rows"]


def parse_rows(text: str) -> list[int]:
    """``"0,3,10-12"`` → ``[0, 3, 10, 11, 12]`` (sorted, unique)."""
    rows: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, dash, last = part.partition("-")
        try:
            start = int(first)
            stop = int(last) if dash else start
        except ValueError:
            raise SampDataError(
                f"{part!r} is not a row index or range: write ROWS like 0,3,10-12"
            ) from None
        if start < 0 or stop < start:
            raise SampDataError(f"{part!r}: rows are 0-based and ranges go upwards (10-12)")
        rows.update(range(start, stop + 1))
    if not rows:
        raise SampDataError("no rows given: write ROWS like 0,3,10-12")
    return sorted(rows)


def _ranges(indices: list[int]) -> str:
    """``[0, 3, 10, 11, 12]`` → ``"0, 3, 10-12"`` (*indices* sorted and unique)."""
    parts: list[str] = []
    i = 0
    while i < len(indices):
        j = i
        while j + 1 < len(indices) and indices[j + 1] == indices[j] + 1:
            j += 1
        parts.append(str(indices[i]) if i == j else f"{indices[i]}-{indices[j]}")
        i = j + 1
    return ", ".join(parts)


def describe_linked(mtype: str, params: Mapping[str, Any]) -> str | None:
    """A one-line reading of a selection or highlight; None for other MTypes."""
    if mtype not in (linked.SELECT, linked.HIGHLIGHT):
        return None
    table = params.get("table-id") or params.get("url") or "?"
    if mtype == linked.HIGHLIGHT:
        return f"highlight row {params.get('row')} of table {table}"
    raw = params.get("row-list")
    texts = raw if isinstance(raw, list) else []
    try:
        indices = [int(str(t)) for t in texts]
    except ValueError:
        return f"select rows {texts} of table {table}"
    shown = _ranges(sorted(set(indices))) if indices else "none"
    return f"select {len(indices)} row{'s' if len(indices) != 1 else ''} of table {table}: {shown}"


def cmd_select(args: argparse.Namespace) -> int:
    """Select (or highlight) rows of the table with *table_id* in other applications."""
    rows = parse_rows(args.rows)
    params: dict[str, Any] = {"table-id": args.table_id}
    if args.url:
        params["url"] = args.url
    if args.highlight:
        if len(rows) != 1:
            raise SampDataError("--highlight takes exactly one row")
        mtype, params["row"] = linked.HIGHLIGHT, encode_int(rows[0])
    else:
        mtype, params["row-list"] = linked.SELECT, [encode_int(r) for r in rows]
    with _client(args, "minisamp select") as client, _reporting_nobody():
        labels = _labels(client)
        delivery = linked.send_linked(client, mtype, params, args.to, args.timeout)
        return _print_delivery(client, delivery, labels)


def add_select_command(
    command: Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``select`` to the ``minisamp`` parser (*command* and *common* are main's)."""
    p = command(
        "select",
        cmd_select,
        "select rows of a table in other apps (table.select.rowList), or highlight one",
    )
    common(p)
    p.add_argument("table_id", metavar="TABLE-ID", help="the table-id the table was sent with")
    p.add_argument("rows", metavar="ROWS", help="0-based rows and ranges, e.g. 0,3,10-12")
    p.add_argument("--to", metavar="NAME", help="the recipient's name (default: everyone)")
    p.add_argument("--url", help="the table's URL too (some apps find tables by URL)")
    p.add_argument(
        "--highlight", action="store_true", help="highlight one row (table.highlight.row)"
    )
