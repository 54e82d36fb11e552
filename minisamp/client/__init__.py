"""The client role: :class:`Client` and its parts.

Its one job is to be one SAMP client on one hub: register and keep its state
(``lifecycle``), send (notify, call, ``call_and_wait``, futures, ``request``:
``sending``), receive through a callback endpoint (``callback``) into handlers and
inboxes (``handlers``, ``receiving``), ask the hub about the other clients and keep a
live directory of them (``hub_queries``, ``directory``), and answer to pyvo's method
names (``pyvo_api``); ``client`` composes :class:`Client` from these parts.

May import: the shared modules (``errors``, ``datatypes``, ``messages``, ``lockfile``)
and :mod:`minisamp.xmlrpc`.  Must never import: ``hub``, ``tables``, the helpers or the
command line; and nothing here may import astropy or numpy, start a thread or touch a
file at import (``import minisamp`` loads this package).  Users import
:class:`minisamp.Client`; the modules here are private machinery.
"""

from .client import Client, ClientState

__all__ = ["Client", "ClientState"]

Client.__module__ = ClientState.__module__ = __name__  # their public home
