"""Send an astropy table to TOPCAT by name, and wait until TOPCAT has loaded it.

Run it with TOPCAT open (TOPCAT runs its own hub), or with nothing else running::

    python examples/send_table_to_topcat.py --demo-hub

``--demo-hub`` starts a private hub with a stand-in "TOPCAT" that prints what it gets.
This is pyvo.samp code: only the import differs.
"""

import contextlib
import sys

from astropy.table import Table

import minisamp as samp
from minisamp.demo import stand_in_hub

table = Table({"ra": [10.68, 83.82], "dec": [41.27, -5.39], "name": ["M31", "M42"]})
table["ra"].unit = table["dec"].unit = "deg"

hub = stand_in_hub("TOPCAT") if "--demo-hub" in sys.argv else contextlib.nullcontext()
with hub, samp.connection(client_name="table sender") as conn:
    delivery = samp.send_table_to(conn, table, client_name="TOPCAT", name="galaxies and nebulae")
    print("accepted by", ", ".join(samp.client_label(conn, c) for c in delivery.accepted))
