"""Linked views on our hub, with a peer that speaks the two MTypes exactly as TOPCAT does.

What TOPCAT sends (``TopcatSampControl.createSubsetMessage``/``createRowMessage`` in
starjava): ``table-id`` the id it knows the table by, if any, ``url`` the table's
location written by Java (``file:/tmp/x.xml``, one slash), ``row-list`` the 0-based
indices of the rows *as loaded* — ascending, whatever TOPCAT's sort order or subsets —
as SAMP int strings, ``row`` one such string (TOPCAT 4.8.7 itself is driven to send them
in tests/interop/test_linked_desktop.py).  For a table it has no table-id for it sends
``url`` alone.  What it answers: ``samp.ok`` with an empty result, or ``samp.error`` for
a table it does not know.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import minisamp
from minisamp import Client, ReceivedMessage
from minisamp.errors import SAMPClientError, SampDataError, SampResponseError, SampTimeoutError
from minisamp.hub import Hub

astropy_table = pytest.importorskip("astropy.table", reason="tables need astropy")
SELECT, HIGHLIGHT = "table.select.rowList", "table.highlight.row"


def java_file_url(url: str) -> str:
    """``file:///tmp/x`` as Java's ``File.toURL()`` writes it, as TOPCAT sends it."""
    return "file:" + url[len("file://") :]


class TopcatLike:
    """A peer that loads tables and selects and highlights rows as TOPCAT does."""

    def __init__(self) -> None:
        self.client = Client("topcat", "TOPCAT stand-in")
        self.loaded: dict[str, tuple[str, Any]] = {}  # table-id → (url, table)
        self.selections: list[dict[str, Any]] = []
        self.highlights: list[dict[str, Any]] = []
        self.got = threading.Event()
        self.client.on("table.load.votable", self._load)
        self.client.on(SELECT, self._select)
        self.client.on(HIGHLIGHT, self._highlight)
        self.client.connect()

    def _load(self, msg: ReceivedMessage) -> dict[str, str]:
        from minisamp.tables.files import read_table

        url = str(msg.params["url"])
        self.loaded[str(msg.params.get("table-id", url))] = (url, read_table(url))
        return {}

    def _known(self, params: dict[str, Any]) -> None:
        if params.get("table-id") not in self.loaded:
            raise RuntimeError(f"No table table-id={params.get('table-id')} is loaded")

    def _select(self, msg: ReceivedMessage) -> dict[str, str]:
        self._known(msg.params)
        self.selections.append(dict(msg.params))
        self.got.set()
        return {}

    def _highlight(self, msg: ReceivedMessage) -> dict[str, str]:
        self._known(msg.params)
        self.highlights.append(dict(msg.params))
        self.got.set()
        return {}

    def send(self, to: str, mtype: str, table_id: str, **params: Any) -> dict[str, Any]:
        url = self.loaded[table_id][0] if table_id in self.loaded else None
        body = {"table-id": table_id, **params}
        if url is not None:
            body["url"] = java_file_url(url)
        message = {"samp.mtype": mtype, "samp.params": body}
        return dict(self.client.call_and_wait(to, message, 30))

    def select(self, to: str, table_id: str, rows: list[int]) -> dict[str, Any]:
        return self.send(to, SELECT, table_id, **{"row-list": [str(r) for r in sorted(rows)]})

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def topcat(samp_hub: Hub) -> Any:
    peer = TopcatLike()
    yield peer
    peer.close()


def stars() -> Any:
    return astropy_table.Table(
        {
            "name": ["Sirius", "Canopus", "Arcturus", "Vega", "Rigel"],
            "vmag": [-1.46, -0.74, -0.05, 0.03, 0.13],
        }
    )


def subscriptions(conn: Any) -> set[str]:
    return set(conn.get_subscriptions(conn.get_public_id()))


def in_background(function: Any, *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = function(*args)
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, name="test-linked-wait", daemon=True)
    thread.start()
    return thread, out


