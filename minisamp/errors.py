"""The exception hierarchy of minisamp, and nothing else.

Catch :class:`SampError` to catch everything minisamp raises on purpose::

    SampError                                     base: catch this
    ├── SampDataError (also ValueError)           the caller's value is not legal SAMP
    ├── PeerProtocolError                         what arrived is malformed or hostile
    ├── TransportError (also OSError)             an endpoint could not be reached in time
    ├── MissingDependencyError (also ImportError) an optional extra is not installed
    ├── BridgeError                               a bridge could not start, or its link broke
    ├── SAMPHubError                              hub missing, stale or misbehaving
    │   ├── HubNotFoundError                      no lockfile, or its hub is dead
    │   └── HubGoneError                          the hub went away while we were connected
    ├── SAMPClientError                           client used in the wrong state
    │   └── ClientNotFoundError (also KeyError)   no registered client has that name
    ├── SAMPProxyError (also xmlrpc.client.Fault) the other end answered with a fault
    │   └── SAMPProxyTimeoutError (also TimeoutError)
    └── SampResponseError                         a recipient answered with samp.error
        └── SampTimeoutError (also TimeoutError)  no response arrived in time
    SAMPWarning (UserWarning)

The upper-case ``SAMP…`` names are those of pyvo.samp / astropy.samp, so that code
catching them keeps working after ``from pyvo.samp import X`` becomes
``from minisamp import X``.  Foreign exceptions are translated (and chained) at the
wire modules only.  Every message says what went wrong and, where there is
something to do, what to do next.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BridgeError",
    "ClientNotFoundError",
    "HubGoneError",
    "HubNotFoundError",
    "MissingDependencyError",
    "PeerProtocolError",
    "SAMPClientError",
    "SAMPHubError",
    "SAMPProxyError",
    "SAMPProxyTimeoutError",
    "SAMPWarning",
    "SampDataError",
    "SampError",
    "SampResponseError",
    "SampTimeoutError",
    "TransportError",
]


class SampError(Exception):
    """Base class of every exception minisamp raises on purpose.

    ::

        try:
            client.notify_all(message)
        except minisamp.SampError as exc:
            print("SAMP failed:", exc)
    """


class SampDataError(SampError, ValueError):
    """A value given by the caller is not legal SAMP data.

    The message names the offending key path, e.g. ``samp.params.ra``.
    """


class PeerProtocolError(SampError):
    """What another SAMP party sent is malformed or hostile (bad XML, bad types, too big)."""


class TransportError(SampError, OSError):
    """An XML-RPC endpoint (hub or client) could not be reached, or did not answer in time."""


class MissingDependencyError(SampError, ImportError):
    """An optional dependency is missing, e.g. astropy (``pip install minisamp[tables]``)."""


class BridgeError(SampError):
    """A bridge could not reach its far side, or the link between the two hubs broke."""


class SAMPHubError(SampError):
    """The hub is missing, stale, or misbehaving (pyvo.samp name)."""


class HubNotFoundError(SAMPHubError):
    """No SAMP hub is running: no lockfile, or the hub it names does not answer."""


class HubGoneError(SAMPHubError):
    """The hub shut down or disconnected us; reconnect once a hub is running again."""


class SAMPClientError(SampError):
    """The client was used in a state that does not allow the operation (pyvo.samp name)."""


class ClientNotFoundError(SAMPClientError, KeyError):
    """No registered client has the requested name.

    A :class:`KeyError` too, because pyvo.samp's ``find_client_id`` raises ``KeyError``
    and user code catches that.
    """

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument; we want the readable sentence.
        return str(self.args[0]) if self.args else ""


class SAMPProxyError(SampError, xmlrpc.client.Fault):
    """The hub (or a client) answered an XML-RPC call with a fault.

    As in pyvo.samp it is an :class:`xmlrpc.client.Fault`, with ``faultCode`` and
    ``faultString``.
    """

    def __init__(self, faultCode: int, faultString: str, **extra: Any) -> None:
        xmlrpc.client.Fault.__init__(self, faultCode, faultString, **extra)
        # Fault.__init__ does not pass args to Exception; set them for pickling and str().
        self.args = (faultCode, faultString)

    def __str__(self) -> str:
        return self.faultString


class SAMPProxyTimeoutError(SAMPProxyError, TimeoutError):
    """A synchronous call through the hub timed out (pyvo.samp name)."""


class SampResponseError(SampError):
    """A recipient answered a call with ``samp.error``.

    ``error`` is the ``samp.error`` map (``samp.errortxt``, ``samp.usertxt``,
    ``samp.debugtxt``, ``samp.code`` and any other keys), ``responder_id`` the public id
    of the client that answered, and ``response`` the whole response map.
    """

    def __init__(
        self,
        message: str,
        *,
        responder_id: str | None = None,
        response: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.responder_id = responder_id
        self.response: dict[str, Any] = dict(response or {})
        err = self.response.get("samp.error", {})
        self.error: dict[str, Any] = dict(err) if isinstance(err, Mapping) else {}

    @property
    def errortxt(self) -> str:
        """The recipient's short error text (``samp.errortxt``)."""
        return str(self.error.get("samp.errortxt", ""))

    @property
    def usertxt(self) -> str | None:
        """Free-form detail for the user (``samp.usertxt``), if given."""
        value = self.error.get("samp.usertxt")
        return None if value is None else str(value)

    @property
    def debugtxt(self) -> str | None:
        """Debugging detail (``samp.debugtxt``), if given."""
        value = self.error.get("samp.debugtxt")
        return None if value is None else str(value)

    @property
    def code(self) -> str | None:
        """The error code (``samp.code``), if given."""
        value = self.error.get("samp.code")
        return None if value is None else str(value)


class SampTimeoutError(SampResponseError, TimeoutError):
    """No response arrived within the timeout."""


class SAMPWarning(UserWarning):
    """Something worth knowing that does not stop the operation (pyvo.samp name)."""
