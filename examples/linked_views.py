"""Linked views: send a table to TOPCAT, highlight and select rows there, and get back
the rows selected in TOPCAT.

Run it with TOPCAT open (then select some points in a TOPCAT plot and use
"Transmit Subset" to "linked views example" within a minute), or with nothing else::

    python examples/linked_views.py --demo-hub

``--demo-hub`` starts a private hub with a stand-in "topcat" that loads the table and,
like TOPCAT's "Transmit Subset", sends back a selection of its rows.
"""

import contextlib
import sys
import threading

from astropy.table import Table

import minisamp as samp
from minisamp.demo import stand_in_hub

stars = Table(
    {
        "name": ["Sirius", "Canopus", "Arcturus", "Vega", "Rigel", "Procyon"],
        "ra": [101.287, 95.988, 213.915, 279.235, 78.634, 114.825],
        "dec": [-16.716, -52.696, 19.182, 38.784, -8.202, 5.225],
        "vmag": [-1.46, -0.74, -0.05, 0.03, 0.13, 0.34],
    }
)


def topcat_transmits_a_subset(topcat: samp.Client, loaded: samp.Inbox, to_name: str) -> None:
    """What TOPCAT sends for "Transmit Subset": the table-id it loaded the table
    under and the 0-based rows, ascending, as strings."""
    message = loaded.get(30)
    message.reply({})
    loaded.close()
    table_id = message.params["table-id"]
    to = topcat.find_client_id(to_name)
    while to not in topcat.get_subscribed_clients("table.select.rowList"):
        threading.Event().wait(0.05)  # until the example listens for selections
    selection = {"table-id": table_id, "row-list": ["0", "1", "4"]}
    topcat.call_and_wait(to, {"samp.mtype": "table.select.rowList", "samp.params": selection}, 30)


demo = "--demo-hub" in sys.argv
with contextlib.ExitStack() as stack:
    if demo:
        stack.enter_context(stand_in_hub())
        topcat = stack.enter_context(samp.Client("topcat", "stand-in for TOPCAT"))
        topcat.on("table.*", lambda msg: {})  # acknowledge selections and highlights
        args = (topcat, topcat.messages("table.load.votable"), "linked views example")
        threading.Thread(target=topcat_transmits_a_subset, args=args, daemon=True).start()
    conn = stack.enter_context(samp.connection(client_name="linked views example"))

    samp.send_table_to(conn, stars, client_name="topcat", name="bright stars")
    samp.highlight_row(conn, stars, 3, client_name="topcat")  # Vega
    samp.select_rows(conn, stars, stars["vmag"] < 0, client_name="topcat")
    print("selected the stars brighter than magnitude 0 in TOPCAT")

    print("waiting for a selection from TOPCAT (Transmit Subset)...")
    rows = samp.selected_rows(conn, stars, timeout=60)
    print(f"TOPCAT selected rows {rows.meta['row-indices']}:")
    print(rows)