def wait_subscribed(peer: TopcatLike, client_id: str, mtype: str) -> None:
    """The hub knows *client_id* listens to *mtype* (the waiting call declared it)."""
    for _ in range(200):
        if client_id in peer.client.get_subscribed_clients(mtype):
            return
        threading.Event().wait(0.05)  # another process's declaration: no event to await
    raise AssertionError(f"{client_id} never subscribed to {mtype}")


# -- subscribing only when used -----------------------------------------------------------------


def test_a_plain_sender_does_not_subscribe_to_selections(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, stars(), client_name="topcat")
        assert not subscriptions(conn) & {SELECT, HIGHLIGHT}


def test_selected_rows_subscribes_and_returns_the_rows_topcat_selected(topcat: TopcatLike) -> None:
    table = stars()
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, table, client_name="topcat", table_id="bright")
        thread, out = in_background(minisamp.selected_rows, conn, table, 30)
        wait_subscribed(topcat, conn.get_public_id(), SELECT)
        response = topcat.select(conn.get_public_id(), "bright", [4, 0, 3])
        thread.join(30)
    assert response["samp.status"] == "samp.ok", response
    rows = out["value"]
    assert list(rows["name"]) == ["Sirius", "Vega", "Rigel"]
    assert rows.meta["row-indices"] == [0, 3, 4]
    assert rows.meta["sender-id"] == topcat.client.get_public_id()


def test_selected_rows_keeps_the_order_the_sender_gave(topcat: TopcatLike) -> None:
    table = stars()
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, table, client_name="topcat", table_id="t")
        thread, out = in_background(minisamp.selected_rows, conn, table, 30)
        wait_subscribed(topcat, conn.get_public_id(), SELECT)
        topcat.send(conn.get_public_id(), SELECT, "t", **{"row-list": ["3", "1"]})
        thread.join(30)
    assert list(out["value"]["name"]) == ["Vega", "Canopus"]


def test_a_selection_made_before_the_call_is_returned_once(topcat: TopcatLike) -> None:
    """The notebook way: listen, select in TOPCAT, then run the cell."""
    with minisamp.connection() as conn:
        table = _sent(conn)
        minisamp.highlight_row(conn, table, 0, client_name="topcat")  # now listening
        topcat.select(conn.get_public_id(), "known", [1])
        topcat.select(conn.get_public_id(), "known", [2, 3])
        rows = minisamp.selected_rows(conn, table, timeout=10)
        assert list(rows["name"]) == ["Arcturus", "Vega"]  # the latest
        with pytest.raises(SampTimeoutError):
            minisamp.selected_rows(conn, table, timeout=0.2)  # taken: not returned again


