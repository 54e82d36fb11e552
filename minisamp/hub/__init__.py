"""The hub role: a SAMP hub of our own, in this process or as ``minisamp hub``.

``service`` is the routing service — the registry of clients, their keys, metadata and
subscriptions, message routing, pending calls and hub events — and knows no transport:
it hands each message to a delivery function the profile gave it.  ``hub`` is
:class:`Hub`: the Standard Profile (lockfile, XML-RPC server, per-recipient delivery)
around one service, and its start/stop life.  ``web`` is the Web Profile.

May import: the shared modules and :mod:`minisamp.xmlrpc` (``service`` not even that).
Must never import: ``client``, ``tables``, the helpers or the command line.  Users
import :class:`minisamp.hub.Hub` (also ``minisamp.Hub``).
"""

from .hub import Hub

__all__ = ["Hub"]

Hub.__module__ = __name__  # its public home, as documented (minisamp.hub.Hub)
