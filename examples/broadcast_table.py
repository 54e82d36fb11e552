"""Broadcast a table to every application that can load VOTables, and report who took it.

Unlike pyvo.samp 1.9, this skips clients that cannot load tables (the hub among them)
instead of failing on the first one::

    python examples/broadcast_table.py --demo-hub
"""

import contextlib
import sys

from astropy.table import Table

import minisamp as samp
from minisamp.demo import stand_in_hub

table = Table({"id": [1, 2, 3], "flux": [1.5, 2.25, 0.125]})

hub = stand_in_hub("TOPCAT", "Aladin") if "--demo-hub" in sys.argv else contextlib.nullcontext()
with hub, samp.connection(client_name="broadcaster") as conn:
    delivery = samp.send_table_to(conn, table, name="fluxes")  # no client_name: broadcast
    for client_id in delivery.accepted:
        print("accepted by", samp.client_label(conn, client_id))
    for client_id, why in delivery.failed.items():
        print("refused by", samp.client_label(conn, client_id), "-", why)
