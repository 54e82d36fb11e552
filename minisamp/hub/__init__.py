"""The hub role: a SAMP hub of our own, in this process or as ``minisamp hub``.

``registry`` holds the clients, their keys, metadata and subscriptions; ``service``
builds the routing service on it — message routing, pending calls, hub events — and
knows no transport: it hands each message to a delivery function the profile gave it;
``faults`` has the fault codes and argument checks both share.  ``hub`` is
:class:`Hub`: the Standard Profile (lockfile, XML-RPC server) around one service, and
its start/stop life; ``delivery`` sends the service's callbacks to Standard Profile
clients, in order per recipient, over a bounded thread pool.  ``web`` is the Web Profile.

May import: the shared modules and :mod:`minisamp.xmlrpc` (``faults``, ``registry`` and
``service`` not even that).
Must never import: ``client``, ``tables``, the helpers or the command line.  Users
import :class:`minisamp.hub.Hub` (also ``minisamp.Hub``).
"""

from .hub import Hub

__all__ = ["Hub"]

Hub.__module__ = __name__  # its public home, as documented (minisamp.hub.Hub)
