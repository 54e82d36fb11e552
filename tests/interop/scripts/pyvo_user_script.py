"""A user's script written only against pyvo.samp's public API.

Run as ``python pyvo_user_script.py MODULE [broadcast]`` with MODULE ``pyvo.samp`` or
``minisamp``: the drop-in test runs it once with each and compares what a receiver got.
"""

import importlib
import sys

from astropy.table import Table

samp = importlib.import_module(sys.argv[1])
table = Table({"id": [1, 2, 3], "name": ["a", "b", "c"]})

with samp.connection(client_name="user script", description="drop-in test") as conn:
    receiver = samp.find_client_id(conn, "receiver")
    samp.send_table_to(conn, table, client_name="receiver", name="targeted table")
    samp.send_image_to(conn, "http://example.org/image.fits", client_name="receiver", name="img")
    samp.send_spectrum_to(conn, "http://example.org/spec.fits", "receiver", name="spec")
    samp.send_product_to(
        conn,
        "http://example.org/moc.fits",
        "coverage.load.moc.fits",
        client_name="receiver",
        name="moc",
    )
    with samp.accessible_table(table) as url:
        conn.notify(
            receiver,
            {"samp.mtype": "table.load.votable", "samp.params": {"url": url, "name": "accessible"}},
        )
    conn.enotify(receiver, "x.test.note", flag="1")
    response = conn.ecall_and_wait(receiver, "x.test.call", "10", value="42")
    assert response["samp.status"] == "samp.ok", response
    try:
        samp.find_client_id(conn, "no such client")
    except KeyError:
        pass
    else:
        raise AssertionError("find_client_id found a client that does not exist")
    if sys.argv[2:] == ["broadcast"]:
        samp.send_table_to(conn, table, name="broadcast table")
print("script done")
