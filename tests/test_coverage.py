"""``send_moc_to``: coverage maps from a path, a URL or a mocpy MOC, on our hub."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest

import minisamp
from minisamp.errors import SampDataError, SAMPProxyError
from minisamp.hub import Hub
from minisamp.testing import Recorder

MTYPE = "coverage.load.moc.fits"


def test_a_moc_file_is_sent_by_its_file_url(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path
) -> None:
    moc = tmp_path / "footprint.fits"
    moc.write_bytes(b"SIMPLE  =                    T")
    with minisamp.connection() as conn:
        delivery = minisamp.send_moc_to(conn, moc, client_name="samp_receiver", name="survey")
    assert list(delivery.accepted) == [samp_receiver.id]
    params = samp_receiver.wait_for(MTYPE).params
    assert params == {"url": moc.resolve().as_uri(), "name": "survey"}


def test_a_url_is_sent_as_it_is_to_everyone_subscribed(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    with minisamp.connection() as conn:
        minisamp.send_moc_to(conn, "https://example.org/moc.fits")
    assert samp_receiver.wait_for(MTYPE).params == {"url": "https://example.org/moc.fits"}


@pytest.mark.parametrize("moc", [42, "/no/such/moc.fits"])
def test_what_is_not_a_moc_is_refused_before_sending(
    samp_hub: Hub, samp_receiver: Recorder, moc: object
) -> None:
    with minisamp.connection() as conn, pytest.raises(SampDataError, match=r"mocpy\.MOC"):
        minisamp.send_moc_to(conn, moc)
    assert samp_receiver.received(MTYPE) == []


def test_a_mocpy_moc_is_written_privately_until_the_connection_closes(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    mocpy = pytest.importorskip("mocpy", reason="pip install mocpy (the minisamp[moc] extra)")
    moc = mocpy.MOC.from_str("6/30000-30003")
    with minisamp.connection() as conn:
        minisamp.send_moc_to(conn, moc, client_name="samp_receiver", name="around Vega")
        url = str(samp_receiver.wait_for(MTYPE).params["url"])
        path = Path(url2pathname(urlsplit(url).path))
        assert path.stat().st_mode & 0o077 == 0
        assert mocpy.MOC.load(str(path), format="fits") == moc
    assert not path.exists()


def test_an_aladin_without_the_moc_mtype_gets_a_load_script(samp_hub: Hub, tmp_path: Path) -> None:
    """Debian's Aladin 12.001 subscribes to script.aladin.send, not to the MOC MType."""
    moc = tmp_path / "footprint.fits"
    moc.write_bytes(b"SIMPLE  =                    T")
    scripts: list[str] = []
    with minisamp.Client("Aladin", lockfile=samp_hub.lock_url) as aladin:
        aladin.on("script.aladin.send", lambda msg: scripts.append(str(msg.params["script"])))
        with minisamp.connection() as conn:
            named = minisamp.send_moc_to(conn, moc, client_name="aladin")
            broadcast = minisamp.send_moc_to(conn, moc)
    assert list(named.accepted) == list(broadcast.accepted) == [aladin.get_public_id()]
    assert scripts == [f"load {moc.resolve()}"] * 2


def test_a_client_taking_neither_is_told_what_it_takes(samp_hub: Hub, tmp_path: Path) -> None:
    with minisamp.Client("viewer", lockfile=samp_hub.lock_url) as viewer:
        viewer.on("image.load.fits", lambda msg: None)
        refused = pytest.raises(SAMPProxyError, match=r"subscribed to: image\.load\.fits")
        with minisamp.connection() as conn, refused:
            minisamp.send_moc_to(conn, "https://example.org/moc.fits", client_name="viewer")
