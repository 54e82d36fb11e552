"""The wire: XML-RPC over HTTP/1.1 on loopback, hardened, with deadlines.

Its one job is to carry calls, results and faults between processes; it knows no SAMP
role (no hub, no client, no MType).  ``codec`` turns bytes into calls, results and
faults and back (defusedxml, depth and size limits); ``transport`` makes outgoing calls
(:class:`~minisamp.xmlrpc.transport.XmlRpcProxy`: keep-alive, a timeout on every call);
``server`` answers incoming ones (:class:`~minisamp.xmlrpc.server.XmlRpcServer`:
loopback only, connection and body caps) over ``httpd``, its HTTP/1.1 side (requests,
keep-alive, connections and their threads); ``headers`` reads lines and header
blocks within ``http.server``'s limits, for both directions.

May import: the standard library, defusedxml, and the shared modules
(:mod:`minisamp.errors`, :mod:`minisamp.datatypes`).  Must never import: ``client``,
``hub``, ``tables``, the helpers or the command line.  This ``__init__`` imports
nothing, so that a client which only sends never loads the server.
"""
