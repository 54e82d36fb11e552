"""minisamp: a small, fast, pure-Python SAMP client, hub and pyvo.samp drop-in.

What it does: talks SAMP 1.3 (Standard Profile) to any hub — TOPCAT's, JSAMP's,
DS9's, pyvo's or its own — with the names of ``pyvo.samp`` (``SAMPIntegratedClient``,
``SAMPProxyError``, …) and a Pythonic layer beside them (:class:`Client`,
futures, ``request``, ``@client.on``).  What it deliberately does not do on
import: load astropy, numpy or pyvo, start threads, or touch files.  The hub and the
table helpers are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .client.client import Client, ClientState
from .client.directory import ClientInfo
from .client.handlers import REPLY_LATER, Inbox, ReceivedMessage
from .compat import (
    SAFE_MTYPES,
    SAMP_ICON,
    Conf,
    SAMPClient,
    SAMPHubProxy,
    SAMPHubServer,
    SAMPIntegratedClient,
    SAMPMsgReplierWrapper,
    SAMPXXEServerProxy,
    WebProfileDialog,
    conf,
    safe_xmlrpc_loads,
)
from .datatypes import (
    decode_bool,
    decode_float,
    decode_int,
    encode_bool,
    encode_float,
    encode_int,
)
from .errors import (
    BridgeError,
    ClientNotFoundError,
    HubGoneError,
    HubNotFoundError,
    MissingDependencyError,
    PeerProtocolError,
    SAMPClientError,
    SampDataError,
    SampError,
    SAMPHubError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SampResponseError,
    SampTimeoutError,
    SAMPWarning,
    TransportError,
)
from .messages import SAMP_STATUS_ERROR, SAMP_STATUS_OK, SAMP_STATUS_WARNING, Message, Response
from .version import __version__ as __version__

__all__ = [
    "REPLY_LATER",
    "SAFE_MTYPES",
    "SAMP_ICON",
    "SAMP_STATUS_ERROR",
    "SAMP_STATUS_OK",
    "SAMP_STATUS_WARNING",
    "BridgeError",
    "Client",
    "ClientInfo",
    "ClientNotFoundError",
    "ClientState",
    "Conf",
    "HubGoneError",
    "HubNotFoundError",
    "Inbox",
    "Message",
    "MissingDependencyError",
    "PeerProtocolError",
    "ReceivedMessage",
    "Response",
    "SAMPClient",
    "SAMPClientError",
    "SAMPHubError",
    "SAMPHubProxy",
    "SAMPHubServer",
    "SAMPIntegratedClient",
    "SAMPMsgReplierWrapper",
    "SAMPProxyError",
    "SAMPProxyTimeoutError",
    "SAMPWarning",
    "SAMPXXEServerProxy",
    "SampDataError",
    "SampError",
    "SampResponseError",
    "SampTimeoutError",
    "TransportError",
    "WebProfileDialog",
    "conf",
    "decode_bool",
    "decode_float",
    "decode_int",
    "encode_bool",
    "encode_float",
    "encode_int",
    "safe_xmlrpc_loads",
]

#: Public names loaded on first use: name → module.  Add a name to __all__ too once
#: its module exists and importing it stays free of astropy, threads and files.
_LAZY = {
    "Bridge": "minisamp.bridge",
    "Delivery": "minisamp.helpers",
    "Hub": "minisamp.hub",
    "accessible_table": "minisamp.helpers",
    "client_label": "minisamp.helpers",
    "connection": "minisamp.helpers",
    "find_client_id": "minisamp.helpers",
    "highlight_row": "minisamp.linked",
    "on_highlight": "minisamp.linked",
    "on_selection": "minisamp.linked",
    "point_at": "minisamp.helpers",
    "receive_image": "minisamp.helpers",
    "receive_table": "minisamp.helpers",
    "select_rows": "minisamp.linked",
    "selected_rows": "minisamp.linked",
    "send_and_wait": "minisamp.helpers",
    "send_image_to": "minisamp.helpers",
    "send_moc_to": "minisamp.coverage",
    "send_product_to": "minisamp.helpers",
    "send_spectrum_to": "minisamp.helpers",
    "send_table_to": "minisamp.helpers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'minisamp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
