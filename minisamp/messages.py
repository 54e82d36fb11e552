"""SAMP messages, responses and MType matching (SAMP 1.3 §3.7–§3.9).

:class:`Message` and :class:`Response` are frozen values that check themselves
when built; ``from_map`` accepts what arrived on the wire, ``to_map`` gives what
goes out.  MType subscription patterns (``*``, ``table.*``) are matched here and
only here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NoReturn

from .datatypes import SampValue, to_samp
from .errors import PeerProtocolError, SampDataError, SampResponseError

__all__ = [
    "SAMP_STATUS_ERROR",
    "SAMP_STATUS_OK",
    "SAMP_STATUS_WARNING",
    "Message",
    "Response",
    "best_match",
    "is_mtype",
    "is_mtype_pattern",
    "match_level",
    "mtype_matches",
]

SAMP_STATUS_OK = "samp.ok"
SAMP_STATUS_WARNING = "samp.warning"
SAMP_STATUS_ERROR = "samp.error"
_STATUSES = (SAMP_STATUS_OK, SAMP_STATUS_WARNING, SAMP_STATUS_ERROR)

# The standard's MType atoms are lower case, but widely used MTypes
# (table.select.rowList, coord.pointAt.sky) are not: accept upper case, as JSAMP does.
_MTYPE = re.compile(r"[0-9A-Za-z_-]+(\.[0-9A-Za-z_-]+)*\Z")
_PATTERN = re.compile(r"(\*|[0-9A-Za-z_-]+(\.[0-9A-Za-z_-]+)*(\.\*)?)\Z")


def is_mtype(text: str) -> bool:
    """True if *text* is a syntactically valid MType."""
    return bool(_MTYPE.match(text))


def is_mtype_pattern(text: str) -> bool:
    """True if *text* is an MType or a subscription pattern (``*``, ``a.b.*``)."""
    return bool(_PATTERN.match(text))


def match_level(pattern: str, mtype: str) -> int:
    """How specifically *pattern* matches *mtype*: -1 for no match, higher is more specific.

    ``*`` matches everything (level 0); ``a.b.*`` matches ``a.b.c`` and ``a.b.c.d``
    but not ``a.b`` (level = number of atoms before the ``*``); an exact MType
    matches itself at the highest level.
    """
    if pattern == mtype:
        return 1000
    if pattern == "*":
        return 0
    if pattern.endswith(".*"):
        prefix = pattern[:-1]  # keep the dot: "a.b." so that "a.bx.c" does not match
        if mtype.startswith(prefix) and len(mtype) > len(prefix):
            return prefix.count(".")
    return -1


def mtype_matches(pattern: str, mtype: str) -> bool:
    """True if subscription *pattern* covers *mtype*."""
    return match_level(pattern, mtype) >= 0


def best_match(patterns: Iterable[str], mtype: str) -> str | None:
    """The most specific of *patterns* that matches *mtype*, or None."""
    best: str | None = None
    best_level = -1
    for pattern in patterns:
        level = match_level(pattern, mtype)
        if level > best_level:
            best, best_level = pattern, level
    return best


def _as_map(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise PeerProtocolError(f"{what} is not a map (got {type(value).__name__})")
    return dict(value)


class FrozenValue:
    """Base of minisamp's small immutable values (:class:`Message`, :class:`Response`, …).

    What ``@dataclass(frozen=True)`` gave them, written out: each subclass's
    ``__init__`` stores its fields (in ``_fields`` order), ``repr`` and ``==`` go field
    by field, and assigning raises ``dataclasses.FrozenInstanceError``.  They are not
    dataclasses because importing :mod:`dataclasses` (and :mod:`inspect`) and
    generating the methods of each class cost more than the rest of ``import minisamp``
    beyond the standard library it needs.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...] | None] = None  # repr and ==: None means _fields

    def _store(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self._compared or self._fields)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        from dataclasses import FrozenInstanceError  # only on this error path

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        names = self._compared or self._fields
        fields = ", ".join(f"{name}={self.__dict__[name]!r}" for name in names)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, FrozenValue)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())


class Message(FrozenValue):
    """A SAMP message: an MType, its parameters, and any extra top-level keys."""

    _fields = ("mtype", "params", "extra")
    mtype: str
    params: dict[str, SampValue]
    extra: dict[str, SampValue]

    def __init__(
        self,
        mtype: str,
        params: dict[str, SampValue] | None = None,
        extra: dict[str, SampValue] | None = None,
    ) -> None:
        self._store(
            mtype=mtype,
            params={} if params is None else params,
            extra={} if extra is None else extra,
        )

    @classmethod
    def create(cls, mtype: str, params: Mapping[str, Any] | None = None, **extra: Any) -> Message:
        """Build a message from Python values; ints, floats and bools are SAMP-encoded."""
        if not isinstance(mtype, str) or not is_mtype(mtype):
            raise SampDataError(f"{mtype!r} is not a valid MType (e.g. 'table.load.votable')")
        enc_params = to_samp(dict(params or {}), "samp.params")
        enc_extra = to_samp(extra, "")
        assert isinstance(enc_params, dict) and isinstance(enc_extra, dict)
        return cls(mtype, enc_params, enc_extra)

    @classmethod
    def from_map(cls, message: Any) -> Message:
        """A message from a wire map; raises :class:`PeerProtocolError` if malformed."""
        data = _as_map(message, "message")
        mtype = data.pop("samp.mtype", None)
        if not isinstance(mtype, str) or not mtype:
            raise PeerProtocolError("message has no samp.mtype string")
        params = _as_map(data.pop("samp.params", {}), "samp.params")
        return cls(mtype, params, data)

    @classmethod
    def from_user(cls, message: Any) -> Message:
        """A message from a map a caller gave us: checked and SAMP-encoded."""
        if isinstance(message, Message):
            return message
        if not isinstance(message, Mapping):
            raise SampDataError(f"a message must be a dict, not {type(message).__name__}")
        data = dict(message)
        mtype = data.pop("samp.mtype", None)
        if mtype is None:
            raise SampDataError("message has no 'samp.mtype' key")
        params = data.pop("samp.params", None)
        if params is not None and not isinstance(params, Mapping):
            raise SampDataError("'samp.params' must be a dict")
        return cls.create(mtype, params, **data)

    def to_map(self) -> dict[str, SampValue]:
        """The message as a SAMP map, ready to send."""
        out: dict[str, SampValue] = dict(self.extra)
        out["samp.mtype"] = self.mtype
        out["samp.params"] = self.params
        return out


