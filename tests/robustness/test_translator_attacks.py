"""Attacks on the Web Profile's URL translator, made as a hostile page would make them.

Each test is an approved page (consent given) trying to read a local file through
``samp.url-translator``: the hub's lockfile (hence its secret, hence the Standard
Profile), another page's file, or a FIFO that would hold a hub thread for ever.  What
the attacker gains is measured as the HTTP status and the bytes it reads.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from samp_raw import RawClient
from test_web_profile import Page, hub, offer_url, std, votable_file

from minisamp.hub import Hub

pytestmark = pytest.mark.timeout(120)
__all__ = ["hub", "std"]  # the fixtures, shared with test_web_profile


def test_a_page_cannot_flood_its_own_lockfile_url_into_the_translator(hub: Hub) -> None:
    lock_url = hub.lockfile.as_uri()
    page = Page(hub, "Hostile")
    # 1. mention the lockfile URL itself; 2. flood the record of what it mentioned;
    # 3. have the hub hand the URL back (its own subscriptions, the metadata event).
    page.hub("declareSubscriptions", {"samp.app.ping": {"x": lock_url}})
    junk = {f"u{i}": f"http://junk.example.org/{i}" for i in range(10_001)}
    page.hub("declareMetadata", {"samp.name": "Hostile", **junk})
    assert page.hub("getSubscriptions", page.id)["samp.app.ping"]["x"] == lock_url
    reply = page.translate(lock_url)
    assert reply.status == 403
    assert hub.secret.encode() not in reply.body


def test_the_lockfile_is_never_served_even_when_a_trusted_client_sends_it(
    hub: Hub, std: RawClient
) -> None:
    page = Page(hub)
    for url in (hub.lockfile.as_uri(), f"file://localhost{hub.lockfile}"):
        offer_url(std, page, url)
        reply = page.translate(url)
        assert (reply.status, hub.secret.encode() in reply.body) == (403, False)
    link = hub.lockfile.with_name("innocent.vot")
    link.symlink_to(hub.lockfile)  # a link elsewhere in the directory: still the lockfile
    offer_url(std, page, link.as_uri())
    reply = page.translate(link.as_uri())
    assert (reply.status, hub.secret.encode() in reply.body) == (403, False)


def test_a_page_cannot_read_a_file_another_page_sent_it(hub: Hub, tmp_path: Path) -> None:
    url = votable_file(tmp_path).as_uri()
    sender, receiver = Page(hub, "Sender"), Page(hub, "Receiver")
    receiver.hub("declareSubscriptions", {"table.load.votable": {}})
    message = {"samp.mtype": "table.load.votable", "samp.params": {"url": url}}
    sender.hub("notify", receiver.id, message)
    assert receiver.next_of("receiveNotification")[1]["samp.params"]["url"] == url
    reply = receiver.translate(url)
    assert (reply.status, reply.body.startswith(b"<VOTABLE")) == (403, False)


def test_a_page_cannot_launder_a_url_through_a_trusted_client(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    # Page A sends the URL to a standard client that forwards what it gets (an echo);
    # the forwarded copy reaches page B from a trusted client, but a page said it first.
    url = votable_file(tmp_path).as_uri()
    a, b = Page(hub, "A"), Page(hub, "B")
    b.hub("declareSubscriptions", {"table.load.votable": {}})
    message = {"samp.mtype": "table.load.votable", "samp.params": {"url": url}}
    a.hub("notify", std.id, message)
    std.next_of("receiveNotification")
    std.hub("notify", b.id, message)
    b.next_of("receiveNotification")
    assert b.translate(url).status == 403


def test_a_fifo_url_is_refused_at_once_without_blocking_the_hub(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.vot"
    os.mkfifo(fifo)
    page = Page(hub)
    offer_url(std, page, fifo.as_uri())
    started = time.monotonic()
    reply = page.translate(fifo.as_uri())  # the old hub opened it and waited for a writer
    assert reply.status == 403
    assert time.monotonic() - started < 10
    good = votable_file(tmp_path).as_uri()
    offer_url(std, page, good)
    assert page.translate(good).status == 200
