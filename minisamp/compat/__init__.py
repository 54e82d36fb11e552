"""pyvo.samp's classes and small names, as thin layers over minisamp's own.

One job: the whole public surface of ``pyvo.samp`` 1.9.1 beside the helpers (which
are :mod:`minisamp.helpers`), each with pyvo's signature: ``SAMPIntegratedClient``
(:mod:`.integrated`), ``SAMPHubProxy`` (:mod:`.hub_proxy`), ``SAMPClient``
(:mod:`.samp_client`), ``SAMPHubServer`` and ``WebProfileDialog`` (:mod:`.hub_server`),
and ``conf``, the constants, ``SAMPMsgReplierWrapper`` and the safe XML-RPC parsing
(:mod:`.utils`).  Every deliberate difference is a row in the migration guide.

May import: the shared modules, :mod:`minisamp.xmlrpc`, :mod:`minisamp.client`, and
:mod:`minisamp.hub` (only inside functions: ``import minisamp`` starts no hub).
Must never import: the command line; nothing below the user-facing layer imports this.
"""

from ..errors import (
    SAMPClientError,
    SAMPHubError,
    SAMPProxyError,
    SAMPProxyTimeoutError,
    SAMPWarning,
)
from ..messages import SAMP_STATUS_ERROR, SAMP_STATUS_OK, SAMP_STATUS_WARNING
from .hub_proxy import SAMPHubProxy
from .hub_server import SAMPHubServer, WebProfileDialog
from .integrated import SAMPIntegratedClient
from .samp_client import SAMPClient
from .utils import (
    SAFE_MTYPES,
    SAMP_ICON,
    Conf,
    SAMPMsgReplierWrapper,
    SAMPXXEServerProxy,
    conf,
    safe_xmlrpc_loads,
)

__all__ = [
    "SAFE_MTYPES",
    "SAMP_ICON",
    "SAMP_STATUS_ERROR",
    "SAMP_STATUS_OK",
    "SAMP_STATUS_WARNING",
    "Conf",
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
    "WebProfileDialog",
    "conf",
    "safe_xmlrpc_loads",
]
