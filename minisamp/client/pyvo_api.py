"""pyvo.samp's convenience methods, as a mixin of :class:`minisamp.client.Client`.

``SAMPIntegratedClient`` has, beside the hub operations, a layer of thin wrappers:
``e*`` methods taking an MType and keyword parameters instead of a message map, and
``bind_receive_*`` / ``unbind_receive_*`` registering handlers with pyvo's calling
conventions.  They live here, on :class:`PyvoMethods`, so that the client's other parts
hold its own logic; each is a line or two over a ``Client`` method and behaves exactly
as pyvo's (see :mod:`minisamp.client.handlers` for the handler signatures).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SAMPClientError
from .handlers import Binding, HandlerRegistry, pyvo_call_adapter, pyvo_notification_adapter

if TYPE_CHECKING:
    from ..messages import Message, Response

__all__ = ["PyvoMethods"]


def _easy(mtype: str, params: dict[str, Any]) -> dict[str, Any]:
    """The message map of an ``e*`` call: *params*, with ``extra_kws`` as top-level keys."""
    extra = params.pop("extra_kws", None) or {}
    return {"samp.mtype": mtype, "samp.params": params, **extra}


class PyvoMethods:
    """pyvo's ``e*``, ``bind_receive_*`` and ``unbind_receive_*`` methods.

    A mixin: it relies on the attributes and methods of
    :class:`~minisamp.client.Client` declared below for the type checker.
    """

    _callable: bool
    _registry: HandlerRegistry
    _response_bindings: dict[str, Callable[..., Any]]

    if TYPE_CHECKING:

        def notify(self, recipient_id: str, message: Mapping[str, Any] | Message) -> None: ...

        def notify_all(self, message: Mapping[str, Any] | Message) -> list[str]: ...

        def call(
            self, recipient_id: str, msg_tag: str, message: Mapping[str, Any] | Message
        ) -> str: ...

        def call_all(
            self, msg_tag: str, message: Mapping[str, Any] | Message
        ) -> dict[str, str]: ...

        def call_and_wait(
            self, recipient_id: str, message: Mapping[str, Any] | Message, timeout: str | float
        ) -> dict[str, Any]: ...

        def reply(self, msg_id: str, response: Mapping[str, Any] | Response) -> None: ...

        def get_private_key(self) -> str: ...

        def _redeclare(self) -> None: ...

    # -- sending with the MType and params as arguments --------------------------------

    def enotify(self, recipient_id: str, mtype: str, **params: Any) -> None:
        """:meth:`notify` with the MType and params as arguments (``extra_kws``: extra keys)."""
        self.notify(recipient_id, _easy(mtype, params))

    def enotify_all(self, mtype: str, **params: Any) -> list[str]:
        """:meth:`notify_all` with the MType and params as arguments."""
        return self.notify_all(_easy(mtype, params))

    def ecall(self, recipient_id: str, msg_tag: str, mtype: str, **params: Any) -> str:
        """:meth:`call` with the MType and params as arguments."""
        return self.call(recipient_id, msg_tag, _easy(mtype, params))

    def ecall_all(self, msg_tag: str, mtype: str, **params: Any) -> dict[str, str]:
        """:meth:`call_all` with the MType and params as arguments (returns the map)."""
        return self.call_all(msg_tag, _easy(mtype, params))

    def ecall_and_wait(
        self, recipient_id: str, mtype: str, timeout: str | float, **params: Any
    ) -> dict[str, Any]:
        """:meth:`call_and_wait` with the MType and params as arguments."""
        return self.call_and_wait(recipient_id, _easy(mtype, params), timeout)

    def ereply(
        self,
        msg_id: str,
        status: str,
        result: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """:meth:`reply` with the status, result and error maps as arguments."""
        response: dict[str, Any] = {"samp.status": status}
        if result is not None:
            response["samp.result"] = result
        if error is not None:
            response["samp.error"] = error
        self.reply(msg_id, response)

    # -- pyvo-style handlers ------------------------------------------------------------

    def _bind_pyvo(
        self, mtype: str, function: Callable[..., Any], declare: bool, metadata: Any, kinds: str
    ) -> None:
        if not self._callable:
            raise SAMPClientError("Client not callable.")
        annotation = dict(metadata or {})
        key = self.get_private_key
        if "call" in kinds:
            invoke = pyvo_call_adapter(function, key)
            self._registry.bind(Binding(mtype, invoke, annotation, False), notifications=False)
        if "notification" in kinds:
            invoke = pyvo_notification_adapter(function, key)
            self._registry.bind(Binding(mtype, invoke, annotation, False), calls=False)
        if declare:
            self._redeclare()

    def bind_receive_message(
        self, mtype: str, function: Callable[..., Any], declare: bool = True, metadata: Any = None
    ) -> None:
        """pyvo: *function* gets calls and notifications (``msg_id`` None for the latter)."""
        self._bind_pyvo(mtype, function, declare, metadata, "call+notification")

    def bind_receive_notification(
        self, mtype: str, function: Callable[..., Any], declare: bool = True, metadata: Any = None
    ) -> None:
        """pyvo: ``function(private_key, sender_id, mtype, params, extra)`` (or with msg_id)."""
        self._bind_pyvo(mtype, function, declare, metadata, "notification")

    def bind_receive_call(
        self, mtype: str, function: Callable[..., Any], declare: bool = True, metadata: Any = None
    ) -> None:
        """pyvo: ``function(private_key, sender_id, msg_id, mtype, params, extra)``; it must
        call :meth:`reply` itself."""
        self._bind_pyvo(mtype, function, declare, metadata, "call")

    def bind_receive_response(self, msg_tag: str, function: Callable[..., Any]) -> None:
        """pyvo: ``function(private_key, responder_id, msg_tag, response)`` for *msg_tag*."""
        if not self._callable:
            raise SAMPClientError("Client not callable.")
        self._response_bindings[msg_tag] = function

    def unbind_receive_notification(self, mtype: str, declare: bool = True) -> None:
        """pyvo: stop receiving notifications of *mtype*."""
        if self._registry.unbind(mtype, calls=False) and declare:
            self._redeclare()

    def unbind_receive_call(self, mtype: str, declare: bool = True) -> None:
        """pyvo: stop receiving calls of *mtype*."""
        if self._registry.unbind(mtype, notifications=False) and declare:
            self._redeclare()

    def unbind_receive_response(self, msg_tag: str) -> None:
        """pyvo: forget the response handler of *msg_tag*."""
        self._response_bindings.pop(msg_tag, None)
