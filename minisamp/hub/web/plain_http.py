"""The Web Profile's plain-HTTP face: who may connect, CORS, the policy file, the translator.

Everything a browser meets on the Web Profile port besides the ``samp.webhub.*``
XML-RPC calls: only peers on this machine are served (:func:`is_local_address`),
CORS headers echo a well-formed ``Origin`` and answer preflights and Private Network
Access, ``/crossdomain.xml`` and ``/clientaccesspolicy.xml`` are the Flash- and
Silverlight-era policy files pages still ask for, and a
``GET`` under :data:`TRANSLATOR_PATH` is the URL translator, which the access log
never shows in full (each path holds a private key).

:class:`WebHttpServer` holds these as the :class:`~minisamp.xmlrpc.server.XmlRpcServer`
hooks; :class:`~minisamp.hub.web.profile.WebProfile` builds on it and tells it which
page a translator key belongs to (:meth:`WebHttpServer.page_by_key`).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import urllib.parse
from typing import Any

from ...xmlrpc.server import XmlRpcServer
from .pages import WebClient
from .translator import serve_url

__all__ = ["TRANSLATOR_PATH", "WebHttpServer", "is_local_address"]

logger = logging.getLogger(__name__)

#: Where the URL translator is served: ``<TRANSLATOR_PATH><private key>?<quoted URL>``.
TRANSLATOR_PATH = "/translator/"
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,]+\Z")
_CROSSDOMAIN = b"""<?xml version="1.0"?>
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="all"/>
  <allow-access-from domain="*"/>
  <allow-http-request-headers-from domain="*" headers="*"/>
</cross-domain-policy>
"""
# Silverlight's policy file, served as pyvo's hub does (JSAMP can, off by default).
_CLIENTACCESSPOLICY = b"""<?xml version="1.0" encoding="utf-8"?>
<access-policy>
  <cross-domain-access>
    <policy>
      <allow-from http-request-headers="*">
        <domain uri="*"/>
      </allow-from>
      <grant-to>
        <resource path="/" include-subpaths="true"/>
      </grant-to>
    </policy>
  </cross-domain-access>
</access-policy>
"""


def is_local_address(host: str) -> bool:
    """True if *host* (a peer's IP address) is this machine's loopback."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class WebHttpServer(XmlRpcServer):
    """An XML-RPC server with the Web Profile's HTTP rules (local peers, CORS, translator)."""

    def page_by_key(self, key: str) -> WebClient | None:
        """The registered page whose private key is *key*, or None (the profile knows)."""
        raise NotImplementedError

    def admit(self, client_address: tuple[str, int]) -> bool:
        """Serve only peers on this machine (the others get 403 before their body is read)."""
        if is_local_address(str(client_address[0])):
            return True
        logger.warning("refused a Web Profile request from %s", client_address[0])
        return False

    def redact(self, line: str) -> str:
        """Hide the translator paths in the access log: each holds a private key."""
        if TRANSLATOR_PATH in line:
            line = re.sub(re.escape(TRANSLATOR_PATH) + r"\S*", TRANSLATOR_PATH + "…", line)
        return line

    def extra_headers(self, handler: Any) -> dict[str, str]:
        """CORS headers: echo a well-formed ``Origin``, answer Private Network Access."""
        headers: dict[str, str] = {}
        origin = handler.headers.get("Origin")
        if origin is not None and (origin == "null" or _ORIGIN.match(origin)):
            headers["Access-Control-Allow-Origin"] = origin
            headers["Vary"] = "Origin"
        if handler.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        return headers

    def handle_options(self, handler: Any) -> None:
        """Answer a CORS preflight: POST (and GET) with a Content-Type header are fine."""
        if handler.headers.get("Access-Control-Request-Method") is None:
            super().handle_options(handler)
            return
        handler.send_response(200)
        for name, value in self.extra_headers(handler).items():
            handler.send_header(name, value)
        handler.send_header("Access-Control-Allow-Methods", "POST, GET")
        handler.send_header("Access-Control-Allow-Headers", "Content-Type")
        handler.send_header("Access-Control-Max-Age", "600")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def handle_get(self, handler: Any) -> None:
        """The two policy files and the URL translator; 404 for anything else."""
        path: str = handler.path
        if path == "/crossdomain.xml":
            handler.send_body(200, _CROSSDOMAIN, "text/x-cross-domain-policy")
        elif path == "/clientaccesspolicy.xml":
            handler.send_body(200, _CLIENTACCESSPOLICY, "text/xml")
        elif path.startswith(TRANSLATOR_PATH):
            self._translate(handler, path[len(TRANSLATOR_PATH) :])
        else:
            super().handle_get(handler)

    def _translate(self, handler: Any, rest: str) -> None:
        key, _, quoted = rest.partition("?")
        client = self.page_by_key(urllib.parse.unquote(key))
        if client is None:
            handler.send_error_text(403, "unknown or expired Web Profile private key")
            return
        target = urllib.parse.unquote(quoted)
        if not client.urls.may_translate(target):
            logger.warning("translator: %s asked for a URL it was never sent", client.public_id)
            handler.send_error_text(403, "this URL has not been sent to you in SAMP messages")
            return
        serve_url(handler, target, self.extra_headers(handler))
