"""The rules every sending helper follows, and how clients are found by name.

* a broadcast nobody is subscribed to warns (SAMPWarning naming the MType), sends
  nothing and returns an empty result;
* a named recipient that is not subscribed raises SAMPProxyError 2 listing what it is
  subscribed to, before anything is written;
* a non-ASCII table name reaches the recipient: exactly in the file, as ``\\uXXXX`` in
  the SAMP ``name``;
* ``client_name=`` matches exactly, then ignoring case, then a unique substring.
"""

from __future__ import annotations

import codecs
import io
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import minisamp
from minisamp import helpers
from minisamp.client import Client
from minisamp.errors import ClientNotFoundError, SampDataError, SAMPProxyError, SAMPWarning
from minisamp.hub import Hub
from minisamp.tables import files as table_files
from minisamp.testing import Recorder

Factory = Callable[[str], Recorder]
pytestmark = pytest.mark.timeout(60)

astropy_table = pytest.importorskip("astropy.table", reason="tables need astropy")

URL = "https://example.org/m31.fits"


def stars() -> Any:
    return astropy_table.Table({"name": ["Vega", "Bételgeuse"], "vmag": [0.03, 0.5]})


#: (helper, MType it sends) called with client_name=None or a name.
SENDS: dict[str, tuple[str, Callable[[Any, str | None], Any]]] = {
    "send_table_to": ("table.load.votable", lambda c, n: minisamp.send_table_to(c, stars(), n)),
    "send_spectrum_to": (
        "spectrum.load.ssa-generic",
        lambda c, n: minisamp.send_spectrum_to(c, URL, n),
    ),
    "send_image_to": ("image.load.fits", lambda c, n: minisamp.send_image_to(c, URL, n)),
    "send_product_to": (
        "coverage.load.moc.fits",
        lambda c, n: minisamp.send_product_to(c, URL, "coverage.load.moc.fits", n),
    ),
    "point_at": ("coord.pointAt.sky", lambda c, n: minisamp.point_at(c, 10.0, 20.0, n)),
    "send_and_wait": (
        "test.echo",
        lambda c, n: helpers.send_and_wait(c, {"samp.mtype": "test.echo", "samp.params": {}}, n),
    ),
}


