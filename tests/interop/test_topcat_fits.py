"""A large table reaches a real TOPCAT as FITS-plus, with all its VOTable metadata.

TOPCAT is asked for the table back (its ``table.get.stil`` MType, as a VOTable served
over HTTP), so what is checked is what TOPCAT itself holds: values, units, UCDs,
descriptions and PARAMs.
"""

from __future__ import annotations

import io
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from conftest import RunningHub
from desktop import DesktopApp

import minisamp
from minisamp import tables

np = pytest.importorskip("numpy", reason="tables need numpy")
astropy_table = pytest.importorskip("astropy.table", reason="tables need astropy")
from astropy.io.votable import parse  # noqa: E402
from astropy.io.votable.tree import Param  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
ROWS = 30_000  # about 1.5 MB of values: above tables.FITS_MIN_BYTES


def big_votable() -> Any:
    """A VOTableFile (what pyvo's results are) with units, UCDs, descriptions, a PARAM."""
    rows = np.arange(ROWS)
    table = astropy_table.Table(
        {
            "id": rows.astype(np.int64) + 2**60,
            "ra": np.linspace(0.0, 359.0, ROWS),
            "mag": astropy_table.MaskedColumn(rows % 20 + 0.5, mask=rows % 7 == 0),
            "name": np.char.add("src", rows.astype(str)),
            "flag": rows % 2 == 0,
        }
    )
    table["ra"].unit, table["ra"].description = "deg", "Right ascension"
    table["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    buffer = io.BytesIO()
    tables.write_votable(table, buffer)
    buffer.seek(0)
    votable = parse(buffer)
    votable.get_first_table().params.append(
        Param(votable, name="epoch", datatype="double", value="2016.0", unit="yr")
    )
    return votable


def wait_usable(conn: Any, topcat: str, table_id: str) -> None:
    """TOPCAT answers samp.ok before a table is usable: probe until it highlights a row."""
    message = {
        "samp.mtype": "table.highlight.row",
        "samp.params": {"table-id": table_id, "row": "1"},
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if conn.call_and_wait(topcat, message, "30").get("samp.status") == "samp.ok":
            return
        time.sleep(0.05)  # TOPCAT's table list has no event to wait for
    raise AssertionError(f"TOPCAT never had table {table_id}")


def test_large_table_reaches_topcat_as_fits_plus_with_its_metadata(
    samp_hub_factory: Callable[[str], RunningHub],
    desktop: Callable[..., DesktopApp],
) -> None:
    samp_hub_factory("minisamp")
    app = desktop("topcat", ready_mtype="table.load.stil")
    votable = big_votable()
    assert tables.fits_worthwhile(votable)
    with minisamp.connection(client_name="fits sender") as conn:
        delivery = minisamp.send_table_to(
            conn, votable, client_name="topcat", name="big", table_id="big-1", timeout=60
        )
        mtype, url = delivery.sent[app.client_id]
        assert mtype == "table.load.stil" and url.endswith(".fits")
        wait_usable(conn, app.client_id, "big-1")
        pull = {"samp.mtype": "table.get.stil", "samp.params": {"format": "votable"}}
        response = conn.call_and_wait(app.client_id, pull, "60")
        assert response["samp.status"] == "samp.ok", response
        with urllib.request.urlopen(response["samp.result"]["url"], timeout=60) as served:
            back = parse(io.BytesIO(served.read())).get_first_table()
    fields = {field.name: field for field in back.fields}
    assert (fields["ra"].unit, fields["ra"].ucd) == ("deg", "pos.eq.ra;meta.main")
    assert fields["ra"].description == "Right ascension"
    assert [(p.name, p.value, str(p.unit)) for p in back.params if p.name == "epoch"] == [
        ("epoch", 2016.0, "yr")
    ]
    got, sent = back.array, votable.get_first_table().array
    assert len(got) == ROWS
    assert got["id"][ROWS - 1] == 2**60 + ROWS - 1  # exact: int64 beyond 2**53
    assert list(got["name"][:3]) == ["src0", "src1", "src2"]
    assert np.array_equal(np.ma.getmaskarray(got["mag"]), np.ma.getmaskarray(sent["mag"]))
    assert np.array_equal(np.asarray(got["flag"]), np.asarray(sent["flag"]))
