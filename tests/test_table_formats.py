"""Which format send_table_to picks for each recipient, through an in-process hub."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import minisamp
from minisamp import helpers, tables
from minisamp.client import Client
from minisamp.hub import Hub
from minisamp.lockfile import file_url_to_path
from minisamp.testing import Recorder

np = pytest.importorskip("numpy", reason="tables need numpy")
astropy_table = pytest.importorskip("astropy.table", reason="tables need astropy")

pytestmark = pytest.mark.timeout(60)
ROWS = 2000  # above the threshold the tests set, far below the real one


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables of ROWS rows count as large here; the real threshold is tested in test_fits."""
    monkeypatch.setattr(tables.files, "FITS_MIN_BYTES", 10_000)


def catalogue(rows: int = ROWS, name: str = "src") -> Any:
    t = astropy_table.Table(
        {"id": np.arange(rows), "ra": np.linspace(0, 360, rows), "name": [name] * rows}
    )
    t["ra"].unit, t["ra"].meta["ucd"] = "deg", "pos.eq.ra"
    return t


class Viewer:
    """A client subscribed to exactly *mtypes*, recording what it is sent."""

    def __init__(self, hub: Hub, name: str, *mtypes: str) -> None:
        self.got: list[Any] = []
        self.client = Client(name, lockfile=hub.lock_url)
        self.client.connect()
        for mtype in mtypes:
            self.client.on(mtype, self.got.append)
        self.id = self.client.get_public_id()

    def only(self) -> Any:
        assert len(self.got) == 1, self.got
        return self.got[0]


@pytest.fixture
def viewers(samp_hub: Hub) -> Iterator[Any]:
    made: list[Viewer] = []

    def make(name: str, *mtypes: str) -> Viewer:
        made.append(Viewer(samp_hub, name, *mtypes))
        return made[-1]

    yield make
    for viewer in made:
        viewer.client.close()


def test_large_table_goes_as_fits_plus_to_a_recipient_that_loads_fits(viewers: Any) -> None:
    viewer = viewers("viewer", "table.load.votable", "table.load.fits")
    with minisamp.connection() as conn:
        delivery = minisamp.send_table_to(conn, catalogue(), client_name="viewer")
        message = viewer.only()
        assert message.mtype == "table.load.fits" and delivery.mtype == "table.load.fits"
        got = tables.read_table(str(message.params["url"]))
    assert str(message.params["url"]).endswith(".fits")
    assert got["ra"].unit == "deg" and got["ra"].meta["ucd"] == "pos.eq.ra"
    assert list(got["id"]) == list(range(ROWS))


@pytest.mark.parametrize(
    "table, format",
    [(catalogue(10), None), (catalogue(name="Bételgeuse"), None), (catalogue(), "votable")],
    ids=["small", "non-ASCII text", "format=votable"],
)
def test_votable_for_small_or_non_ascii_tables_and_when_asked(
    viewers: Any, table: Any, format: str | None
) -> None:
    viewer = viewers("viewer", "table.load.votable", "table.load.fits")
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, table, client_name="viewer", format=format)
    assert viewer.only().mtype == "table.load.votable"


def test_explicit_fits_wins_even_for_a_small_table(viewers: Any) -> None:
    viewer = viewers("viewer", "table.load.votable", "table.load.fits")
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, catalogue(10), client_name="viewer", format="fits")
    assert viewer.only().mtype == "table.load.fits"


def test_votable_for_a_recipient_without_fits(viewers: Any) -> None:
    viewer = viewers("viewer", "table.load.votable")
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, catalogue(), client_name="viewer")
    assert viewer.only().mtype == "table.load.votable"


def test_a_large_table_reaches_a_fits_only_viewer_without_a_nobody_warning(
    viewers: Any,
) -> None:
    """Nobody takes VOTables, but one viewer takes FITS: the broadcast reaches it, silently."""
    viewer = viewers("viewer", "table.load.fits")
    with minisamp.connection() as conn, warnings.catch_warnings():
        warnings.simplefilter("error")  # "no SAMP client is subscribed" would fail here
        broadcast = minisamp.send_table_to(conn, catalogue())
        named = minisamp.send_table_to(conn, catalogue(), client_name="viewer")
    assert list(broadcast.accepted) == list(named.accepted) == [viewer.id]
    assert [m.mtype for m in viewer.got] == ["table.load.fits"] * 2


def test_table_load_stil_by_name_gets_fits_plus_format(viewers: Any) -> None:
    topcat = viewers("topcat", "table.load.votable", "table.load.fits", "table.load.stil")
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, catalogue(), client_name="topcat", table_id="t1")
    message = topcat.only()
    assert message.mtype == "table.load.stil"
    assert message.params["format"] == "fits-plus" and message.params["table-id"] == "t1"


def test_a_wildcard_subscriber_gets_table_load_fits_not_stil(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, catalogue(), client_name="samp_receiver")
    assert samp_receiver.received("table.load.fits") and not samp_receiver.received(
        "table.load.stil"
    )


def test_broadcast_sends_each_recipient_its_format_writing_each_once(viewers: Any) -> None:
    fits_viewer = viewers("A", "table.load.votable", "table.load.fits")
    votable_viewer = viewers("B", "table.load.votable")
    with minisamp.connection() as conn:
        delivery = minisamp.send_table_to(conn, catalogue())
        spool = sorted(p.name for p in helpers._spool(conn).iterdir())
    a, b = fits_viewer.only(), votable_viewer.only()
    assert (a.mtype, b.mtype) == ("table.load.fits", "table.load.votable")
    assert a.params["table-id"] == b.params["table-id"]
    assert sorted(delivery.accepted) == sorted([fits_viewer.id, votable_viewer.id])
    assert delivery.sent[fits_viewer.id] == ("table.load.fits", a.params["url"])
    assert delivery.sent[votable_viewer.id] == ("table.load.votable", b.params["url"])
    assert len(spool) == 2 and {Path(n).suffix for n in spool} == {".fits", ".xml"}


def test_accessible_table_told_the_recipient_picks_its_format(viewers: Any) -> None:
    viewers("fits viewer", "table.load.votable", "table.load.fits")
    viewers("votable viewer", "table.load.votable")
    with minisamp.connection() as conn:
        with minisamp.accessible_table(catalogue(), conn=conn, client_name="fits viewer") as url:
            assert url.endswith(".fits")
        with minisamp.accessible_table(catalogue(), conn=conn, client_name="votable viewer") as u:
            assert u.endswith(".xml")
    with minisamp.accessible_table(catalogue()) as url:
        assert url.endswith(".xml")  # pyvo's behaviour: no recipient named, a VOTable


def test_a_file_that_cannot_be_deleted_does_not_fail_the_send(
    viewers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses to delete a file TOPCAT still maps; the send must not fail for it."""
    viewer = viewers("viewer", "table.load.votable", "table.load.fits")
    real_unlink = os.unlink

    def refuse(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).endswith(".fits"):
            raise PermissionError(13, "The process cannot access the file", str(path))
        real_unlink(path, *args, **kwargs)

    with minisamp.connection() as conn:
        delivery = minisamp.send_table_to(conn, catalogue(), client_name="viewer")
        monkeypatch.setattr(os, "unlink", refuse)
    monkeypatch.undo()
    assert delivery.accepted
    path = Path(file_url_to_path(str(viewer.only().params["url"])))
    if path.exists():  # left behind, as it would be there: clean up after the test
        path.unlink()
        path.parent.rmdir()