@pytest.fixture
def spy_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every table minisamp writes, recorded (the writer still runs)."""
    calls: list[Any] = []
    real = table_files.write_votable

    def record(table: Any, destination: Any, **kwargs: Any) -> None:
        calls.append(table)
        real(table, destination, **kwargs)

    monkeypatch.setattr(table_files, "write_votable", record)
    yield calls


@pytest.fixture
def picky(samp_hub: Hub) -> Iterator[Client]:
    """A client called "Picky Viewer" subscribed to one MType nobody here sends."""
    with Client("Picky Viewer", lockfile=samp_hub.lock_url) as client:
        client.on("x-picky.only.this", lambda m: {})
        yield client


@pytest.mark.parametrize("helper", sorted(SENDS))
def test_a_broadcast_nobody_is_subscribed_to_warns_naming_the_mtype(
    helper: str, samp_hub: Hub, picky: Client, spy_writes: list[Any]
) -> None:
    mtype, send = SENDS[helper]
    with minisamp.connection() as conn, pytest.warns(SAMPWarning, match=mtype) as caught:
        result = send(conn, None)
    assert not result
    assert not spy_writes  # nothing was written for nobody
    assert caught[0].filename == __file__  # the warning points at the caller's line


@pytest.mark.parametrize("helper", sorted(SENDS))
def test_a_named_recipient_not_subscribed_raises_with_its_subscriptions(
    helper: str, samp_hub: Hub, picky: Client, spy_writes: list[Any]
) -> None:
    mtype, send = SENDS[helper]
    with minisamp.connection() as conn, pytest.raises(SAMPProxyError) as info:
        send(conn, "Picky Viewer")
    assert info.value.faultCode == 2  # as the hub, and pyvo, say it
    text = str(info.value)
    assert mtype in text and "Picky Viewer" in text and "x-picky.only.this" in text
    assert not spy_writes  # refused before the table was written


@pytest.mark.parametrize("helper", sorted(SENDS))
def test_a_broadcast_someone_takes_does_not_warn(
    helper: str, samp_hub: Hub, samp_receiver: Recorder
) -> None:
    _, send = SENDS[helper]
    with minisamp.connection() as conn, warnings.catch_warnings():
        warnings.simplefilter("error", SAMPWarning)
        assert send(conn, None)


def test_a_non_ascii_table_name_reaches_the_recipient(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    from astropy.io.votable import parse

    name = "Ångström ✓ \U0001f600"
    with minisamp.connection() as conn:
        delivery = minisamp.send_table_to(conn, stars(), "samp_receiver", name=name)
        assert list(delivery.accepted) == [samp_receiver.id]
        params = samp_receiver.received("table.load.votable")[0].params
        assert params["name"] == "\\u00c5ngstr\\u00f6m \\u2713 \\U0001f600"
        assert codecs.decode(params["name"], "unicode_escape") == name
        data = table_files._fetch(params["url"], 10)  # the file, while the connection lives
    assert parse(io.BytesIO(data)).get_first_table().name == name


def test_a_minisamp_receiver_gets_the_exact_name_back(samp_hub: Hub) -> None:
    name = "Ångström ✓ \U0001f600"
    got: list[Any] = []
    with Client("receiver", lockfile=samp_hub.lock_url) as receiver:
        listener = threading.Thread(target=lambda: got.append(minisamp.receive_table(receiver, 20)))
        listener.start()
        with minisamp.connection() as conn:
            while not conn.get_subscribed_clients("table.load.votable"):
                listener.join(0.01)  # until receive_table has subscribed
            minisamp.send_table_to(conn, stars(), "receiver", name=name)
        listener.join(20)
    assert got[0].meta["name"] == name
    assert list(got[0]["name"]) == ["Vega", "Bételgeuse"]


def test_what_cannot_be_sent_is_refused_before_the_table_is_written(
    samp_hub: Hub, samp_receiver: Recorder, spy_writes: list[Any]
) -> None:
    with minisamp.connection() as conn:
        with pytest.raises(SampDataError, match="table-id"):
            minisamp.send_table_to(conn, stars(), "samp_receiver", table_id="tábla")
        with pytest.raises(ClientNotFoundError):
            minisamp.send_table_to(conn, stars(), "nobody by that name")
    assert not spy_writes


# -- names ---------------------------------------------------------------------------------


@pytest.fixture
def named(samp_receiver_factory: Factory) -> dict[str, str]:
    """Clients registered under the names the real applications use."""
    return {n: samp_receiver_factory(n).id for n in ("topcat", "SAOImageDS9", "Aladin")}


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("SAOImageDS9", "SAOImageDS9"),  # exact
        ("TOPCAT", "topcat"),  # ignoring case
        ("ds9", "SAOImageDS9"),  # the only name containing it
        ("DS9", "SAOImageDS9"),
        ("aladin", "Aladin"),
    ],
)
def test_client_names_match_exactly_then_ignoring_case_then_by_unique_part(
    samp_hub: Hub, named: dict[str, str], asked: str, found: str
) -> None:
    with minisamp.connection() as conn:
        assert minisamp.find_client_id(conn, asked) == named[found]
        assert conn.find_client_id(asked) == named[found]


def test_a_part_of_several_names_lists_the_candidates(samp_hub: Hub, named: dict[str, str]) -> None:
    with minisamp.connection() as conn, pytest.raises(ClientNotFoundError) as info:
        minisamp.find_client_id(conn, "a")  # in Aladin, topcat and SAOImageDS9
    text = str(info.value)
    assert "several" in text and all(f"{n!r} ({named[n]})" in text for n in named), text
    assert isinstance(info.value, KeyError)  # as pyvo's


def test_an_exact_name_wins_over_a_longer_one_containing_it(
    samp_hub: Hub, samp_receiver_factory: Factory
) -> None:
    short, _ = samp_receiver_factory("Aladin"), samp_receiver_factory("Aladin Lite")
    with minisamp.connection() as conn:
        assert minisamp.find_client_id(conn, "aladin") == short.id


def test_pyvo_clients_find_names_by_part_too(samp_hub: Hub, named: dict[str, str]) -> None:
    pyvo_samp = pytest.importorskip("pyvo.samp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = pyvo_samp.SAMPIntegratedClient(name="a pyvo script", addr="127.0.0.1")
        client.connect(hub_params=dict(samp_hub.params))
    try:
        assert minisamp.find_client_id(client, "ds9") == named["SAOImageDS9"]
    finally:
        client.disconnect()
