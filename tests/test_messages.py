"""Messages, responses and MType matching (SAMP 1.3 §3.7–§3.9): minisamp.messages."""

from __future__ import annotations

import dataclasses

import pytest

from minisamp.errors import PeerProtocolError, SampDataError, SampResponseError
from minisamp.messages import (
    SAMP_STATUS_ERROR,
    SAMP_STATUS_OK,
    SAMP_STATUS_WARNING,
    Message,
    Response,
    best_match,
    is_mtype,
    is_mtype_pattern,
    match_level,
    mtype_matches,
)

# -- Message ----------------------------------------------------------------------------


def test_create_encodes_params_and_to_map_gives_the_wire_map() -> None:
    message = Message.create("coord.pointAt.sky", {"ra": 10.5, "dec": -3, "flag": True})
    assert message.to_map() == {
        "samp.mtype": "coord.pointAt.sky",
        "samp.params": {"ra": "10.5", "dec": "-3", "flag": "1"},
    }


def test_create_without_params_sends_an_empty_params_map() -> None:
    assert Message.create("samp.app.ping").to_map() == {
        "samp.mtype": "samp.app.ping",
        "samp.params": {},
    }


def test_create_keeps_extra_top_level_keys() -> None:
    message = Message.create("x.y", {"a": "1"}, **{"x-samp.note": "hi"})
    assert message.to_map()["x-samp.note"] == "hi"


@pytest.mark.parametrize("mtype", ["", "a b", "a..b", ".a", "a.", "a.*", "*", 3, None])
def test_create_refuses_invalid_mtypes(mtype: object) -> None:
    with pytest.raises(SampDataError, match="MType"):
        Message.create(mtype, {})  # type: ignore[arg-type]


def test_create_refuses_illegal_param_values_naming_the_param() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params\.url"):
        Message.create("table.load.votable", {"url": None})
    with pytest.raises(SampDataError, match=r"samp\.params\.name"):
        Message.create("table.load.votable", {"name": "\u00e9"})


