"""SAMP value rules: strings, lists and string-keyed maps only, legal characters only.

SAMP 1.3 §3.3 has three types: a *string* of characters 0x09, 0x0a, 0x0d or
0x20–0x7f, a *list* and a *map* with string keys.  There is no null, number or
boolean on the wire; §3.4 defines how ints, floats and booleans are written as
strings.  :func:`to_samp` turns what a Python caller hands us into legal SAMP data
(encoding ``int``/``float``/``bool``), :func:`check_samp` verifies data that should
already be SAMP, and :func:`from_wire` makes what a lenient XML-RPC parser gave us
(``<int>``, ``<boolean>``, ``<double>`` from sloppy peers) into SAMP data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeAlias

from .errors import PeerProtocolError, SampDataError

__all__ = [
    "MAX_DEPTH",
    "SampValue",
    "check_samp",
    "decode_bool",
    "decode_float",
    "decode_int",
    "encode_bool",
    "encode_float",
    "encode_int",
    "from_wire",
    "is_samp_string",
    "to_samp",
]

SampValue: TypeAlias = "str | list[SampValue] | dict[str, SampValue]"

#: Deepest nesting of lists and maps accepted, both directions.
MAX_DEPTH = 64

_ILLEGAL_CHAR = re.compile(r"[^\t\n\r\x20-\x7f]")
_SAMP_INT = re.compile(r"[+-]?[0-9]+\Z")
_SAMP_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


def is_samp_string(text: str) -> bool:
    """True if *text* uses only the characters SAMP strings may hold."""
    return text.isascii() and _ILLEGAL_CHAR.search(text) is None


def encode_int(value: int) -> str:
    """A Python int as a SAMP int string."""
    return str(int(value))


def encode_float(value: float) -> str:
    """A Python float as a SAMP float string; NaN and infinities are refused."""
    value = float(value)
    if not math.isfinite(value):
        raise SampDataError(f"SAMP floats cannot be NaN or infinite (got {value!r})")
    return repr(value)


def encode_bool(value: bool) -> str:
    """A Python bool as a SAMP boolean: ``"1"`` or ``"0"``."""
    return "1" if value else "0"


def decode_int(text: str | int) -> int:
    """A SAMP int string as a Python int (a Python int, as pyvo peers send, passes through)."""
    if isinstance(text, int):
        return int(text)
    if not _SAMP_INT.match(text.strip()):
        raise SampDataError(f"not a SAMP int: {text!r}")
    return int(text)


def decode_float(text: str | float) -> float:
    """A SAMP float string as a Python float (a Python number passes through)."""
    if isinstance(text, int | float):
        return float(text)
    if not _SAMP_FLOAT.match(text.strip()):
        raise SampDataError(f"not a SAMP float: {text!r}")
    return float(text)


def decode_bool(text: str | int | bool) -> bool:
    """A SAMP boolean: any non-zero SAMP int is true, anything else false (as JSAMP);
    a Python bool or int, as pyvo peers send, is read the same way."""
    if isinstance(text, int):
        return text != 0
    try:
        return decode_int(text) != 0
    except SampDataError:
        return False


def _describe(path: str) -> str:
    return f" at {path}" if path else ""


def to_samp(value: Any, path: str = "") -> SampValue:
    """Convert a caller's value to legal SAMP data, or raise :class:`SampDataError`.

    ``str`` is checked; ``bool``/``int``/``float`` are encoded per §3.4; lists and
    tuples become lists; mappings with string keys become dicts.  ``None`` and any
    other type are refused with the key path of the offending value.
    """
    return _to_samp(value, path, 0)


def _to_samp(value: Any, path: str, depth: int) -> SampValue:
    if isinstance(value, str):
        if not is_samp_string(value):
            bad = next(c for c in value if not is_samp_string(c))
            raise SampDataError(
                f"illegal character {bad!r} (code {ord(bad):#x}){_describe(path)}: SAMP strings "
                "may hold only ASCII 0x09, 0x0a, 0x0d and 0x20-0x7f"
            )
        return value
    if isinstance(value, (Mapping, list, tuple)) and depth >= MAX_DEPTH:
        raise SampDataError(f"value nested deeper than {MAX_DEPTH} levels{_describe(path)}")
    if isinstance(value, bool):
        return encode_bool(value)
    if isinstance(value, int):
        return encode_int(value)
    if isinstance(value, float):
        try:
            return encode_float(value)
        except SampDataError as exc:
            raise SampDataError(f"{exc}{_describe(path)}") from None
    if isinstance(value, Mapping):
        out: dict[str, SampValue] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not is_samp_string(key):
                raise SampDataError(f"map key {key!r}{_describe(path)} is not a legal SAMP string")
            out[key] = _to_samp(item, f"{path}.{key}" if path else key, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_samp(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if value is None:
        raise SampDataError(f"None is not a SAMP value{_describe(path)}: SAMP has no null")
    raise SampDataError(
        f"{type(value).__name__} is not a SAMP value{_describe(path)}: use str, int, float, "
        "bool, list or dict"
    )


def check_samp(value: Any, path: str = "") -> SampValue:
    """Return *value* if it is already strictly SAMP data (no encoding), else raise."""
    return _check_samp(value, path, 0)


def _check_samp(value: Any, path: str, depth: int) -> SampValue:
    if isinstance(value, str):
        return to_samp(value, path)
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        raise SampDataError(f"value nested deeper than {MAX_DEPTH} levels{_describe(path)}")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_samp(key, path, depth)
            _check_samp(item, f"{path}.{key}" if path else key, depth + 1)
        return value
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_samp(item, f"{path}[{i}]", depth + 1)
        return value
    raise SampDataError(f"{type(value).__name__} is not a SAMP value{_describe(path)}")


def from_wire(value: Any, depth: int = 0) -> SampValue:
    """Make a value decoded from XML-RPC into SAMP data, leniently.

    ``<int>``, ``<i4>``, ``<boolean>`` and ``<double>`` from sloppy peers become
    strings; ``<nil/>``, ``<base64>`` and ``<dateTime.iso8601>`` are refused with
    :class:`PeerProtocolError`.  Characters outside the SAMP set are kept: being
    strict about what others send would only break interoperation.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)) and depth >= MAX_DEPTH:
        raise PeerProtocolError(f"XML-RPC value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [from_wire(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(key): from_wire(item, depth + 1) for key, item in value.items()}
    if isinstance(value, bool):
        return encode_bool(value)
    if isinstance(value, int):
        return encode_int(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    raise PeerProtocolError(
        f"XML-RPC type {type(value).__name__} is not allowed in SAMP "
        "(only string, array and struct are)"
    )
