"""SAMP value rules (SAMP 1.3 §3.3, §3.4): minisamp.datatypes."""

from __future__ import annotations

import xmlrpc.client
from collections import OrderedDict

import pytest

from minisamp.datatypes import (
    MAX_DEPTH,
    check_samp,
    decode_bool,
    decode_float,
    decode_int,
    encode_bool,
    encode_float,
    encode_int,
    from_wire,
    is_samp_string,
    to_samp,
)
from minisamp.errors import PeerProtocolError, SampDataError

LEGAL_CODES = [0x09, 0x0A, 0x0D, *range(0x20, 0x80)]
ILLEGAL_CODES = [c for c in range(0x100) if c not in LEGAL_CODES] + [0x20AC, 0x1F600]


def nested_lists(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


# -- strings ---------------------------------------------------------------------------


def test_every_legal_character_is_accepted_including_0x7f() -> None:
    text = "".join(chr(c) for c in LEGAL_CODES)
    assert is_samp_string(text)
    assert to_samp(text) == text
    assert check_samp(text) == text
    assert to_samp("\x7f") == "\x7f"


@pytest.mark.parametrize("code", ILLEGAL_CODES, ids=hex)
def test_illegal_characters_are_refused(code: int) -> None:
    assert not is_samp_string(f"a{chr(code)}b")
    with pytest.raises(SampDataError):
        to_samp(f"a{chr(code)}b")


def test_illegal_character_error_names_the_key_path_and_code() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params\.name") as info:
        to_samp({"name": "caf\xe9"}, "samp.params")
    assert "0xe9" in str(info.value)


def test_illegal_character_in_nested_list_names_its_index() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params\.rows\[1\]"):
        to_samp({"rows": ["ok", "bad\x00"]}, "samp.params")


def test_check_samp_refuses_illegal_characters_with_path() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params\.x"):
        check_samp({"x": "\x01"}, "samp.params")


def test_samp_error_for_bad_data_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        to_samp("\x00")


# -- scalar encodings (§3.4) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "1"), (False, "0"), (3, "3"), (-12, "-12"), (0, "0"), (1.5, "1.5"), (-2.25, "-2.25")],
)
def test_numbers_and_booleans_are_encoded_as_samp_strings(value: object, expected: str) -> None:
    assert to_samp(value) == expected


def test_encoders_give_the_same_strings_as_to_samp() -> None:
    assert encode_bool(True) == "1"
    assert encode_bool(False) == "0"
    assert encode_int(3) == "3"
    assert encode_float(1.5) == "1.5"


def test_encoded_float_is_valid_samp_float_and_round_trips() -> None:
    for value in (1e20, 1e-7, 0.1, -123456.789, 6.02214076e23):
        text = encode_float(value)
        assert decode_float(text) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(SampDataError):
        encode_float(value)
    with pytest.raises(SampDataError, match=r"samp\.params\.ra"):
        to_samp({"ra": value}, "samp.params")


def test_none_is_refused_with_its_path() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params\.x"):
        to_samp({"x": None}, "samp.params")


@pytest.mark.parametrize("value", [b"bytes", object(), {1, 2}, 1 + 2j])
def test_other_python_types_are_refused(value: object) -> None:
    with pytest.raises(SampDataError):
        to_samp(value)


# -- containers --------------------------------------------------------------------------


def test_nested_lists_and_maps_are_encoded_recursively() -> None:
    value = {"a": [1, {"b": True, "c": (2.5, "x")}], "d": OrderedDict(e=[])}
    assert to_samp(value) == {"a": ["1", {"b": "1", "c": ["2.5", "x"]}], "d": {"e": []}}


def test_check_samp_accepts_nested_samp_data_unchanged() -> None:
    value = {"a": ["1", {"b": "x", "c": []}], "d": {}}
    assert check_samp(value) is value


def test_check_samp_refuses_unencoded_numbers() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params\.n"):
        check_samp({"n": 3}, "samp.params")


@pytest.mark.parametrize("key", [1, 2.5, None, ("a",), True])
def test_non_string_map_keys_are_refused(key: object) -> None:
    with pytest.raises(SampDataError):
        to_samp({key: "v"})
    with pytest.raises(SampDataError):
        check_samp({key: "v"})


def test_map_key_with_illegal_character_is_refused() -> None:
    with pytest.raises(SampDataError, match=r"samp\.params"):
        to_samp({"k\x00": "v"}, "samp.params")


def test_nesting_up_to_the_depth_limit_is_accepted() -> None:
    value = nested_lists(MAX_DEPTH)
    assert to_samp(value) == value
    assert check_samp(value) is value


def test_nesting_beyond_the_depth_limit_is_refused() -> None:
    with pytest.raises(SampDataError, match="deeper"):
        to_samp(nested_lists(MAX_DEPTH + 1))


def test_check_samp_refuses_very_deep_nesting_without_recursion_error() -> None:
    with pytest.raises(SampDataError, match="deeper"):
        check_samp(nested_lists(5000))


# -- decoding (§3.4 grammar) --------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("42", 42), ("+7", 7), ("-13", -13)])
def test_decode_int_follows_the_grammar(text: str, value: int) -> None:
    assert decode_int(text) == value


@pytest.mark.parametrize("text", ["", "+", "1.0", "1e3", "0x10", "one", "1_000", "١٢"])
def test_decode_int_refuses_non_ints(text: str) -> None:
    with pytest.raises(SampDataError):
        decode_int(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("1.5", 1.5),
        ("-2.5e3", -2500.0),
        ("+1E-2", 0.01),
        ("3e+2", 300.0),
    ],
)
def test_decode_float_follows_the_grammar(text: str, value: float) -> None:
    assert decode_float(text) == value


@pytest.mark.parametrize("text", ["", ".", "e5", "1e", "1.5.2", "nan", "inf", "Infinity", "0x1p3"])
def test_decode_float_refuses_non_floats(text: str) -> None:
    with pytest.raises(SampDataError):
        decode_float(text)


@pytest.mark.parametrize("text", ["1", "2", "-1", "+10", "007"])
def test_decode_bool_treats_any_nonzero_int_as_true(text: str) -> None:
    assert decode_bool(text) is True


@pytest.mark.parametrize("text", ["0", "-0", "+000", "", "true", "yes", "1.0", "x"])
def test_decode_bool_treats_zero_and_non_numbers_as_false(text: str) -> None:
    assert decode_bool(text) is False


# -- from_wire: lenient reading of what peers sent -------------------------------------------


def test_from_wire_coerces_int_bool_and_double_to_strings() -> None:
    value = {"i": 5, "b": True, "f": False, "d": 2.5, "l": [1, "s"]}
    assert from_wire(value) == {"i": "5", "b": "1", "f": "0", "d": "2.5", "l": ["1", "s"]}


@pytest.mark.parametrize(
    "value",
    [None, xmlrpc.client.Binary(b"\x00"), xmlrpc.client.DateTime("20240101T00:00:00")],
    ids=["nil", "base64", "dateTime"],
)
def test_from_wire_refuses_nil_binary_and_datetime(value: object) -> None:
    with pytest.raises(PeerProtocolError):
        from_wire({"k": [value]})


def test_from_wire_refuses_nesting_beyond_the_depth_limit() -> None:
    with pytest.raises(PeerProtocolError, match="deeper"):
        from_wire(nested_lists(MAX_DEPTH + 1))