def test_message_is_frozen() -> None:
    message = Message.create("a.b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.mtype = "c.d"  # type: ignore[misc]


def test_from_user_round_trips_through_to_map() -> None:
    data = {"samp.mtype": "table.load.votable", "samp.params": {"url": "file:///t.xml"}, "k.x": "1"}
    assert Message.from_user(data).to_map() == data


def test_from_user_encodes_python_values() -> None:
    message = Message.from_user({"samp.mtype": "a.b", "samp.params": {"n": 2, "f": 0.25}})
    assert message.params == {"n": "2", "f": "0.25"}


def test_from_user_returns_a_message_unchanged() -> None:
    message = Message.create("a.b")
    assert Message.from_user(message) is message


def test_from_user_refuses_a_map_without_mtype() -> None:
    with pytest.raises(SampDataError, match=r"samp\.mtype"):
        Message.from_user({"samp.params": {}})


def test_from_user_refuses_non_map_params() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params"):
        Message.from_user({"samp.mtype": "a.b", "samp.params": ["x"]})


def test_from_user_refuses_non_maps() -> None:
    with pytest.raises(SampDataError):
        Message.from_user(["samp.mtype", "a.b"])


def test_from_map_round_trips_a_wire_message() -> None:
    wire = {"samp.mtype": "a.b", "samp.params": {"x": ["1", {"y": "2"}]}, "z": "extra"}
    message = Message.from_map(wire)
    assert message.mtype == "a.b"
    assert message.params == {"x": ["1", {"y": "2"}]}
    assert message.extra == {"z": "extra"}
    assert message.to_map() == wire


def test_from_map_accepts_a_message_without_params() -> None:
    assert Message.from_map({"samp.mtype": "a.b"}).params == {}


def test_from_map_does_not_mutate_its_argument() -> None:
    wire = {"samp.mtype": "a.b", "samp.params": {}}
    Message.from_map(wire)
    assert wire == {"samp.mtype": "a.b", "samp.params": {}}


@pytest.mark.parametrize(
    "wire",
    [
        "not a map",
        ["samp.mtype"],
        {},
        {"samp.mtype": ""},
        {"samp.mtype": ["a.b"]},
        {"samp.mtype": "a.b", "samp.params": "x"},
    ],
)
def test_from_map_refuses_malformed_messages_as_peer_errors(wire: object) -> None:
    with pytest.raises(PeerProtocolError):
        Message.from_map(wire)


# -- Response ---------------------------------------------------------------------------


def test_ok_response_has_status_and_encoded_result() -> None:
    assert Response.ok({"n": 3}).to_map() == {"samp.status": "samp.ok", "samp.result": {"n": "3"}}


def test_ok_response_without_result_still_has_a_result_map() -> None:
    assert Response.ok().to_map() == {"samp.status": SAMP_STATUS_OK, "samp.result": {}}


def test_warning_response_has_result_and_error() -> None:
    wire = Response.warning({"a": "1"}, "partly done", usertxt="half the rows").to_map()
    assert wire == {
        "samp.status": SAMP_STATUS_WARNING,
        "samp.result": {"a": "1"},
        "samp.error": {"samp.errortxt": "partly done", "samp.usertxt": "half the rows"},
    }


def test_warning_response_with_no_result_still_has_a_result_map() -> None:
    assert Response.warning(None, "odd").to_map()["samp.result"] == {}


def test_error_response_has_error_map_and_no_result() -> None:
    wire = Response.error_response(
        "no such table", usertxt="u", debugtxt="d", code=404, **{"do.what": "x"}
    ).to_map()
    assert wire == {
        "samp.status": SAMP_STATUS_ERROR,
        "samp.error": {
            "samp.errortxt": "no such table",
            "samp.usertxt": "u",
            "samp.debugtxt": "d",
            "samp.code": "404",
            "do.what": "x",
        },
    }


def test_error_response_skips_keys_given_as_none() -> None:
    wire = Response.error_response("bad", usertxt=None).to_map()
    assert wire["samp.error"] == {"samp.errortxt": "bad"}


def test_error_response_refuses_illegal_error_text() -> None:
    with pytest.raises(SampDataError, match=r"samp\.error\.samp\.errortxt"):
        Response.error_response("caf\u00e9")


def test_response_from_map_round_trips_with_extra_keys() -> None:
    wire = {
        "samp.status": "samp.warning",
        "samp.result": {"x": "1"},
        "samp.error": {"samp.errortxt": "t", "do.what": "keep me"},
        "other": "kept",
    }
    response = Response.from_map(wire)
    assert response.status == SAMP_STATUS_WARNING
    assert response.errortxt == "t"
    assert response.to_map() == wire


def test_response_from_map_keeps_unknown_status_and_treats_it_as_error() -> None:
    response = Response.from_map({"samp.status": "x-samp.maybe", "samp.error": {}})
    assert response.status == "x-samp.maybe"
    assert not response.is_ok
    with pytest.raises(SampResponseError):
        response.raise_for_error()


@pytest.mark.parametrize(
    "wire",
    [
        "x",
        {},
        {"samp.status": 1},
        {"samp.status": "samp.ok", "samp.result": "x"},
        {"samp.status": "samp.error", "samp.error": ["x"]},
    ],
)
def test_response_from_map_refuses_malformed_responses_as_peer_errors(wire: object) -> None:
    with pytest.raises(PeerProtocolError):
        Response.from_map(wire)


def test_response_from_user_encodes_values() -> None:
    response = Response.from_user({"samp.status": "samp.ok", "samp.result": {"n": 1}})
    assert response.to_map() == {"samp.status": "samp.ok", "samp.result": {"n": "1"}}


def test_response_from_user_refuses_a_map_without_status() -> None:
    with pytest.raises(SampDataError, match=r"samp\.status"):
        Response.from_user({"samp.result": {}})


def test_response_from_user_refuses_illegal_values() -> None:
    with pytest.raises(SampDataError):
        Response.from_user({"samp.status": "samp.ok", "samp.result": {"x": None}})


def test_raise_for_error_returns_ok_and_warning_responses() -> None:
    ok = Response.ok()
    warning = Response.warning({}, "hmm")
    assert ok.raise_for_error() is ok
    assert warning.raise_for_error() is warning


def test_raise_for_error_raises_with_error_details_and_responder() -> None:
    response = Response.error_response("table too big", usertxt="try fewer rows", code="E42")
    with pytest.raises(SampResponseError, match="table too big") as info:
        response.raise_for_error("c3")
    error = info.value
    assert error.responder_id == "c3"
    assert error.errortxt == "table too big"
    assert error.usertxt == "try fewer rows"
    assert error.code == "E42"
    assert error.response == response.to_map()
    assert "c3" in str(error)


# -- MType syntax and matching ----------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["samp.app.ping", "table.select.rowList", "x-samp.a_b", "a", "a1.b-2"]
)
def test_is_mtype_accepts_mtypes(text: str) -> None:
    assert is_mtype(text)
    assert is_mtype_pattern(text)


