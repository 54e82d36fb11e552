"""Receiving: handlers (``on``/``off``), inboxes, and the subscriptions declared for them.

Every binding or unbinding re-declares the subscriptions of a callable client, so the
hub's view always matches the handlers; the hub's own event MTypes are always
subscribed, since they keep the directory current.  A part of
:class:`~minisamp.client.Client` (pyvo's ``bind_receive_*`` are in ``pyvo_api``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..datatypes import SampValue, to_samp
from ..errors import SAMPClientError
from .directory import HUB_MTYPES
from .handlers import Binding, Inbox
from .lifecycle import ClientState, Lifecycle

__all__ = ["Receiving"]

F = TypeVar("F", bound=Callable[..., Any])


class Receiving(Lifecycle):
    """Handlers and inboxes for incoming messages, and the subscriptions for them."""

    # -- subscriptions -----------------------------------------------------------------

    def _subscriptions(self) -> dict[str, SampValue]:
        subs = self._registry.subscriptions()
        for mtype in HUB_MTYPES:
            subs.setdefault(mtype, {})
        return subs

    def declare_subscriptions(self, subscriptions: Mapping[str, Any] | None = None) -> None:
        """Declare what we have handlers for, plus *subscriptions* (pyvo semantics)."""
        if not self._callable:
            raise SAMPClientError("Client not callable.")
        subs = self._subscriptions()
        if subscriptions:
            encoded = to_samp(dict(subscriptions), "subscriptions")
            assert isinstance(encoded, dict)
            subs.update(encoded)
        self._require("declare subscriptions", ClientState.CALLABLE)
        self._hub("samp.hub.declareSubscriptions", subs)

    def _redeclare(self) -> None:
        if self._state is ClientState.CALLABLE:
            self.declare_subscriptions()

    # -- receiving ---------------------------------------------------------------------

    def on(
        self,
        pattern: str,
        handler: F | None = None,
        *,
        calls: bool = True,
        notifications: bool = True,
        annotation: Mapping[str, Any] | None = None,
    ) -> Any:
        """Handle messages whose MType matches *pattern*; usable as a decorator.

        The handler gets a :class:`~minisamp.client.handlers.ReceivedMessage`; for a call its
        return value is the reply (see :mod:`minisamp.client.handlers`)."""

        def register(function: F) -> F:
            binding = Binding(pattern, function, dict(annotation or {}))
            self._registry.bind(binding, calls=calls, notifications=notifications)
            self._redeclare()
            return function

        return register if handler is None else register(handler)

    def off(self, pattern: str) -> None:
        """Stop handling *pattern* (calls and notifications)."""
        if self._registry.unbind(pattern):
            self._redeclare()

    def messages(self, *patterns: str, timeout: float | None = None) -> Inbox:
        """Queue messages matching *patterns* (default ``*``) for a script to take::

        with client.messages("table.load.votable", timeout=60) as inbox:
            for msg in inbox:
                ...; msg.reply({})     # calls must be answered
        """
        inbox = Inbox(patterns or ("*",), timeout, self._close_inbox)
        for pattern in inbox.patterns:
            self._registry.bind(Binding(pattern, inbox.put))
        self._inboxes.append(inbox)
        self._redeclare()
        return inbox

    def _close_inbox(self, inbox: Inbox) -> None:
        for pattern in inbox.patterns:
            self._registry.unbind(pattern)
        self._inboxes.remove(inbox)
        if self.is_connected:
            self._redeclare()
