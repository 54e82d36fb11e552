"""Linked views with the real apps: TOPCAT takes our selections and highlights, and
Aladin loads the coverage maps we send (TOPCAT 4.8.7 does not subscribe to MOCs).

TOPCAT acknowledges ``table.load.votable`` a little before the table exists under its
``table-id`` (see ``shared/desktop-apps.md``), so the first highlight is retried until
TOPCAT knows the table: that retry is the readiness probe, not the assertion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningHub
from desktop import DesktopApp

import minisamp
from minisamp.errors import SampResponseError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
astropy_table = pytest.importorskip("astropy.table", reason="tables need astropy")


def stars() -> Any:
    return astropy_table.Table(
        {
            "name": ["Sirius", "Canopus", "Arcturus", "Vega", "Rigel"],
            "ra": [101.287, 95.988, 213.915, 279.235, 78.634],
            "dec": [-16.716, -52.696, 19.182, 38.784, -8.202],
        }
    )


def highlight_when_loaded(conn: Any, table: Any, row: int, timeout: float = 60) -> Any:
    """``highlight_row`` to TOPCAT, retried while TOPCAT is still loading the table."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return minisamp.highlight_row(conn, table, row, client_name="topcat")
        except SampResponseError as exc:
            if time.monotonic() > deadline or "No table" not in str(exc):
                raise
        time.sleep(0.2)  # TOPCAT gives no event when a load completes


def moc_fits(path: Path) -> Path:
    """A small MOC (HEALPix cells around Vega) as MOC 1.1 FITS, written with astropy."""
    from astropy.io import fits

    order = 6
    cells = [4 * 4**order + i for i in (30000, 30001, 30002, 30003)]  # NUNIQ at order 6
    column = fits.Column(name="UNIQ", format="K", array=cells)
    hdu = fits.BinTableHDU.from_columns([column])
    hdu.header.update(
        {"PIXTYPE": "HEALPIX", "ORDERING": "NUNIQ", "COORDSYS": "C", "MOCORDER": order}
    )
    hdu.header["MOCTOOL"] = "minisamp tests"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_topcat_accepts_our_selection_and_highlight_of_a_table_we_sent(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    samp_hub_factory("minisamp")
    app = desktop("topcat", ready_mtype="table.select.rowList")
    table = stars()
    with minisamp.connection(client_name="notebook") as conn:
        minisamp.send_table_to(conn, table, client_name="topcat", name="bright stars")
        highlighted = highlight_when_loaded(conn, table, 3)
        selected = minisamp.select_rows(conn, table, table["dec"] < 0, client_name="topcat")
    assert list(highlighted.accepted) == [app.client_id]
    assert list(selected.accepted) == [app.client_id]


def test_topcat_refuses_a_selection_of_a_table_it_does_not_have(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    samp_hub_factory("minisamp")
    desktop("topcat", ready_mtype="table.select.rowList")
    with minisamp.connection() as conn, pytest.raises(SampResponseError) as info:
        minisamp.select_rows(conn, "no-such-table", [0, 1], client_name="topcat")
    assert "topcat" in str(info.value) and "no-such-table" in str(info.value)


def test_aladin_accepts_a_moc_we_send(
    samp_hub_factory: Callable[[str], RunningHub],
    desktop: Callable[..., DesktopApp],
    tmp_path: Path,
) -> None:
    """Aladin, not TOPCAT: TOPCAT 4.8.7 does not subscribe to coverage.load.moc.fits."""
    samp_hub_factory("minisamp")
    app = desktop("aladin", ready_mtype="coverage.load.moc.fits")
    moc = moc_fits(tmp_path / "vega.fits")
    with minisamp.connection() as conn:
        delivery = minisamp.send_moc_to(conn, moc, client_name="Aladin", name="around Vega")
    assert list(delivery.accepted) == [app.client_id]


def test_aladin_accepts_a_mocpy_moc(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    mocpy = pytest.importorskip("mocpy", reason="pip install mocpy (minisamp[moc])")
    samp_hub_factory("minisamp")
    app = desktop("aladin", ready_mtype="coverage.load.moc.fits")
    moc = mocpy.MOC.from_str("6/30000-30003")
    with minisamp.connection() as conn:
        delivery = minisamp.send_moc_to(conn, moc, client_name="Aladin", name="mocpy")
    assert list(delivery.accepted) == [app.client_id]


def test_minisamp_select_reaches_topcat(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    """The command line's ``select`` and ``select --highlight`` on a table we sent."""
    import os
    import subprocess
    import sys

    samp_hub_factory("minisamp")
    app = desktop("topcat", ready_mtype="table.select.rowList")
    table = stars()
    with minisamp.connection(client_name="notebook") as conn:
        url = minisamp.send_table_to(conn, table, client_name="topcat", table_id="cli-stars").url
        highlight_when_loaded(conn, table, 0)
        # TOPCAT 4.8.7 finds a table we sent by its URL, not by the table-id we gave it
        without_url = minisamp.helpers.send_and_wait(
            conn,
            {
                "samp.mtype": "table.highlight.row",
                "samp.params": {"table-id": "cli-stars", "row": "1"},
            },
            "topcat",
            strict=False,
        )
        assert "No table" in without_url.failed.get(app.client_id, ""), without_url

    def select(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "minisamp", "select", *args, "--to", "topcat"]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=os.environ.copy()
        )

    chosen, highlighted, unknown = (
        select("cli-stars", "1,3-4", "--url", url),
        select("cli-stars", "2", "--highlight", "--url", url),
        select("not-loaded", "0", "--url", "file:///not/loaded.xml"),
    )
    assert chosen.returncode == 0 and "ok" in chosen.stdout, chosen.stdout + chosen.stderr
    assert highlighted.returncode == 0, highlighted.stdout + highlighted.stderr
    assert unknown.returncode == 6 and "No table with table-id=not-loaded" in unknown.stderr
