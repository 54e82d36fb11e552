"""``minisamp demo``: the main job on a machine with nothing else running.

Starts a hub in this process on a private lockfile (or uses the running one), registers
a receiver and a sender, sends a table built in memory with the pyvo-compatible
``send_table_to``, shows what the receiver got, and shuts everything down.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .client.client import Client
from .client.handlers import ReceivedMessage
from .errors import MissingDependencyError, SampError

__all__ = ["run_demo", "stand_in_hub"]

RECEIVER = "demo receiver"


def _step(label: str, text: str) -> None:
    print(f"  {label:<10} {text}", flush=True)


@contextlib.contextmanager
def _samp_hub_env(value: str) -> Iterator[None]:
    """Point ``SAMP_HUB`` at *value* for the block (the demo's private hub)."""
    old = os.environ.get("SAMP_HUB")
    os.environ["SAMP_HUB"] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SAMP_HUB", None)
        else:
            os.environ["SAMP_HUB"] = old


@contextlib.contextmanager
def stand_in_hub(*names: str) -> Iterator[list[Client]]:
    """A private hub for the block, with stand-in clients called *names* that print and
    acknowledge everything they receive (so examples run with nothing else installed).

    ``SAMP_HUB`` points at the hub inside the block.
    """
    from .hub.hub import Hub

    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="minisamp-")))
        hub = stack.enter_context(Hub(directory / "lockfile"))
        stack.enter_context(_samp_hub_env(hub.environ["SAMP_HUB"]))
        clients = []
        for name in names:
            client = stack.enter_context(Client(name, f"stand-in for {name} (minisamp demo)"))

            def show(msg: ReceivedMessage, name: str = name) -> dict[str, str]:
                if not msg.mtype.startswith("samp.hub."):  # hub events are just noise here
                    print(f"[{name} received {msg.mtype} {dict(msg.params)}]", flush=True)
                return {}

            client.on("*", show)
            clients.append(client)
        yield clients


def _bright_stars() -> Any:
    from .tables.files import _import_astropy_table

    table_class = _import_astropy_table("the demo needs")
    table = table_class(
        {
            "name": ["Sirius", "Canopus", "Arcturus", "Vega", "Bételgeuse"],
            "ra": [101.287, 95.988, 213.915, 279.235, 88.793],
            "dec": [-16.716, -52.696, 19.182, 38.784, 7.407],
            "vmag": [-1.46, -0.74, -0.05, 0.03, 0.50],
        },
        meta={"name": "bright stars"},
    )
    for column, unit, ucd in (
        ("ra", "deg", "pos.eq.ra"),
        ("dec", "deg", "pos.eq.dec"),
        ("vmag", "mag", "phot.mag;em.opt.V"),
    ):
        table[column].unit = unit
        table[column].meta["ucd"] = ucd
    return table


def run_demo(*, use_running_hub: bool = False) -> int:
    """Run the demo, printing each step; returns an exit code."""
    from . import helpers

    print("minisamp demo: a table from one SAMP client to another, through a hub", flush=True)
    try:
        table = _bright_stars()
    except MissingDependencyError as exc:
        print(f"  {exc}", flush=True)
        return 1
    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        if use_running_hub:
            _step("hub", "using the running hub ($SAMP_HUB or ~/.samp)")
        else:
            from .hub.hub import Hub

            directory = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="minisamp-demo-"))
            )
            hub = stack.enter_context(Hub(directory / "lockfile"))
            stack.enter_context(_samp_hub_env(hub.environ["SAMP_HUB"]))
            _step("hub", f"started in this process at {hub.url} ({_ms(started)})")

        got: dict[str, Any] = {}
        arrived = threading.Event()
        receiver = stack.enter_context(Client(RECEIVER, "receives tables for the minisamp demo"))

        def load(msg: ReceivedMessage) -> dict[str, str]:
            from .tables.files import read_table

            got["table"] = read_table(str(msg.params["url"]))
            got["message"] = msg
            arrived.set()
            return {}

        receiver.on("table.load.votable", load)

        _step(
            "receiver",
            f"registered as {receiver.get_public_id()}, subscribed to table.load.votable",
        )
        conn = stack.enter_context(helpers.connection(client_name="demo sender"))
        _step("sender", f"registered as {conn.get_public_id()} with minisamp.connection()")

        started = time.perf_counter()
        try:
            delivery = helpers.send_table_to(conn, table, client_name=RECEIVER, name="bright stars")
        except SampError as exc:
            _step("send", f"FAILED: {exc}")
            return 1
        who = ", ".join(helpers.client_label(conn, cid) for cid in delivery.accepted)
        _step(
            "send",
            f"send_table_to(conn, table, client_name={RECEIVER!r}) accepted by {who} "
            f"({_ms(started)})",
        )
        arrived.wait(5)
        received, message = got["table"], got["message"]
        _step(
            "received",
            f"{len(received)} rows x {len(received.columns)} columns "
            f"from {message.sender_id}, name {message.params.get('name')!r}:",
        )
        for line in received.pformat(max_width=100):
            print(f"             {line}", flush=True)
    hub_fate = "left running" if use_running_hub else "stopped"
    _step("shutdown", f"clients unregistered, hub {hub_fate}, temporary files removed")
    return 0


def _ms(started: float) -> str:
    return f"{1000 * (time.perf_counter() - started):.0f} ms"
