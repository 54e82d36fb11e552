"""The pyvo.samp drop-in helpers, end to end through an in-process hub."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import minisamp
from minisamp import helpers
from minisamp.client import Client
from minisamp.errors import (
    ClientNotFoundError,
    SampResponseError,
    SampTimeoutError,
    SAMPWarning,
)
from minisamp.hub import Hub
from minisamp.testing import Recorder

Factory = Callable[[str], Recorder]
astropy_table = pytest.importorskip(
    "astropy.table", reason="tables need astropy (pip install astropy)"
)


def stars() -> Any:
    return astropy_table.Table({"name": ["Vega", "Bételgeuse"], "vmag": [0.03, 0.5]})


def test_connection_registers_with_pyvo_defaults_and_unregisters(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    with minisamp.connection() as conn:
        me = conn.get_public_id()
        assert conn.get_metadata(me)["samp.name"] == "pyvo client"
        assert me in samp_receiver.client.get_registered_clients()
    assert me not in samp_receiver.client.get_registered_clients()


def test_connection_unregisters_on_keyboard_interrupt(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    with pytest.raises(KeyboardInterrupt), minisamp.connection(client_name="x") as conn:
        me = conn.get_public_id()
        raise KeyboardInterrupt
    assert me not in samp_receiver.client.get_registered_clients()


def test_find_client_id_exact_then_case_insensitive(
    samp_hub: Hub, samp_receiver_factory: Factory
) -> None:
    topcat = samp_receiver_factory("TOPCAT")
    with minisamp.connection() as conn:
        assert helpers.find_client_id(conn, "TOPCAT") == topcat.id
        assert helpers.find_client_id(conn, "topcat") == topcat.id


def test_unknown_client_name_is_a_key_error_listing_who_is_there(
    samp_hub: Hub, samp_receiver_factory: Factory
) -> None:
    samp_receiver_factory("TOPCAT")
    with minisamp.connection() as conn, pytest.raises(KeyError) as info:
        minisamp.send_image_to(conn, "http://example.org/x.fits", client_name="Aladin")
    assert isinstance(info.value, ClientNotFoundError)
    assert "'TOPCAT'" in str(info.value) and "Aladin" in str(info.value)


def test_send_table_to_named_client_waits_for_acknowledgement(
    samp_hub: Hub, samp_receiver_factory: Factory
) -> None:
    topcat = samp_receiver_factory("TOPCAT")
    with minisamp.connection() as conn:
        delivery = minisamp.send_table_to(conn, stars(), client_name="TOPCAT", name="my stars")
        assert list(delivery.accepted) == [topcat.id]
        message = topcat.received("table.load.votable")[0]  # already there: it was a call
        assert message.params["name"] == "my stars" and message.is_call
        path = Path(minisamp.lockfile.file_url_to_path(str(message.params["url"])))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.exists() and not path.parent.exists()


def test_sent_table_round_trips_through_receive_table(samp_hub: Hub) -> None:
    table = astropy_table.Table(
        {"name": ["Vega", "Bételgeuse", "x"], "n": [1, 2, 3], "flag": [True, False, True]}
    )
    got: list[Any] = []
    with Client("receiver", lockfile=samp_hub.lock_url) as receiver:
        waiter = threading.Thread(target=lambda: got.append(minisamp.receive_table(receiver, 10)))
        with receiver.messages("table.load.votable") as _:  # subscribe before the send
            waiter.start()
            with minisamp.connection() as conn:
                helpers.send_table_to(conn, table, client_name="receiver", name="t")
        waiter.join(10)
    received = got[0]
    assert list(received["name"]) == ["Vega", "Bételgeuse", "x"]
    assert list(received["n"]) == [1, 2, 3] and list(received["flag"]) == [True, False, True]
    assert received.meta["name"] == "t"


def test_broadcast_goes_to_exactly_the_subscribed_clients(
    samp_hub: Hub, samp_receiver_factory: Factory
) -> None:
    a, b = samp_receiver_factory("A"), samp_receiver_factory("B")
    with Client("not a table viewer", lockfile=samp_hub.lock_url) as other:
        other.on("coord.pointAt.sky", lambda m: {})
        with minisamp.connection() as conn:
            delivery = minisamp.send_table_to(conn, stars())
    assert sorted(delivery.accepted) == sorted([a.id, b.id]) and not delivery.failed


def test_refused_table_raises_naming_recipient_and_reason(samp_hub: Hub) -> None:
    def refuse(message: Any) -> None:
        raise ValueError("cannot parse this VOTable")

    with Client("Picky", lockfile=samp_hub.lock_url) as picky:
        picky.on("table.load.votable", refuse)
        with minisamp.connection() as conn, pytest.raises(SampResponseError) as info:
            minisamp.send_table_to(conn, stars(), client_name="Picky")
    assert "Picky" in str(info.value) and "cannot parse this VOTable" in str(info.value)


def test_broadcast_warns_about_clients_that_refused(samp_hub: Hub, samp_receiver: Recorder) -> None:
    with Client("Picky", lockfile=samp_hub.lock_url) as picky:
        picky.on("table.load.votable", lambda m: (_ for _ in ()).throw(ValueError("no")))
        with minisamp.connection() as conn, pytest.warns(SAMPWarning, match="Picky"):
            delivery = minisamp.send_table_to(conn, stars())
    assert list(delivery.accepted) == [samp_receiver.id] and list(delivery.failed) == [
        picky.get_public_id()
    ]


def test_existing_file_is_sent_as_is(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path
) -> None:
    path = tmp_path / "mine.vot"
    stars().write(path, format="votable")
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, str(path), client_name="samp_receiver")
    assert samp_receiver.received("table.load.votable")[0].params["url"] == path.resolve().as_uri()
    assert path.exists()


def test_product_image_spectrum_and_point_messages(samp_hub: Hub, samp_receiver: Recorder) -> None:
    with minisamp.connection() as conn:
        assert minisamp.send_image_to(conn, "http://x/i.fits", "samp_receiver", name="img") == [
            samp_receiver.id
        ]
        minisamp.send_spectrum_to(
            conn, "http://x/s.fits", meta={"Access.Format": "application/fits"}
        )
        minisamp.send_product_to(conn, "http://x/m.fits", "coverage.load.moc.fits", "samp_receiver")
        helpers.point_at(conn, 10.5, -20.25, "samp_receiver")
    image = samp_receiver.wait_for("image.load.fits")
    assert image.params == {"url": "http://x/i.fits", "name": "img"} and not image.is_call
    spectrum = samp_receiver.wait_for("spectrum.load.ssa-generic").params
    assert spectrum["meta"] == {"Access.Format": "application/fits"} and spectrum["name"] == "data"
    assert samp_receiver.wait_for("coverage.load.moc.fits").params["url"] == "http://x/m.fits"
    assert samp_receiver.wait_for("coord.pointAt.sky").params == {"ra": "10.5", "dec": "-20.25"}


def test_accessible_table_yields_a_private_file_url_removed_after(samp_hub: Hub) -> None:
    with minisamp.accessible_table(stars()) as url:
        path = minisamp.lockfile.file_url_to_path(url)
        assert url.startswith("file:///") and path.exists()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not path.exists()


def test_receive_table_times_out_clearly(samp_hub: Hub) -> None:
    with (
        Client("receiver", lockfile=samp_hub.lock_url) as receiver,
        pytest.raises(SampTimeoutError),
    ):
        minisamp.receive_table(receiver, timeout=0.3)


def test_every_column_kind_round_trips_through_a_receiving_client(samp_hub: Hub) -> None:
    np = pytest.importorskip("numpy", reason="numpy is not installed (pip install numpy)")
    masked = astropy_table.MaskedColumn
    table = astropy_table.Table(
        {
            "i8": np.array([-128, 0, 127], dtype=np.int8),
            "u8": np.array([0, 1, 255], dtype=np.uint8),
            "i16": np.array([-32768, 0, 32767], dtype=np.int16),
            "i32": masked([1, 2, 3], mask=[False, True, False], dtype=np.int32),
            "i64": np.array([-(2**63), 0, 2**63 - 1], dtype=np.int64),
            "f32": np.array([1.5, np.nan, -0.0], dtype=np.float32),
            "f64": masked([0.1, 2e300, 3.0], mask=[False, False, True]),
            "flag": masked([True, False, True], mask=[False, False, True]),
            "text": ["Vega", "Bételgeuse", "α Cen"],
            "ascii": masked(["a", "bb", "ccc"], mask=[False, True, False]),
            "vec": np.arange(9.0).reshape(3, 3),
        }
    )
    table["f64"].unit = "deg"
    table["f64"].description = "a float column"
    table["f64"].meta["ucd"] = "pos.eq.ra"
    got: list[Any] = []
    with Client("receiver", lockfile=samp_hub.lock_url) as receiver:
        listener = threading.Thread(target=lambda: got.append(minisamp.receive_table(receiver, 20)))
        listener.start()
        with minisamp.connection() as conn:
            while not conn.get_subscribed_clients("table.load.votable"):
                listener.join(0.01)  # until receive_table has subscribed
            minisamp.send_table_to(conn, table, client_name="receiver", name="kinds")
        listener.join(20)
    received = got[0]
    assert received.colnames == table.colnames
    for name in ("i8", "u8", "i16", "i64", "text"):
        assert list(received[name]) == list(table[name]), name
    assert list(received["i32"].mask) == [False, True, False] and received["i32"][2] == 3
    # VOTable's null for floats is NaN, so astropy reads a NaN back as masked
    assert received["f32"][0] == 1.5 and np.ma.is_masked(received["f32"][1])
    assert received["f64"].mask[2] and received["f64"][1] == 2e300
    assert str(received["f64"].unit) == "deg" and received["f64"].description == "a float column"
    assert received["f64"].meta.get("ucd") == "pos.eq.ra"
    assert list(received["flag"][:2]) == [True, False] and received["flag"].mask[2]
    assert received["ascii"][0] == "a" and received["ascii"][2] == "ccc"
    assert received["vec"].shape == (3, 3) and (received["vec"] == table["vec"]).all()
