"""The client directory fed by hub events (no network)."""

from __future__ import annotations

import pytest

from minisamp.client.directory import ClientDirectory, ClientInfo, find_client_id_in
from minisamp.errors import ClientNotFoundError


def _directory() -> ClientDirectory:
    directory = ClientDirectory("me")
    directory.apply_event("samp.hub.event.register", {"id": "c1"})
    directory.apply_event(
        "samp.hub.event.metadata", {"id": "c1", "metadata": {"samp.name": "TOPCAT"}}
    )
    directory.apply_event(
        "samp.hub.event.subscriptions", {"id": "c1", "subscriptions": {"table.*": {}}}
    )
    return directory


def test_events_build_the_directory() -> None:
    info = _directory().snapshot()["c1"]
    assert info == ClientInfo("c1", {"samp.name": "TOPCAT"}, {"table.*": {}})
    assert info.name == "TOPCAT"


def test_unregister_removes_the_client() -> None:
    directory = _directory()
    directory.apply_event("samp.hub.event.unregister", {"id": "c1"})
    assert "c1" not in directory.snapshot()


def test_events_about_unknown_ids_are_tolerated() -> None:
    directory = ClientDirectory("me")
    directory.apply_event("samp.hub.event.unregister", {"id": "ghost"})
    directory.apply_event("samp.hub.event.metadata", {"id": "late", "metadata": {"samp.name": "x"}})
    directory.apply_event("samp.hub.event.metadata", {"no-id": "1"})
    assert list(directory.snapshot()) == ["late"]


def test_events_about_ourselves_are_ignored() -> None:
    directory = ClientDirectory("me")
    directory.apply_event("samp.hub.event.register", {"id": "me"})
    assert dict(directory.snapshot()) == {}


def test_seeding_never_overwrites_newer_event_data() -> None:
    directory = ClientDirectory("me")
    directory.begin_seed()
    directory.apply_event("samp.hub.event.metadata", {"id": "c1", "metadata": {"samp.name": "new"}})
    directory.apply_event("samp.hub.event.unregister", {"id": "c2"})
    directory.seed("c1", {"samp.name": "old"}, {"a.b": {}})
    directory.seed("c2", {"samp.name": "gone"}, {})
    directory.end_seed()
    snapshot = directory.snapshot()
    assert snapshot["c1"] == ClientInfo("c1", {"samp.name": "new"}, {"a.b": {}})
    assert "c2" not in snapshot


def test_snapshot_is_read_only() -> None:
    with pytest.raises(TypeError):
        _directory().snapshot()["x"] = ClientInfo("x")  # type: ignore[index]


def test_find_prefers_exact_name_then_ignores_case() -> None:
    clients = {
        "c1": ClientInfo("c1", {"samp.name": "topcat"}),
        "c2": ClientInfo("c2", {"samp.name": "TOPCAT"}),
    }
    assert find_client_id_in(clients, "TOPCAT") == "c2"
    assert find_client_id_in(clients, "topcat") == "c1"
    assert find_client_id_in({"c2": clients["c2"]}, "Topcat") == "c2"


def test_unknown_name_raises_key_error_listing_who_is_there() -> None:
    with pytest.raises(KeyError) as info:
        _directory().find_id("Aladin")
    assert isinstance(info.value, ClientNotFoundError)
    assert "'Aladin'" in str(info.value) and "'TOPCAT' (c1)" in str(info.value)