def test_selection_of_an_unknown_table_id_is_answered_samp_error(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        minisamp.on_selection(conn, _sent(conn), lambda rows: None)
        response = topcat.select(conn.get_public_id(), "never-sent", [1])
    assert response["samp.status"] == "samp.error"
    assert "unknown table-id 'never-sent'" in response["samp.error"]["samp.errortxt"]


def _sent(conn: Any) -> Any:
    table = stars()
    minisamp.send_table_to(conn, table, client_name="topcat", table_id="known")
    return table


def test_selection_found_by_url_when_the_table_id_is_not_ours(topcat: TopcatLike) -> None:
    """TOPCAT looks a table up by table-id, then by URL; so do we (any file: URL form)."""
    with minisamp.connection() as conn:
        table = _sent(conn)
        got: list[Any] = []
        done = threading.Event()
        minisamp.on_selection(conn, table, lambda rows: (got.append(rows), done.set()))
        url = java_file_url(topcat.loaded["known"][0])
        message = {"samp.mtype": SELECT, "samp.params": {"url": url, "row-list": ["2"]}}
        response = topcat.client.call_and_wait(conn.get_public_id(), message, 30)
        assert response["samp.status"] == "samp.ok", response
        assert done.wait(10)
    assert list(got[0]["name"]) == ["Arcturus"]


def test_selection_naming_the_table_by_its_url_as_table_id_is_found(topcat: TopcatLike) -> None:
    """What TOPCAT sends once it has itself sent a table: its URL as the table-id."""
    with minisamp.connection() as conn:
        table = _sent(conn)
        minisamp.highlight_row(conn, table, 0, client_name="topcat")  # now listening
        url = java_file_url(topcat.loaded["known"][0])
        message = {"samp.mtype": SELECT, "samp.params": {"table-id": url, "row-list": ["4"]}}
        response = topcat.client.call_and_wait(conn.get_public_id(), message, 30)
        assert response["samp.status"] == "samp.ok", response
        assert list(minisamp.selected_rows(conn, table, timeout=10)["name"]) == ["Rigel"]


def test_out_of_range_row_is_answered_samp_error(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        table = _sent(conn)
        minisamp.on_highlight(conn, table, lambda row: None)
        response = topcat.send(conn.get_public_id(), HIGHLIGHT, "known", row="5")
    assert response["samp.status"] == "samp.error"
    assert "out of range" in response["samp.error"]["samp.errortxt"]


def test_on_highlight_gets_the_row_index(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        table = _sent(conn)
        rows: list[int] = []
        done = threading.Event()
        stop = minisamp.on_highlight(conn, table, lambda row: (rows.append(row), done.set()))
        response = topcat.send(conn.get_public_id(), HIGHLIGHT, "known", row="3")
        assert response["samp.status"] == "samp.ok"
        assert done.wait(10)
        stop()
        topcat.send(conn.get_public_id(), HIGHLIGHT, "known", row="1")
    assert rows == [3]


def test_selection_callback_failure_reaches_the_sender(topcat: TopcatLike) -> None:
    def broken(rows: Any) -> None:
        raise ValueError("plot window closed")

    with minisamp.connection() as conn:
        minisamp.on_selection(conn, _sent(conn), broken)
        response = topcat.select(conn.get_public_id(), "known", [0])
    assert response["samp.status"] == "samp.error"
    assert "plot window closed" in response["samp.error"]["samp.errortxt"]


def test_selected_rows_times_out(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn, pytest.raises(SampTimeoutError, match="no selection"):
        minisamp.selected_rows(conn, _sent(conn), timeout=0.2)


def test_a_table_never_sent_cannot_be_linked(samp_hub: Hub) -> None:
    with minisamp.connection() as conn, pytest.raises(SAMPClientError, match="send_table_to"):
        minisamp.selected_rows(conn, stars(), timeout=1)


def test_the_connection_keeps_a_reference_not_a_copy(topcat: TopcatLike) -> None:
    import gc
    import weakref

    with minisamp.connection() as conn:
        table = _sent(conn)
        minisamp.highlight_row(conn, table, 0, client_name="topcat")  # now listening
        ref = weakref.ref(table)
        del table
        gc.collect()
        assert ref() is None  # the connection did not keep it alive
        response = topcat.select(conn.get_public_id(), "known", [0])
    assert response["samp.status"] == "samp.error"
    assert "no longer held" in response["samp.error"]["samp.errortxt"]


def test_a_callback_keeps_its_table_until_stopped(topcat: TopcatLike) -> None:
    import gc
    import weakref

    with minisamp.connection() as conn:
        table = _sent(conn)
        stop = minisamp.on_selection(conn, table, lambda rows: None)
        ref = weakref.ref(table)
        del table
        gc.collect()
        assert topcat.select(conn.get_public_id(), "known", [0])["samp.status"] == "samp.ok"
        stop()
        gc.collect()
        assert ref() is None


# -- sending ------------------------------------------------------------------------------------


def test_select_rows_sends_sorted_index_strings_of_the_sent_table(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        table = _sent(conn)
        delivery = minisamp.select_rows(conn, table, [3, 1, 3], client_name="topcat")
    assert list(delivery.accepted) == [topcat.client.get_public_id()]
    sent = topcat.selections[0]
    assert sent["table-id"] == "known" and sent["row-list"] == ["1", "3"]
    assert sent["url"] == topcat.loaded["known"][0]


def test_select_rows_accepts_a_boolean_mask(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        table = _sent(conn)
        minisamp.select_rows(conn, table, table["vmag"] < 0, client_name="topcat")
        with pytest.raises(SampDataError, match="mask has 2 entries"):
            minisamp.select_rows(conn, table, [True, False], client_name="topcat")
    assert topcat.selections[0]["row-list"] == ["0", "1", "2"]


def test_select_rows_refuses_rows_the_table_does_not_have(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        table = _sent(conn)
        for bad in ([5], [-1], ["2"]):
            with pytest.raises(SampDataError):
                minisamp.select_rows(conn, table, bad, client_name="topcat")
    assert topcat.selections == []


def test_highlight_row_sends_one_index_string(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn:
        minisamp.highlight_row(conn, _sent(conn), 4, client_name="topcat")
        # using the linked functions subscribes us too, as TOPCAT is
        assert {SELECT, HIGHLIGHT} <= subscriptions(conn)
    assert topcat.highlights[0]["row"] == "4"


def test_a_refusal_by_the_recipient_raises_naming_it(topcat: TopcatLike) -> None:
    with minisamp.connection() as conn, pytest.raises(SampResponseError, match="topcat"):
        minisamp.highlight_row(conn, "a-table-topcat-never-saw", 0, client_name="topcat")


def test_a_received_table_can_be_selected_back_under_the_senders_id(
    topcat: TopcatLike, tmp_path: Path
) -> None:
    votable = tmp_path / "cat.xml"
    stars().write(votable, format="votable")
    with minisamp.connection(client_name="notebook") as conn:
        topcat.loaded["topcat1-1"] = (votable.as_uri(), None)
        sender_ready = threading.Event()

        def send_when_listening() -> None:
            wait_subscribed(topcat, conn.get_public_id(), "table.load.votable")
            message = {
                "samp.mtype": "table.load.votable",
                "samp.params": {"url": votable.as_uri(), "table-id": "topcat1-1", "name": "cat"},
            }
            topcat.client.call_and_wait(conn.get_public_id(), message, 30)
            sender_ready.set()

        threading.Thread(target=send_when_listening, name="test-sender", daemon=True).start()
        received = minisamp.receive_table(conn, timeout=30)
        assert sender_ready.wait(30)
        minisamp.select_rows(conn, received, [0, 2], client_name="topcat")
        thread, out = in_background(minisamp.selected_rows, conn, received, 30)
        wait_subscribed(topcat, conn.get_public_id(), SELECT)
        topcat.select(conn.get_public_id(), "topcat1-1", [1])
        thread.join(30)
    assert topcat.selections[0]["table-id"] == "topcat1-1"
    assert topcat.selections[0]["row-list"] == ["0", "2"]
    assert list(out["value"]["name"]) == ["Canopus"]


def test_a_table_sent_as_a_file_is_linked_by_its_path(topcat: TopcatLike, tmp_path: Path) -> None:
    votable = tmp_path / "stars.xml"
    stars().write(votable, format="votable")
    with minisamp.connection() as conn:
        minisamp.send_table_to(conn, str(votable), client_name="topcat", table_id="file-t")
        minisamp.select_rows(conn, votable, [1, 2], client_name="topcat")  # a Path this time
        rows = [0]
        thread, out = in_background(minisamp.selected_rows, conn, str(votable), 30)
        wait_subscribed(topcat, conn.get_public_id(), SELECT)
        topcat.select(conn.get_public_id(), "file-t", rows)
        thread.join(30)
    assert topcat.selections[0]["table-id"] == "file-t"
    assert out["value"] == [0]  # no table object to index: the row indices