class Response(FrozenValue):
    """A SAMP response: status, result map and/or error map, and any extra keys."""

    _fields = ("status", "result", "error", "extra")
    status: str
    result: dict[str, SampValue] | None
    error: dict[str, SampValue] | None
    extra: dict[str, SampValue]

    def __init__(
        self,
        status: str,
        result: dict[str, SampValue] | None = None,
        error: dict[str, SampValue] | None = None,
        extra: dict[str, SampValue] | None = None,
    ) -> None:
        self._store(status=status, result=result, error=error, extra={} if extra is None else extra)

    @classmethod
    def ok(cls, result: Mapping[str, Any] | None = None) -> Response:
        """A ``samp.ok`` response with *result* (SAMP-encoded)."""
        return cls(SAMP_STATUS_OK, _encoded(result, "samp.result"))

    @classmethod
    def warning(cls, result: Mapping[str, Any] | None, errortxt: str, **error: Any) -> Response:
        """A ``samp.warning`` response: a result, and an error map saying what was odd."""
        return cls(
            SAMP_STATUS_WARNING, _encoded(result, "samp.result"), _error_map(errortxt, error)
        )

    @classmethod
    def error_response(cls, errortxt: str, **error: Any) -> Response:
        """A ``samp.error`` response; keyword names are ``usertxt``, ``debugtxt``, ``code``
        (prefixed with ``samp.``) or any other error-map key."""
        return cls(SAMP_STATUS_ERROR, None, _error_map(errortxt, error))

    @classmethod
    def from_map(cls, response: Any) -> Response:
        """A response from a wire map; unknown statuses are kept (treat as error)."""
        data = _as_map(response, "response")
        status = data.pop("samp.status", None)
        if not isinstance(status, str):
            raise PeerProtocolError("response has no samp.status string")
        result = data.pop("samp.result", None)
        error = data.pop("samp.error", None)
        return cls(
            status,
            None if result is None else _as_map(result, "samp.result"),
            None if error is None else _as_map(error, "samp.error"),
            data,
        )

    @classmethod
    def from_user(cls, response: Any) -> Response:
        """A response from a map a caller gave us: checked and SAMP-encoded."""
        if isinstance(response, Response):
            return response
        if not isinstance(response, Mapping):
            raise SampDataError(f"a response must be a dict, not {type(response).__name__}")
        encoded = to_samp(dict(response), "")
        assert isinstance(encoded, dict)
        if not isinstance(encoded.get("samp.status"), str):
            raise SampDataError(
                "response has no 'samp.status' (samp.ok, samp.warning or samp.error)"
            )
        return cls.from_map(encoded)

    def to_map(self) -> dict[str, SampValue]:
        """The response as a SAMP map, ready to send."""
        out: dict[str, SampValue] = dict(self.extra)
        out["samp.status"] = self.status
        if self.result is not None or self.status in (SAMP_STATUS_OK, SAMP_STATUS_WARNING):
            out["samp.result"] = self.result if self.result is not None else {}
        if self.error is not None:
            out["samp.error"] = self.error
        return out

    @property
    def is_ok(self) -> bool:
        """True for ``samp.ok`` and ``samp.warning`` (the receiver acted on the message)."""
        return self.status in (SAMP_STATUS_OK, SAMP_STATUS_WARNING)

    @property
    def errortxt(self) -> str:
        """The error text, or ``""``."""
        return str((self.error or {}).get("samp.errortxt", ""))

    def raise_for_error(self, responder_id: str | None = None) -> Response:
        """Raise :class:`SampResponseError` unless the status is ok or warning."""
        if not self.is_ok:
            who = f"{responder_id} " if responder_id else ""
            text = self.errortxt or f"status {self.status!r}"
            raise SampResponseError(
                f"{who}answered with an error: {text}",
                responder_id=responder_id,
                response=self.to_map(),
            )
        return self


def _encoded(result: Mapping[str, Any] | None, path: str) -> dict[str, SampValue]:
    value = to_samp(dict(result or {}), path)
    assert isinstance(value, dict)
    return value


def _error_map(errortxt: str, error: Mapping[str, Any]) -> dict[str, SampValue]:
    out: dict[str, Any] = {"samp.errortxt": errortxt}
    for key, value in error.items():
        if value is None:
            continue
        out[key if "." in key else f"samp.{key}"] = value
    return _encoded(out, "samp.error")
