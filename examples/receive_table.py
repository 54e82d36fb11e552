"""Wait for a table that someone sends us (e.g. TOPCAT's "Transmit Table"), and use it::

    python examples/receive_table.py --demo-hub

With ``--demo-hub`` a second client sends a table once we listen, so there is something
to receive.
"""

import contextlib
import sys
import threading
import time

from astropy.table import Table

import minisamp as samp
from minisamp.demo import stand_in_hub


def send_one_when_someone_listens() -> None:
    with samp.connection(client_name="demo sender") as conn:
        deadline = time.monotonic() + 10
        while not conn.get_subscribed_clients("table.load.votable") and time.monotonic() < deadline:
            time.sleep(0.05)
        samp.send_table_to(conn, Table({"x": [1, 2, 3]}), client_name="table receiver", name="xs")


demo = "--demo-hub" in sys.argv
with stand_in_hub() if demo else contextlib.nullcontext():
    if demo:
        threading.Thread(
            target=send_one_when_someone_listens, name="demo-sender", daemon=True
        ).start()
    with samp.connection(client_name="table receiver") as conn:
        table = samp.receive_table(conn, timeout=60)  # subscribes, waits, acknowledges
        print(f"received {table.meta.get('name')!r} from {table.meta['sender-id']}:")
        print(table)
