"""pyvo.samp / astropy.samp class names, as thin adapters over minisamp's own classes.

``SAMPIntegratedClient`` is :class:`minisamp.client.Client` with pyvo's constructor:
every method of pyvo's class is there with the same arguments and contract.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .client.client import Client
from .errors import (
    SAMPClientError,
    SAMPHubError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SAMPWarning,
)
from .messages import SAMP_STATUS_ERROR, SAMP_STATUS_OK, SAMP_STATUS_WARNING

if TYPE_CHECKING:
    from .client.callback import Inbound

__all__ = [
    "SAMP_STATUS_ERROR",
    "SAMP_STATUS_OK",
    "SAMP_STATUS_WARNING",
    "SAMPClientError",
    "SAMPHubError",
    "SAMPHubServer",
    "SAMPIntegratedClient",
    "SAMPProxyError",
    "SAMPProxyTimeoutError",
    "SAMPWarning",
]


class SAMPIntegratedClient(Client):
    """pyvo's ``SAMPIntegratedClient``: a :class:`~minisamp.client.Client` built the pyvo way.

    Differences from pyvo, all deliberate: *addr* None means 127.0.0.1 (pyvo probes
    google.com and may bind the machine's public name); ``ecall_all`` returns its map;
    ``disconnect()`` of a non-callable client does unregister; the client is also a
    context manager and has the :class:`~minisamp.client.Client` extras.
    """

    def __init__(
        self,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        addr: str | None = None,
        port: int = 0,
        callable: bool = True,
    ) -> None:
        super().__init__(name, description, metadata, addr=addr, port=port, callable=callable)

    def receive_notification(
        self, private_key: str, sender_id: str, message: dict[str, Any]
    ) -> str:
        """pyvo: handle a notification as if the hub had delivered it."""
        self._check_key(private_key).notification(sender_id, message)
        return ""

    def receive_call(
        self, private_key: str, sender_id: str, msg_id: str, message: dict[str, Any]
    ) -> str:
        """pyvo: handle a call as if the hub had delivered it."""
        self._check_key(private_key).call(sender_id, msg_id, message)
        return ""

    def receive_response(
        self, private_key: str, responder_id: str, msg_tag: str, response: dict[str, Any]
    ) -> str:
        """pyvo: handle a response as if the hub had delivered it."""
        self._check_key(private_key).response(responder_id, msg_tag, response)
        return ""

    def _check_key(self, private_key: str) -> Inbound:
        if self._inbound is None or not self.is_connected:
            raise SAMPClientError("the client is not connected and callable")
        if private_key != self.get_private_key():
            raise SAMPClientError("wrong private key")
        return self._inbound


class SAMPHubServer:
    """pyvo's / astropy's ``SAMPHubServer``: a :class:`minisamp.hub.Hub` behind their keywords.

    ``start(wait=False)``, ``stop()``, ``is_running``, ``params`` and ``id`` behave as
    theirs.  Deliberate differences: an explicit *lockfile* wins over ``SAMP_HUB``; a
    second hub on a live lockfile raises :class:`~minisamp.errors.SAMPHubError` (astropy
    only warns); the Web Profile is off unless *web_profile* is true, and then asks for
    consent on the terminal unless *web_profile_dialog* is a callable taking a
    :class:`~minisamp.hub.web.WebRegistrationRequest`; *timeout*, *client_timeout*
    and ``mode="multiple"`` are not supported (a :class:`SAMPWarning` says so).
    """

    def __init__(
        self,
        secret: str | None = None,
        addr: str | None = None,
        port: int = 0,
        lockfile: str | None = None,
        timeout: float = 0,
        client_timeout: float = 0,
        mode: str = "single",
        label: str = "",
        web_profile: bool = False,
        web_profile_dialog: Any = None,
        web_port: int = 21012,
        pool_size: int = 20,
    ) -> None:
        from .hub.hub import Hub

        for name, value in (("timeout", timeout), ("client_timeout", client_timeout)):
            if value:
                warnings.warn(
                    f"SAMPHubServer({name}=...) is not supported by minisamp: ignored",
                    SAMPWarning,
                    stacklevel=2,
                )
        if mode != "single":
            warnings.warn(
                f"SAMPHubServer(mode={mode!r}) is not supported: a single hub runs",
                SAMPWarning,
                stacklevel=2,
            )
        options: dict[str, Any] = {}
        if web_profile:
            from .hub.web.consent import prompt_consent

            consent = web_profile_dialog if callable(web_profile_dialog) else prompt_consent
            options.update(web_profile=True, web_port=web_port, web_consent=consent)
        extra = {"hub.label": label} if label else {}
        self._hub = Hub(
            lockfile,
            host=addr or "127.0.0.1",
            port=port,
            secret=secret,
            workers=max(1, pool_size),
            extra_lockfile_keys=extra,
            **options,
        )
        self._stopped = threading.Event()

    def start(self, wait: bool = False) -> None:
        """Start the hub; with *wait*, block until :meth:`stop` (or Ctrl-C)."""
        if self._hub.is_running:
            raise SAMPHubError("Hub is already running")
        self._hub.start()
        if wait:
            try:
                self._stopped.wait()
            finally:
                self.stop()

    def stop(self) -> None:
        """Tell the clients the hub is going, stop it and remove its lockfile."""
        self._hub.stop()
        self._stopped.set()

    @property
    def is_running(self) -> bool:
        """True while the hub runs."""
        return self._hub.is_running

    @property
    def params(self) -> dict[str, str]:
        """The lockfile's keys and values."""
        return self._hub.params

    @property
    def id(self) -> str:
        """An identifier of this hub (its lockfile path and process)."""
        return f"{self._hub.lockfile}#{os.getpid()}"

    @property
    def hub(self) -> Any:
        """The :class:`minisamp.hub.Hub` underneath."""
        return self._hub
