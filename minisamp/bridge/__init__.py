"""The bridge: two SAMP hubs on two machines linked over one byte stream (SSH's).

Job: each end joins its own machine's hub, mirrors the other hub's clients as proxy
clients, carries messages, calls and responses across, and serves the files their URLs
name through the same stream.  Modules, one job each: ``framing`` (frames on a byte
stream), ``channel`` (the multiplexer: control messages and data streams),
``hublink`` (one end's raw connection to its hub), ``watcher`` (its hub's events),
``proxies`` (the mirrored clients),
``urls`` (rewriting and exporting URLs), ``fileserver`` (serving them on loopback),
``endpoint`` (one end, all of the above), ``launcher`` (the far side's process) and
``api`` (:class:`Bridge`).

May import: the shared modules, ``xmlrpc``, ``client``, ``hub``.
Must never import it: anything but ``cli`` and the top-level lazy export of ``Bridge``.
"""

from __future__ import annotations

from .api import Bridge, serve_stdio

__all__ = ["Bridge", "serve_stdio"]

Bridge.__module__ = serve_stdio.__module__ = __name__  # their public home
