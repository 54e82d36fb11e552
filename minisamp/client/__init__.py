"""The client role: :class:`Client` and its parts.

Its one job is to be one SAMP client on one hub: register and keep its state
(``lifecycle``), send (notify, call, ``call_and_wait``, futures, ``request``), receive
through a callback endpoint (``callback``) into handlers and inboxes (``handlers``),
keep a live directory of the other clients (``directory``), and answer to pyvo's method
names (``pyvo_api``).

May import: the shared modules (``errors``, ``datatypes``, ``messages``, ``lockfile``)
and :mod:`minisamp.xmlrpc`.  Must never import: ``hub``, ``tables``, the helpers or the
command line; and nothing here may import astropy or numpy, start a thread or touch a
file at import (``import minisamp`` loads this package).  Users import
:class:`minisamp.Client`; the modules here are private machinery.
"""

from .client import Client, ClientState

__all__ = ["Client", "ClientState"]

Client.__module__ = ClientState.__module__ = __name__  # their public home
