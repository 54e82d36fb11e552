"""What TOPCAT and DS9 make of what a user sends them, and of the names they are given.

Issue 12: an emoji in a table and a non-ASCII table name must reach TOPCAT, and
``client_name="ds9"`` must find DS9 (which registers as ``SAOImageDS9``).
"""

from __future__ import annotations

import codecs
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from conftest import RunningHub
from desktop import DesktopApp

import minisamp
from minisamp.client import Client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _loaded(client: Client, app: DesktopApp, table_id: str, timeout: float = 60.0) -> None:
    """Wait until TOPCAT knows the table (it acknowledges a load before it is usable)."""
    params = {"table-id": table_id, "row": "0"}
    message = {"samp.mtype": "table.highlight.row", "samp.params": params}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.call_and_wait(app.client_id, message, 30)["samp.status"] == "samp.ok":
            return
        time.sleep(0.2)  # polling TOPCAT's own loading: there is no event to wait on
    raise TimeoutError(f"TOPCAT did not load {table_id} in {timeout} s")


def _pull(client: Client, app: DesktopApp, fmt: str) -> str:
    """TOPCAT's current table, written by TOPCAT (``table.get.stil``) in *fmt*."""
    message = {"samp.mtype": "table.get.stil", "samp.params": {"format": fmt}}
    response = client.call_and_wait(app.client_id, message, 60)
    assert response["samp.status"] == "samp.ok", response
    url = response["samp.result"]["url"]
    with urllib.request.urlopen(url, timeout=30) as answer:
        return str(answer.read().decode("utf-8"))


def test_topcat_gets_emoji_exactly_and_the_non_ascii_name_faithfully(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    from astropy.table import Table

    hub = samp_hub_factory("minisamp")
    app = desktop("topcat")
    names = ["Bételgeuse", "a\U0001f600b", "✓ ok"]
    table: Any = Table({"name": names, "n": [1, 2, 3]})
    name = "Ångström ✓"
    with Client("a script", lockfile=hub.lock_url) as client:
        delivery = minisamp.send_table_to(client, table, "TOPCAT", name=name, table_id="uni")
        assert list(delivery.accepted) == [app.client_id]
        _loaded(client, app, "uni")
        rows = _pull(client, app, "csv").splitlines()
        header = _pull(client, app, "votable")
    assert rows == ["name,n", *(f"{s},{i}" for i, s in enumerate(names, 1))]
    # TOPCAT labels the table with the SAMP name: the ASCII rendering, which decodes exactly
    label = header.split('<TABLE name="', 1)[1].split('"', 1)[0]
    assert label == "\\u00c5ngstr\\u00f6m \\u2713"
    assert codecs.decode(label, "unicode_escape") == name


def test_client_name_ds9_finds_ds9(
    samp_hub_factory: Callable[[str], RunningHub], desktop: Callable[..., DesktopApp]
) -> None:
    hub = samp_hub_factory("minisamp")
    app = desktop("ds9")
    with Client("a script", lockfile=hub.lock_url) as client:
        assert minisamp.find_client_id(client, "ds9") == app.client_id
        assert minisamp.find_client_id(client, "DS9") == app.client_id
        reply = client.call_and_wait(
            minisamp.find_client_id(client, "ds9"),
            {"samp.mtype": "ds9.get", "samp.params": {"cmd": "version"}},
            60,
        )
    assert reply["samp.status"] == "samp.ok", reply
