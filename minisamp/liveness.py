"""Is a hub alive?  A ping that answers says yes; only a refused port says it is dead.

Reading a lockfile is not enough to trust it (a hub killed with SIGKILL leaves its
lockfile behind), and a hub that says nothing may only be busy: only a hub whose port
refuses connections may be called dead and its lockfile replaced.  The wire layer is
imported inside :func:`is_hub_alive`'s ping, so importing this module loads none of it.
"""

from __future__ import annotations

import logging
import urllib.parse

from .errors import TransportError

__all__ = ["hub_may_be_alive", "is_hub_alive", "is_no_answer", "port_accepts"]

logger = logging.getLogger("minisamp.lockfile")


def is_hub_alive(xmlrpc_url: str, *, timeout: float = 2.0) -> bool:
    """True if ``samp.hub.ping()`` at *xmlrpc_url* answers within *timeout* seconds."""
    return _ping(xmlrpc_url, timeout) == "ok"


def _ping(xmlrpc_url: str, timeout: float) -> str:
    """``"ok"``, ``"silent"`` (no answer: timed out, or the connection closed) or ``"wrong"``
    (refused, or an answer that is not a hub's)."""
    from .xmlrpc.transport import XmlRpcProxy  # the wire layer; imported only when pinging

    proxy = XmlRpcProxy(xmlrpc_url, timeout=timeout)
    try:
        proxy.call("samp.hub.ping")
    except TransportError as exc:
        return "silent" if is_no_answer(exc) else "wrong"
    except Exception:  # a fault or garbage: something answers, but not a working hub
        logger.debug("hub at %s answered ping badly", xmlrpc_url, exc_info=True)
        return "wrong"
    finally:
        proxy.close()
    return "ok"


def is_no_answer(error: TransportError) -> bool:
    """True if *error* means the peer said nothing (timeout, closed connection), not that
    nobody listens (refused) or that it answered something else (an HTTP error)."""
    cause = error.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return False
    if isinstance(cause, OSError):
        return True  # timed out, reset
    return str(cause) == "no answer"  # the transport's word for a connection closed unanswered


def port_accepts(xmlrpc_url: str, *, timeout: float = 2.0) -> bool:
    """True unless the host and port of *xmlrpc_url* refuse a TCP connection.

    A connection that times out counts as accepted: on loopback that means a full
    accept queue, a process alive but busy.
    """
    import socket

    parts = urllib.parse.urlsplit(xmlrpc_url)
    try:
        port = parts.port or 80
        host = parts.hostname or "127.0.0.1"
    except ValueError:
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except TimeoutError:
        return True
    except OSError:
        return False


def hub_may_be_alive(xmlrpc_url: str, *, timeout: float = 2.0) -> bool:
    """True if the hub at *xmlrpc_url* answers a ping, or says nothing but its port accepts.

    Only a hub for which this is False may be called dead (and its lockfile replaced).
    """
    state = _ping(xmlrpc_url, timeout)
    if state == "ok":
        return True
    if state == "silent" and port_accepts(xmlrpc_url, timeout=timeout):
        logger.warning("the hub at %s does not answer, but its port accepts: busy", xmlrpc_url)
        return True
    return False
