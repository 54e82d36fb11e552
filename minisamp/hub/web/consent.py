"""Consent for the Web Profile: who decides whether a web page may register, and how.

One job: the :class:`WebRegistrationRequest` a consent hook is shown, running a hook
safely (:func:`ask_consent`: no hook, a refusal or an exception all refuse), and the
stock hooks behind ``minisamp hub --web --web-auth prompt|allow|deny``
(:func:`consent_policy`), the y/N terminal prompt among them (:func:`prompt_consent`).
What the page may do once registered is :mod:`minisamp.hub.web.profile`'s business.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...datatypes import SampValue

__all__ = [
    "ConsentHook",
    "WebRegistrationRequest",
    "ask_consent",
    "consent_policy",
    "prompt_consent",
]

logger = logging.getLogger(__name__)

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class WebRegistrationRequest:
    """A page's request to register, as the consent hook sees it.

    Only *address* is established by the hub; *name* is whatever the page claims,
    and *origin*/*referer* are what the browser sent (None when absent).
    """

    name: str
    origin: str | None
    referer: str | None
    address: str
    identity: Mapping[str, SampValue] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """*name*, cut short, with control and non-ASCII characters shown as ``?``."""
        return _printable(self.name)

    def describe(self) -> str:
        """Lines for a consent dialog, with control characters made harmless."""
        return (
            f"  Name:    {self.display_name}  (claimed by the page, not verified)\n"
            f"  Origin:  {_printable(self.origin or '(not sent)')}\n"
            f"  Referer: {_printable(self.referer or '(not sent)')}\n"
        )


ConsentHook = Callable[[WebRegistrationRequest], bool]


def _printable(text: str, limit: int = 200) -> str:
    return _UNPRINTABLE.sub("?", text[:limit])


def ask_consent(hook: ConsentHook | None, request: WebRegistrationRequest) -> bool:
    """True only if *hook* allows *request*; no hook, or a hook that raises, refuses."""
    if hook is None:
        logger.warning("refused web registration of %r: no consent hook", request.name)
        return False
    try:
        return bool(hook(request))
    except Exception:
        logger.exception("the web consent hook failed: refusing %r", request.name)
        return False


# -- consent helpers (for ``minisamp hub --web --web-auth prompt|allow|deny``) -----------

_PROMPT_LOCK = threading.Lock()


def prompt_consent(
    request: WebRegistrationRequest, *, timeout: float = 60.0, tty: str = "/dev/tty"
) -> bool:
    """Ask y/N on the controlling terminal whether *request* may register.

    False unless "y" or "yes" is typed within *timeout* seconds; also False when
    there is no terminal.  Prompts are serialized: a second request waits (within its
    own timeout) for the first prompt to be answered.
    """
    deadline = time.monotonic() + timeout
    if not _PROMPT_LOCK.acquire(timeout=max(timeout, 0.0)):
        logger.warning("refused web registration of %r: another prompt is pending", request.name)
        return False
    try:
        try:
            fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            logger.warning("cannot ask for web consent (no terminal: %s): refusing", exc)
            return False
        try:
            with contextlib.suppress(ImportError, OSError):
                import termios

                termios.tcflush(fd, termios.TCIFLUSH)  # no type-ahead answers for us
            left = max(0, round(deadline - time.monotonic()))
            os.write(fd, _prompt_text(request, left).encode("ascii", "replace"))
            answer = _read_line(fd, deadline)
            if answer is None:
                os.write(fd, b"\n(no answer in time: refused)\n")
                return False
            return answer.strip().lower() in ("y", "yes")
        finally:
            os.close(fd)
    finally:
        _PROMPT_LOCK.release()


def _prompt_text(request: WebRegistrationRequest, seconds: int) -> str:
    return (
        "\nA web page asks to register with the SAMP hub:\n"
        + request.describe()
        + "If you allow it, the page can message your SAMP applications and read\n"
        "the files they send to it.  Only allow pages you trust.\n"
        f"Allow? [y/N] (refused in {seconds} s) "
    )


def _read_line(fd: int, deadline: float) -> str | None:
    data = b""
    while b"\n" not in data and len(data) < 1024:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        data += chunk
    return data.decode("ascii", "replace")


def _allow(request: WebRegistrationRequest) -> bool:
    logger.info("web registration of %r allowed without asking", request.name)
    return True


def _deny(request: WebRegistrationRequest) -> bool:
    logger.info("web registration of %r refused by policy", request.name)
    return False


def consent_policy(name: str) -> ConsentHook:
    """The consent hook for a policy name: ``prompt``, ``allow`` or ``deny``."""
    policies: dict[str, ConsentHook] = {"prompt": prompt_consent, "allow": _allow, "deny": _deny}
    try:
        return policies[name]
    except KeyError:
        raise ValueError(
            f"unknown web consent policy {name!r}: use prompt, allow or deny"
        ) from None
