"""The SAMP 1.3 Web Profile (SAMP §5): web pages as clients of a :class:`~minisamp.hub.Hub`.

Off by default; ``Hub(web_profile=True, web_consent=hook)`` turns it on.  The hub
then also serves XML-RPC at ``http://127.0.0.1:21012/`` (*web_port*), the
``samp.webhub.*`` methods: the Standard Profile's hub API with the private key
first, except that ``register`` takes an identity map instead of the secret,
``allowReverseCallbacks`` replaces ``setXmlrpcCallback``, and ``pullCallbacks``
long-polls for the callbacks a page cannot receive itself.  Routing is the same
:class:`~minisamp.hub.service.HubService` as for standard clients.

Any page in the user's browser can reach this port, so every piece here is a
guard (``docs/web-profile.md`` has the whole model):

* only connections from the local host are served (403 otherwise);
* registering needs the user's consent: ``web_consent(WebRegistrationRequest)``,
  run in the registering request's thread only; no hook means refuse;
* web clients may send only the MTypes of a safe list, unless the recipient marks
  its subscription ``x-samp.mostly-harmless`` (:class:`MTypeRestriction`);
* the URL translator (``samp.url-translator``) serves a URL only to the client
  whose private key is in its path, and only if a non-web client sent that URL to it
  in a message or a response, and no page ever mentioned it (JSAMP's rule,
  :class:`~minisamp.hub.web.translator.UrlTracker`); never the hub's lockfile.

This module is the ``samp.webhub.*`` side: the method table and dispatch, registration
with consent, reverse callbacks and their pulls, reaping, delivery to pages and the
MType restriction.  The rest of the package does the other jobs, and the names tests
and users import are re-exported here: consent (the request a hook sees, the stock
hooks) is :mod:`~minisamp.hub.web.consent`; what is kept per page (callback queue,
record) is :mod:`~minisamp.hub.web.pages`; the plain-HTTP face (local peers only,
CORS, ``/crossdomain.xml``, the translator's ``GET``) is
:mod:`~minisamp.hub.web.plain_http`, whose :class:`~minisamp.hub.web.plain_http.WebHttpServer`
:class:`WebProfile` extends; the URL translator is :mod:`~minisamp.hub.web.translator`.

Threads: the server's per-connection threads (a ``pullCallbacks`` holds one for at
most :data:`MAX_PULL_TIMEOUT`, less if the page goes away) and one reaper that
unregisters callable pages that stopped pulling; all named, daemon, joined by
:meth:`WebProfile.stop`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...datatypes import SampValue, decode_bool, decode_int
from ...errors import SampDataError, SAMPProxyError
from ...messages import best_match
from ..service import (
    FAULT_BAD_KEY,
    FAULT_GENERAL,
    SERVICE_METHODS,
    ClientRecord,
    HubService,
)
from .consent import (
    ConsentHook,
    WebRegistrationRequest,
    ask_consent,
    consent_policy,
    prompt_consent,
)
from .pages import STALE_AFTER, CallbackQueue, WebClient, peer_gone
from .plain_http import TRANSLATOR_PATH, WebHttpServer, is_local_address
from .translator import UrlTracker

__all__ = [
    "DEFAULT_SAFE_MTYPES",
    "MAX_PULL_TIMEOUT",
    "WEB_PORT",
    "ConsentHook",
    "MTypeRestriction",
    "WebProfile",
    "WebRegistrationRequest",
    "consent_policy",
    "is_local_address",
    "prompt_consent",
]

logger = logging.getLogger(__name__)

#: The Web Profile's well-known port (SAMP §5; pages look for the hub there).
WEB_PORT = 21012
#: Longest a ``pullCallbacks`` may wait, whatever it asks (JSAMP's client asks 600 s).
MAX_PULL_TIMEOUT = 600.0
#: The MTypes web clients may send by default (JSAMP's ``ListMessageRestriction``).
DEFAULT_SAFE_MTYPES = (
    "samp.app.*",
    "samp.msg.progress",
    "table.*",
    "image.*",
    "coord.*",
    "spectrum.*",
    "bibcode.*",
    "voresource.*",
    "coverage.*",
)

# samp.webhub.<name> -> (method, accepted argument counts): the profile's own methods
# (_OWN_METHODS, on WebProfile) first, then the HubService's (private key first).
_OWN_METHODS = ("register", "allowReverseCallbacks", "pullCallbacks")
_METHODS: dict[str, tuple[str, tuple[int, ...]]] = {
    "register": ("_register", (1,)),
    "allowReverseCallbacks": ("_allow_reverse_callbacks", (2,)),
    "pullCallbacks": ("_pull_callbacks", (2,)),
    **SERVICE_METHODS,
}


@dataclass(frozen=True)
class MTypeRestriction:
    """Which MTypes web clients may send: *allowed* patterns, unless the recipient says.

    With *honour_annotations*, a recipient's subscription annotation
    ``samp.mostly-harmless`` (or ``x-samp.mostly-harmless``) of ``"1"`` allows the
    MType and ``"0"`` blocks it, whatever the list says.
    """

    allowed: tuple[str, ...] = DEFAULT_SAFE_MTYPES
    honour_annotations: bool = True

    @classmethod
    def from_option(
        cls, option: bool | Iterable[str] | MTypeRestriction
    ) -> MTypeRestriction | None:
        """``True``: the default list; ``False``: no restriction; patterns: that list."""
        if isinstance(option, MTypeRestriction):
            return option
        if option is True:
            return cls()
        if option is False:
            return None
        return cls((option,) if isinstance(option, str) else tuple(option))

    def refusal(self, mtype: str, annotation: SampValue | None) -> str | None:
        """Why a web client may not send *mtype* to a recipient with *annotation*, or None."""
        if self.honour_annotations and isinstance(annotation, dict):
            harmless = annotation.get("samp.mostly-harmless")
            if harmless is None:
                harmless = annotation.get("x-samp.mostly-harmless")
            if harmless == "1":
                return None
            if harmless == "0":
                return (
                    f"MType {mtype} is blocked for Web Profile clients: "
                    "the recipient marks it samp.mostly-harmless=0"
                )
        if best_match(self.allowed, mtype) is not None:
            return None
        return (
            f"MType {mtype} is blocked for Web Profile clients: it is not in the hub's list "
            "of harmless MTypes, and the recipient does not mark it x-samp.mostly-harmless=1"
        )


class WebProfile(WebHttpServer):
    """The Web Profile endpoint of a hub: ``samp.webhub.*``, CORS, URL translator.

    Made and driven by :class:`~minisamp.hub.Hub`: it calls :meth:`deliver` for
    callbacks to ``profile="web"`` records and :meth:`forget` when one unregisters.
    Binding happens here (``OSError`` if the port is taken); :meth:`start` serves.
    """

    def __init__(
        self,
        service: HubService,
        *,
        port: int = WEB_PORT,
        host: str = "127.0.0.1",
        consent: ConsentHook | None = None,
        restrict_mtypes: bool | Iterable[str] | MTypeRestriction = True,
        stale_after: float = STALE_AFTER,
        protected_files: Iterable[Path] = (),
    ) -> None:
        super().__init__(self._dispatch, host=host, port=port, path="/", name="minisamp-web")
        self.service = service
        self.consent = consent
        self.restriction = MTypeRestriction.from_option(restrict_mtypes)
        self.stale_after = stale_after
        self.protected_files = tuple(protected_files)
        self.urls = UrlTracker()
        self._lock = threading.Lock()
        self._by_key: dict[str, WebClient] = {}
        self._by_id: dict[str, WebClient] = {}
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="minisamp-web-reaper", daemon=True)
        service.send_filter = self._send_filter

    def start(self) -> None:
        """Serve requests and start the reaper."""
        super().start()
        if not self._reaper.is_alive():
            self._reaper.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Give pages a moment to pull what is queued, wake every pull, join all threads."""
        self._stopping.set()
        with self._lock:
            clients = list(self._by_id.values())
        deadline = time.monotonic() + min(timeout, 1.0)
        for client in clients:
            if client.queue is not None:
                client.queue.wait_empty(deadline - time.monotonic())
        for client in clients:
            if client.queue is not None:
                client.queue.close()
        if self._reaper.is_alive():
            self._reaper.join(timeout)
        self.close(timeout)

    def owns_key(self, key: object) -> bool:
        """True if *key* is a web client's private key."""
        return isinstance(key, str) and key in self._by_key

    def page_by_key(self, key: str) -> WebClient | None:
        """The page a translator path's private key belongs to (None: unknown or gone)."""
        return self._by_key.get(key)

    def url_allowed(self, client: WebClient, url: str) -> bool:
        """Whether *client* may have *url* translated (see :class:`UrlTracker`)."""
        return self.urls.may_translate(client.public_id, url)

    # -- called by the hub ---------------------------------------------------------------

    def deliver(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        """Queue a callback for a web client's next ``pullCallbacks`` (never blocks)."""
        client = self._by_id.get(record.public_id)
        queue = client.queue if client is not None else None
        if client is None or queue is None:
            logger.info("dropped %s for %s: it does not pull callbacks", method, record.public_id)
            self.service.delivery_failed(record.public_id, method, args, "it is not callable")
            return
        if self._trusted(args[0] if args else None):
            # receiveNotification/receiveCall: the message; receiveResponse: the response
            self.urls.note_delivered(record.public_id, args[-1])
        if not queue.put({"samp.methodName": method, "samp.params": list(args)}):
            logger.warning("callback queue of %s is full: dropped %s", record.public_id, method)
            self.service.delivery_failed(record.public_id, method, args, "its queue is full")

    def forget(self, public_id: str) -> None:
        """A web client is gone: drop its state and wake its pulls."""
        with self._lock:
            client = self._by_id.pop(public_id, None)
            if client is not None:
                self._by_key.pop(client.private_key, None)
        if client is not None:
            self.urls.forget_page(public_id)
            if client.queue is not None:
                client.queue.close()

    def _trusted(self, sender_id: SampValue | None) -> bool:
        """True if *sender_id* is a client whose URLs a page may have translated: not the
        hub (it echoes what pages declared), not a web page."""
        return isinstance(sender_id, str) and self.service.profile_of(sender_id) == "std"

    def _send_filter(self, sender: ClientRecord, recipient: ClientRecord, mtype: str) -> str | None:
        if sender.profile != "web" or self.restriction is None:
            return None
        return self.restriction.refusal(mtype, recipient.subscription_for(mtype))

    # -- samp.webhub.* -------------------------------------------------------------------

    def _dispatch(self, method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        name = method[len("samp.webhub.") :] if method.startswith("samp.webhub.") else ""
        entry = _METHODS.get(name)
        if entry is None:
            raise SAMPProxyError(FAULT_GENERAL, f"No such method {method!r} on this SAMP web hub")
        attr, arities = entry
        if len(params) not in arities:
            wanted = " or ".join(str(n) for n in arities)
            raise SAMPProxyError(
                FAULT_GENERAL, f"{method} takes {wanted} arguments, not {len(params)}"
            )
        if name in _OWN_METHODS:
            return getattr(self, attr)(*params)
        if name == "ping":
            return ""
        web = self._client(params[0])
        if name == "declareSubscriptions" and web.queue is None:
            raise SAMPProxyError(
                FAULT_GENERAL, 'Client is not callable: call allowReverseCallbacks(key, "1") first'
            )
        self.urls.note_mentioned(list(params[1:]))
        result = getattr(self.service, attr)(*params)
        if name == "callAndWait" and self._trusted(params[1]):
            self.urls.note_delivered(web.public_id, result)
        return result

    def _client(self, key: Any) -> WebClient:
        client = self._by_key.get(key) if isinstance(key, str) else None
        if client is None:
            raise SAMPProxyError(
                FAULT_BAD_KEY, "Unknown or expired Web Profile key: register again"
            )
        return client

    def _register(self, identity: Any) -> dict[str, SampValue]:
        self.urls.note_mentioned(identity)
        if isinstance(identity, str):
            logger.info("deprecated web register(name) call: identity-info should be a map")
            identity = {"samp.name": identity}
        name = identity.get("samp.name") if isinstance(identity, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise SAMPProxyError(FAULT_GENERAL, "register needs a map holding samp.name")
        request = self._registration_request(name, identity)
        if not ask_consent(self.consent, request):
            raise SAMPProxyError(
                FAULT_GENERAL, f"Registration of {request.display_name!r} refused by the hub's user"
            )
        if self._stopping.is_set():
            raise SAMPProxyError(FAULT_GENERAL, "the hub is shutting down")
        reg = self.service.register("", profile="web")
        key, public_id = str(reg["samp.private-key"]), str(reg["samp.self-id"])
        with self._lock:
            self._by_key[key] = self._by_id[public_id] = WebClient(public_id, key, request)
        reg["samp.url-translator"] = f"{self.url}{TRANSLATOR_PATH[1:]}{key}?"
        logger.info("web client %s registered as %r from %s", public_id, name, request.origin)
        return reg

    def _registration_request(self, name: str, identity: dict[str, Any]) -> WebRegistrationRequest:
        handler = self.current_handler()
        headers = handler.headers if handler is not None else {}
        address = str(handler.client_address[0]) if handler is not None else ""
        return WebRegistrationRequest(
            name, headers.get("Origin"), headers.get("Referer"), address, identity
        )

    def _allow_reverse_callbacks(self, key: Any, flag: Any) -> str:
        client = self._client(key)
        allow = isinstance(flag, str) and decode_bool(flag)
        if allow and client.queue is None:
            client.queue = CallbackQueue()
            self.service.make_callable(key, True)
        elif not allow and client.queue is not None:
            self.service.make_callable(key, False)
            queue, client.queue = client.queue, None
            queue.close()
        return ""

    def _pull_callbacks(self, key: Any, timeout: Any) -> list[SampValue]:
        queue = self._client(key).queue
        if queue is None:
            raise SAMPProxyError(
                FAULT_GENERAL, 'Client is not callable: call allowReverseCallbacks(key, "1") first'
            )
        try:
            seconds = float(decode_int(str(timeout)))
        except SampDataError:
            raise SAMPProxyError(
                FAULT_GENERAL, f"timeout must be a SAMP int: {timeout!r}"
            ) from None
        if seconds < 0 or seconds > MAX_PULL_TIMEOUT:
            seconds = MAX_PULL_TIMEOUT
        handler = self.current_handler()
        sock = handler.connection if handler is not None else None
        return queue.pull(seconds, lambda: sock is not None and peer_gone(sock))

    def _reap(self) -> None:
        while not self._stopping.wait(min(1.0, self.stale_after / 4)):
            with self._lock:
                clients = list(self._by_id.values())
            for client in clients:
                queue = client.queue
                if queue is not None and queue.idle_for() > self.stale_after:
                    self.service.disconnect(client.public_id, "it stopped pulling callbacks")
