"""Linked views with the real apps: TOPCAT takes our selections and highlights, and
Aladin loads the coverage maps we send (TOPCAT 4.8.7 does not subscribe to MOCs).

TOPCAT acknowledges ``table.load.votable`` a little before the table exists under its
``table-id`` (see ``shared/desktop-apps.md``), so the first highlight is retried until
TOPCAT knows the table: that retry is the readiness probe, not the assertion.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningHub
from desktop import JAVA, TOPCAT_JAR, DesktopApp, require

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


@pytest.mark.parametrize("given", ["file", "mocpy"])
def test_aladin_accepts_a_moc_we_send(
    given: str,
    samp_hub_factory: Callable[[str], RunningHub],
    desktop: Callable[..., DesktopApp],
    tmp_path: Path,
) -> None:
    """Aladin, not TOPCAT (TOPCAT 4.8.7 has no MOC MType).  Debian's Aladin 12.001 does not
    subscribe to coverage.load.moc.fits: it gets the MOC through its ``load`` script
    command, and shows it as a coverage (SMOC) plane."""
    moc: Any = moc_fits(tmp_path / "vega.fits")
    if given == "mocpy":
        moc = pytest.importorskip("mocpy", reason="pip install mocpy").MOC.from_str("6/30000-30003")
    samp_hub_factory("minisamp")
    app = desktop("aladin", ready_mtype="image.load.fits")
    with minisamp.connection() as conn:
        delivery = minisamp.send_moc_to(conn, moc, client_name="Aladin", name="around Vega")
        assert list(delivery.accepted) == [app.client_id]
        status = {"samp.mtype": "script.aladin.send", "samp.params": {"script": "status"}}
        planes = conn.call_and_wait(app.client_id, status, "60")["samp.result"]["script.result"]
    assert "Type    SMOC" in planes, planes


def test_minisamp_select_reaches_topcat(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    """The command line's ``select`` and ``select --highlight`` on a table we sent."""
    import sys

    samp_hub_factory("minisamp")
    desktop("topcat", ready_mtype="table.select.rowList")
    table = stars()
    with minisamp.connection(client_name="notebook") as conn:
        url = minisamp.send_table_to(conn, table, client_name="topcat", table_id="cli-stars").url
        highlight_when_loaded(conn, table, 0)

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


def _java_can_run_source_files() -> bool:
    modules = subprocess.run(
        [JAVA, "--list-modules"], capture_output=True, text=True, timeout=60, check=False
    )
    return "jdk.compiler" in modules.stdout


def test_topcat_transmits_a_subset_and_a_row_and_we_get_them(
    samp_hub_factory: Callable[[str], RunningHub],
    xvfb_display: str,
    isolated_samp_env: Path,
    tmp_path: Path,
) -> None:
    """TOPCAT's own code builds the messages (java/TopcatTransmits.java drives TOPCAT as a
    user would: sort the view, Transmit Subset, Transmit Row): the rows we get are the
    rows of the table we sent, whatever TOPCAT's sort order."""
    require("topcat")
    if not _java_can_run_source_files():
        pytest.skip(
            "running TopcatTransmits.java needs a JDK: apt-get install default-jdk-headless"
        )
    samp_hub_factory("minisamp")
    home = tmp_path / "topcat-home"
    home.mkdir()
    command = [
        JAVA,
        f"-Duser.home={home}",
        "-Djava.awt.headless=false",
        "-Djsamp.localhost=127.0.0.1",
        "-Djsamp.server.port=0",
        "-cp",
        str(TOPCAT_JAR),
        str(Path(__file__).parent / "java" / "TopcatTransmits.java"),
        "notebook",
        "0,2,4",  # rows as loaded
        "3",  # the row to highlight
        "2",  # sort TOPCAT's view on "dec", descending: rows 3, 2, 4, 0, 1
    ]
    env = {
        **os.environ,
        "DISPLAY": xvfb_display,
        "SAMP_HUB": f"std-lockurl:{isolated_samp_env.as_uri()}",
    }
    log = tmp_path / "topcat.log"
    with log.open("w") as sink:
        topcat = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        table = stars()
        highlighted: list[int] = []
        with minisamp.connection(client_name="notebook") as conn:
            _wait_for_topcat(conn, topcat, log)
            minisamp.send_table_to(conn, table, client_name="topcat", name="bright stars")
            minisamp.on_highlight(conn, table, highlighted.append)  # TOPCAT waits for this
            rows = minisamp.selected_rows(conn, table, timeout=120)
            assert topcat.wait(120) == 0, log.read_text()
    finally:
        if topcat.poll() is None:
            topcat.kill()
            topcat.wait(10)
    assert rows.meta["row-indices"] == [0, 2, 4]
    assert list(rows["name"]) == ["Sirius", "Arcturus", "Rigel"]
    assert highlighted == [3]


def _wait_for_topcat(conn: Any, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"TOPCAT exited: {log.read_text()}")
        for client_id in conn.get_subscribed_clients("table.load.votable"):
            if conn.get_metadata(client_id).get("samp.name") == "topcat":
                return
        time.sleep(0.2)  # another process's registration: there is no event to await
    raise AssertionError(f"TOPCAT did not register: {log.read_text()}")