@pytest.mark.parametrize("text", ["", "*", "a.*", "a.b.", ".a", "a..b", "a b", "a/b", "a.b*"])
def test_is_mtype_refuses_non_mtypes(text: str) -> None:
    assert not is_mtype(text)


@pytest.mark.parametrize("text", ["*", "a.*", "a.b.*", "a.b"])
def test_is_mtype_pattern_accepts_wildcards(text: str) -> None:
    assert is_mtype_pattern(text)


@pytest.mark.parametrize("text", ["", "a*", "*.a", "a.*.b", "a.**", ".*", "a..*"])
def test_is_mtype_pattern_refuses_bad_wildcards(text: str) -> None:
    assert not is_mtype_pattern(text)


@pytest.mark.parametrize("mtype", ["a", "a.b", "samp.app.ping", "x.y.z.w"])
def test_star_matches_every_mtype(mtype: str) -> None:
    assert mtype_matches("*", mtype)


@pytest.mark.parametrize("mtype", ["a.b.c", "a.b.c.d"])
def test_prefix_wildcard_matches_longer_mtypes(mtype: str) -> None:
    assert mtype_matches("a.b.*", mtype)


@pytest.mark.parametrize("mtype", ["a.b", "a.bx.c", "a.bx", "a", "b.a.b.c"])
def test_prefix_wildcard_does_not_match_its_prefix_or_lookalikes(mtype: str) -> None:
    assert not mtype_matches("a.b.*", mtype)


def test_exact_pattern_matches_only_itself() -> None:
    assert mtype_matches("a.b", "a.b")
    assert not mtype_matches("a.b", "a.b.c")
    assert not mtype_matches("a.b", "a")


def test_more_specific_patterns_have_higher_match_levels() -> None:
    levels = [match_level(p, "a.b.c") for p in ("*", "a.*", "a.b.*", "a.b.c")]
    assert levels == sorted(levels)
    assert len(set(levels)) == 4
    assert match_level("x.*", "a.b.c") < 0


def test_best_match_picks_the_most_specific_pattern_in_any_order() -> None:
    patterns = ["*", "a.b.*", "a.*", "a.b.c", "z.*"]
    assert best_match(patterns, "a.b.c") == "a.b.c"
    assert best_match(reversed(patterns), "a.b.c") == "a.b.c"
    assert best_match(patterns, "a.b.d") == "a.b.*"
    assert best_match(patterns, "a.x") == "a.*"
    assert best_match(patterns, "q") == "*"


def test_best_match_is_none_when_nothing_matches() -> None:
    assert best_match(["a.*", "b.c"], "c.d") is None
    assert best_match([], "c.d") is None
