"""The faults the hub answers a caller's mistakes with, and the argument checks raising them.

Codes are pyvo.samp's (its users match on ``faultCode``).  Every hub API method checks
its XML-RPC arguments here, so a bad value gets the same fault and text whichever
method it reached, and the registry and the routing share the checks without one
importing the other's private helpers.  Pure functions: no state, no transport.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ..datatypes import SampValue
from ..errors import SAMPProxyError
from ..messages import is_mtype

__all__ = [
    "FAULT_BAD_ID",
    "FAULT_BAD_KEY",
    "FAULT_BAD_MESSAGE",
    "FAULT_BAD_SECRET",
    "FAULT_GENERAL",
    "FAULT_NOT_SUBSCRIBED",
    "FAULT_TIMEOUT",
    "as_map",
    "as_str",
    "callback_url",
    "fault",
    "mtype_of",
]

# Fault codes, as pyvo.samp's hub uses them (users match on faultCode).
FAULT_TIMEOUT = 1
FAULT_NOT_SUBSCRIBED = 2
FAULT_BAD_MESSAGE = 3
FAULT_BAD_KEY = 5
FAULT_BAD_ID = 6
FAULT_BAD_SECRET = 7
FAULT_GENERAL = 1


def fault(code: int, text: str) -> SAMPProxyError:
    """The error a profile turns into an XML-RPC fault with *code* and *text*."""
    return SAMPProxyError(code, text)


def as_str(value: Any, what: str) -> str:
    """*value* if it is a string, else a fault naming *what* it should have been."""
    if not isinstance(value, str):
        raise fault(FAULT_GENERAL, f"{what} must be a string, not {type(value).__name__}")
    return value


def as_map(value: Any, what: str) -> dict[str, SampValue]:
    """*value* if it is a map, else a fault naming *what* it should have been."""
    if not isinstance(value, dict):
        raise fault(FAULT_GENERAL, f"{what} must be a map, not {type(value).__name__}")
    return value


def callback_url(value: Any) -> str:
    """*value* if it is an ``http://host:port/path`` URL the hub can call, else a fault."""
    url = as_str(value, "callback URL")
    try:
        parts = urllib.parse.urlsplit(url)
        usable = parts.scheme == "http" and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range; a bad IPv6 host
        usable = False
    if not usable:
        raise fault(FAULT_GENERAL, f"callback URL {url[:200]!r} is not an http://host:port/ URL")
    return url


def mtype_of(message: Any) -> str:
    """The MType of *message*, which must be a map with a non-empty ``samp.mtype``."""
    message = as_map(message, "message")
    mtype = message.get("samp.mtype")
    if not isinstance(mtype, str) or not mtype:
        raise fault(FAULT_BAD_MESSAGE, "samp.mtype keyword is missing")
    if not is_mtype(mtype):
        raise fault(
            FAULT_BAD_MESSAGE,
            f"samp.mtype {mtype[:80]!r} is not an MType: atoms of letters, digits, - and _ "
            "joined by dots, with no wildcard",
        )
    return mtype
