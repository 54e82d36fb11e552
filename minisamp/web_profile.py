"""The SAMP 1.3 Web Profile (SAMP §5): web pages as clients of a :class:`~minisamp.hub.Hub`.

Off by default; ``Hub(web_profile=True, web_consent=hook)`` turns it on.  The hub
then also serves XML-RPC at ``http://127.0.0.1:21012/`` (*web_port*), the
``samp.webhub.*`` methods: the Standard Profile's hub API with the private key
first, except that ``register`` takes an identity map instead of the secret,
``allowReverseCallbacks`` replaces ``setXmlrpcCallback``, and ``pullCallbacks``
long-polls for the callbacks a page cannot receive itself.  Routing is the same
:class:`~minisamp.hub_service.HubService` as for standard clients.

Any page in the user's browser can reach this port, so every piece here is a
guard (``docs/web-profile.md`` has the whole model):

* only connections from the local host are served (403 otherwise);
* registering needs the user's consent: ``web_consent(WebRegistrationRequest)``,
  run in the registering request's thread only; no hook means refuse;
* web clients may send only the MTypes of a safe list, unless the recipient marks
  its subscription ``x-samp.mostly-harmless`` (:class:`MTypeRestriction`);
* the URL translator (``samp.url-translator``) serves a URL only to the client
  whose private key is in its path, and only if that URL reached the client in SAMP
  traffic (and the client did not send it first).

Threads: the server's per-connection threads (a ``pullCallbacks`` holds one for at
most :data:`MAX_PULL_TIMEOUT`, less if the page goes away) and one reaper that
unregisters callable pages that stopped pulling; all named, daemon, joined by
:meth:`WebProfile.stop`.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import logging
import mimetypes
import os
import re
import select
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, cast

from .datatypes import SampValue, decode_bool, decode_int
from .errors import SampDataError, SAMPProxyError
from .hub_service import FAULT_BAD_KEY, FAULT_GENERAL, ClientRecord, HubService
from .lockfile import file_url_to_path
from .messages import best_match
from .xmlrpc_server import XmlRpcServer, _RequestHandler

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
#: Callbacks queued for one page that has not pulled them (as JSAMP).
QUEUE_CAPACITY = 4096
#: A callable page that has not pulled callbacks for this long is unregistered.
STALE_AFTER = 600.0
#: URLs remembered per page for the translator (oldest forgotten first).
MAX_TRACKED_URLS = 10_000
#: Seconds allowed to the remote server of an ``http(s):`` URL being translated.
FETCH_TIMEOUT = 30.0
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

_TRANSLATOR = "/translator/"
_CHUNK = 64 * 1024
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,]+\Z")
_URL = re.compile(r"(?i)(https?://|ftp://|file:)\S+\Z")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_TYPES = {".vot": "application/x-votable+xml", ".votable": "application/x-votable+xml"}
_TYPES.update(dict.fromkeys((".fits", ".fit", ".fts"), "application/fits"))
_CROSSDOMAIN = b"""<?xml version="1.0"?>
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="all"/>
  <allow-access-from domain="*"/>
  <allow-http-request-headers-from domain="*" headers="*"/>
</cross-domain-policy>
"""

# samp.webhub.<name> -> (method, accepted argument counts): the profile's own methods
# (_OWN_METHODS, on WebProfile) first, then the HubService's (private key first).
_OWN_METHODS = ("register", "allowReverseCallbacks", "pullCallbacks")
_METHODS: dict[str, tuple[str, tuple[int, ...]]] = {
    "register": ("_register", (1,)),
    "allowReverseCallbacks": ("_allow_reverse_callbacks", (2,)),
    "pullCallbacks": ("_pull_callbacks", (2,)),
    "unregister": ("unregister", (1,)),
    "ping": ("ping", (0, 1)),
    "declareMetadata": ("declare_metadata", (2,)),
    "getMetadata": ("get_metadata", (2,)),
    "declareSubscriptions": ("declare_subscriptions", (2,)),
    "getSubscriptions": ("get_subscriptions", (2,)),
    "getRegisteredClients": ("get_registered_clients", (1,)),
    "getSubscribedClients": ("get_subscribed_clients", (2,)),
    "notify": ("notify", (3,)),
    "notifyAll": ("notify_all", (2,)),
    "call": ("call", (4,)),
    "callAll": ("call_all", (3,)),
    "callAndWait": ("call_and_wait", (4,)),
    "reply": ("reply", (3,)),
}


@dataclass(frozen=True)
class WebRegistrationRequest:
    """A page's request to register, as the consent hook sees it.

    Only *address* is established by the hub; *name* is whatever the page claims,
    and *origin*/*referer* are what the browser sent (None when absent).
    """

    name: str
    origin: str | None
    referer: str | None
    address: str
    identity: Mapping[str, SampValue] = field(default_factory=dict)

    def describe(self) -> str:
        """Lines for a consent dialog, with control characters made harmless."""
        return (
            f"  Name:    {_printable(self.name)}  (claimed by the page, not verified)\n"
            f"  Origin:  {_printable(self.origin or '(not sent)')}\n"
            f"  Referer: {_printable(self.referer or '(not sent)')}\n"
        )


ConsentHook = Callable[[WebRegistrationRequest], bool]


def _printable(text: str, limit: int = 200) -> str:
    return _UNPRINTABLE.sub("?", text[:limit])


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


def is_local_address(host: str) -> bool:
    """True if *host* (a peer's IP address) is this machine's loopback."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


# -- consent helpers (for ``minisamp hub --web --web-auth prompt|allow|deny``) -----------

_PROMPT_LOCK = threading.Lock()


def prompt_consent(
    request: WebRegistrationRequest, *, timeout: float = 60.0, tty: str = "/dev/tty"
) -> bool:
    """Ask y/N on the controlling terminal whether *request* may register.

    False unless "y" or "yes" is typed within *timeout* seconds; also False when
    there is no terminal.  Prompts are serialized: a second request waits (within its
    own timeout) for the first prompt to be answered.
    """
    deadline = time.monotonic() + timeout
    if not _PROMPT_LOCK.acquire(timeout=max(timeout, 0.0)):
        logger.warning("refused web registration of %r: another prompt is pending", request.name)
        return False
    try:
        try:
            fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            logger.warning("cannot ask for web consent (no terminal: %s): refusing", exc)
            return False
        try:
            with contextlib.suppress(ImportError, OSError):
                import termios

                termios.tcflush(fd, termios.TCIFLUSH)  # no type-ahead answers for us
            left = max(0, round(deadline - time.monotonic()))
            os.write(fd, _prompt_text(request, left).encode("ascii", "replace"))
            answer = _read_line(fd, deadline)
            if answer is None:
                os.write(fd, b"\n(no answer in time: refused)\n")
                return False
            return answer.strip().lower() in ("y", "yes")
        finally:
            os.close(fd)
    finally:
        _PROMPT_LOCK.release()


def _prompt_text(request: WebRegistrationRequest, seconds: int) -> str:
    return (
        "\nA web page asks to register with the SAMP hub:\n"
        + request.describe()
        + "If you allow it, the page can message your SAMP applications and read\n"
        "the files they send to it.  Only allow pages you trust.\n"
        f"Allow? [y/N] (refused in {seconds} s) "
    )


def _read_line(fd: int, deadline: float) -> str | None:
    data = b""
    while b"\n" not in data and len(data) < 1024:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        data += chunk
    return data.decode("ascii", "replace")


def _allow(request: WebRegistrationRequest) -> bool:
    logger.info("web registration of %r allowed without asking", request.name)
    return True


def _deny(request: WebRegistrationRequest) -> bool:
    logger.info("web registration of %r refused by policy", request.name)
    return False


def consent_policy(name: str) -> ConsentHook:
    """The consent hook for a policy name: ``prompt``, ``allow`` or ``deny``."""
    policies: dict[str, ConsentHook] = {"prompt": prompt_consent, "allow": _allow, "deny": _deny}
    try:
        return policies[name]
    except KeyError:
        raise ValueError(
            f"unknown web consent policy {name!r}: use prompt, allow or deny"
        ) from None


# -- per-page state ---------------------------------------------------------------------


class _CallbackQueue:
    """The callbacks waiting for one page's ``pullCallbacks``."""

    def __init__(self, capacity: int = QUEUE_CAPACITY) -> None:
        self._cond = threading.Condition()
        self._items: list[dict[str, SampValue]] = []
        self._capacity = capacity
        self._closed = False
        self._pullers = 0
        self._last_pull = time.monotonic()

    def put(self, callback: dict[str, SampValue]) -> bool:
        """Queue *callback* and wake a puller; False if the queue is full or closed."""
        with self._cond:
            if self._closed or len(self._items) >= self._capacity:
                return False
            self._items.append(callback)
            self._cond.notify_all()
            return True

    def pull(self, timeout: float, gone: Callable[[], bool]) -> list[SampValue]:
        """Everything queued, once there is something, or [] after *timeout* or :meth:`close`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._pullers += 1
            try:
                while not self._items and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0 or gone():
                        return []
                    self._cond.wait(min(left, 1.0))
                items, self._items = self._items, []
                return list(items)
            finally:
                self._pullers -= 1
                self._last_pull = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since anyone last waited in :meth:`pull` (0 while someone does)."""
        with self._cond:
            return 0.0 if self._pullers else time.monotonic() - self._last_pull

    def wait_empty(self, timeout: float) -> None:
        """Wait (at most *timeout*) until the queue has been pulled empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items and not self._closed and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(min(left, 0.05))

    def close(self) -> None:
        """Drop what is queued and wake every puller."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


@dataclass
class _WebClient:
    """One registered page: its identity, callback queue and translatable URLs."""

    public_id: str
    private_key: str
    request: WebRegistrationRequest
    queue: _CallbackQueue | None = None
    permitted: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)
    blocked: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_incoming(self, value: SampValue) -> None:
        """URLs in *value* reached the page: it may have them translated."""
        with self.lock:
            for url in _urls_in(value):
                if url not in self.blocked:
                    _remember(self.permitted, url)

    def note_outgoing(self, value: SampValue) -> None:
        """URLs in *value* come from the page: never translate them unless already allowed."""
        with self.lock:
            for url in _urls_in(value):
                if url not in self.permitted:
                    _remember(self.blocked, url)

    def may_translate(self, url: str) -> bool:
        with self.lock:
            return url in self.permitted


def _remember(urls: collections.OrderedDict[str, None], url: str) -> None:
    urls[url] = None
    urls.move_to_end(url)
    while len(urls) > MAX_TRACKED_URLS:
        urls.popitem(last=False)


def _urls_in(value: SampValue) -> Iterator[str]:
    stack: list[SampValue] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _URL.match(item.strip()):
                yield item.strip()
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def _peer_gone(sock: socket.socket) -> bool:
    """True if the peer of *sock* has closed its end (a page that went away)."""
    try:
        if not select.select([sock], [], [], 0)[0]:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


# -- the HTTP side ----------------------------------------------------------------------


class _WebRequestHandler(_RequestHandler):
    """Refuses non-local peers before reading anything; remembers itself for dispatch."""

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        owner = cast(WebProfile, self.server.owner)
        if not is_local_address(str(self.client_address[0])):
            logger.warning("refused a Web Profile request from %s", self.client_address[0])
            self._error(403, "Access to this SAMP hub from non-local hosts is not permitted")
            return False
        owner._local.handler = self
        return True

    def log_message(self, format: str, *args: Any) -> None:
        text = format % args
        if _TRANSLATOR in text:  # the path holds a private key: never log it
            text = re.sub(re.escape(_TRANSLATOR) + r"\S*", _TRANSLATOR + "…", text)
        logger.debug("%s - %s", self.address_string(), text)


class WebProfile(XmlRpcServer):
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
    ) -> None:
        super().__init__(self._dispatch, host=host, port=port, path="/", name="minisamp-web")
        self._server.RequestHandlerClass = _WebRequestHandler
        self.service = service
        self.consent = consent
        self.restriction = MTypeRestriction.from_option(restrict_mtypes)
        self.stale_after = stale_after
        self._local = threading.local()
        self._lock = threading.Lock()
        self._by_key: dict[str, _WebClient] = {}
        self._by_id: dict[str, _WebClient] = {}
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

    # -- called by the hub ---------------------------------------------------------------

    def deliver(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        """Queue a callback for a web client's next ``pullCallbacks`` (never blocks)."""
        client = self._by_id.get(record.public_id)
        queue = client.queue if client is not None else None
        if client is None or queue is None:
            logger.info("dropped %s for %s: it does not pull callbacks", method, record.public_id)
            self.service.delivery_failed(record.public_id, method, args, "it is not callable")
            return
        client.note_incoming(list(args))
        if not queue.put({"samp.methodName": method, "samp.params": list(args)}):
            logger.warning("callback queue of %s is full: dropped %s", record.public_id, method)
            self.service.delivery_failed(record.public_id, method, args, "its queue is full")

    def forget(self, public_id: str) -> None:
        """A web client is gone: drop its state and wake its pulls."""
        with self._lock:
            client = self._by_id.pop(public_id, None)
            if client is not None:
                self._by_key.pop(client.private_key, None)
        if client is not None and client.queue is not None:
            client.queue.close()

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
        for value in params[1:]:
            web.note_outgoing(value)
        result = getattr(self.service, attr)(*params)
        web.note_incoming(result)
        return result

    def _client(self, key: Any) -> _WebClient:
        client = self._by_key.get(key) if isinstance(key, str) else None
        if client is None:
            raise SAMPProxyError(
                FAULT_BAD_KEY, "Unknown or expired Web Profile key: register again"
            )
        return client

    def _register(self, identity: Any) -> dict[str, SampValue]:
        if isinstance(identity, str):
            logger.info("deprecated web register(name) call: identity-info should be a map")
            identity = {"samp.name": identity}
        name = identity.get("samp.name") if isinstance(identity, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise SAMPProxyError(FAULT_GENERAL, "register needs a map holding samp.name")
        request = self._registration_request(name, identity)
        if not self._consents(request):
            raise SAMPProxyError(
                FAULT_GENERAL, f"Registration of {_printable(name)!r} refused by the hub's user"
            )
        if self._stopping.is_set():
            raise SAMPProxyError(FAULT_GENERAL, "the hub is shutting down")
        reg = self.service.register("", profile="web")
        key, public_id = str(reg["samp.private-key"]), str(reg["samp.self-id"])
        with self._lock:
            self._by_key[key] = self._by_id[public_id] = _WebClient(public_id, key, request)
        reg["samp.url-translator"] = f"{self.url}{_TRANSLATOR[1:]}{key}?"
        logger.info("web client %s registered as %r from %s", public_id, name, request.origin)
        return reg

    def _registration_request(self, name: str, identity: dict[str, Any]) -> WebRegistrationRequest:
        handler = getattr(self._local, "handler", None)
        headers = handler.headers if handler is not None else {}
        address = str(handler.client_address[0]) if handler is not None else ""
        return WebRegistrationRequest(
            name, headers.get("Origin"), headers.get("Referer"), address, identity
        )

    def _consents(self, request: WebRegistrationRequest) -> bool:
        if self.consent is None:
            logger.warning("refused web registration of %r: no consent hook", request.name)
            return False
        try:
            return bool(self.consent(request))
        except Exception:
            logger.exception("the web consent hook failed: refusing %r", request.name)
            return False

    def _allow_reverse_callbacks(self, key: Any, flag: Any) -> str:
        client = self._client(key)
        allow = isinstance(flag, str) and decode_bool(flag)
        if allow and client.queue is None:
            client.queue = _CallbackQueue()
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
        handler = getattr(self._local, "handler", None)
        sock = handler.connection if handler is not None else None
        return queue.pull(seconds, lambda: sock is not None and _peer_gone(sock))

    def _reap(self) -> None:
        while not self._stopping.wait(min(1.0, self.stale_after / 4)):
            with self._lock:
                clients = list(self._by_id.values())
            for client in clients:
                queue = client.queue
                if queue is not None and queue.idle_for() > self.stale_after:
                    self.service.disconnect(client.public_id, "it stopped pulling callbacks")

    # -- plain HTTP: CORS, policy file, URL translator -----------------------------------

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
        """``/crossdomain.xml`` and the URL translator; 404 for anything else."""
        path: str = handler.path
        if path == "/crossdomain.xml":
            handler._send(200, _CROSSDOMAIN, "text/x-cross-domain-policy")
        elif path.startswith(_TRANSLATOR):
            self._translate(handler, path[len(_TRANSLATOR) :])
        else:
            super().handle_get(handler)

    def _translate(self, handler: Any, rest: str) -> None:
        key, _, quoted = rest.partition("?")
        client = self._by_key.get(urllib.parse.unquote(key))
        if client is None:
            handler._error(403, "unknown or expired Web Profile private key")
            return
        target = urllib.parse.unquote(quoted)
        if not client.may_translate(target):
            logger.warning("translator: %s asked for a URL it was never sent", client.public_id)
            handler._error(403, "this URL has not been sent to you in SAMP messages")
            return
        scheme = urllib.parse.urlsplit(target).scheme.lower()
        if scheme == "file":
            self._serve_file(handler, target)
        elif scheme in ("http", "https"):
            self._serve_remote(handler, target)
        else:
            handler._error(403, f"the translator does not serve {scheme}: URLs")

    def _serve_file(self, handler: Any, url: str) -> None:
        try:
            path = file_url_to_path(url)
            stream = open(path, "rb")  # noqa: SIM115 (_stream closes it)
        except ValueError:
            handler._error(403, "only local file: URLs are served")
            return
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            handler._error(404, "no such file")
            return
        except OSError:
            handler._error(403, "the hub cannot read this file")
            return
        suffix = path.suffix.lower()
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
        size = os.fstat(stream.fileno()).st_size
        self._stream(handler, stream, content_type or "application/octet-stream", size)

    def _serve_remote(self, handler: Any, url: str) -> None:
        try:
            response = urllib.request.urlopen(url, timeout=FETCH_TIMEOUT)
        except urllib.error.HTTPError as exc:
            exc.close()
            handler._error(502, f"the remote server answered HTTP {exc.code}")
            return
        except (OSError, ValueError) as exc:
            handler._error(502, f"cannot fetch the URL: {exc}")
            return
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isascii() and length.isdigit() else None
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        self._stream(handler, response, content_type, size)

    def _stream(self, handler: Any, stream: IO[bytes], content_type: str, size: int | None) -> None:
        with stream:
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            for name, value in self.extra_headers(handler).items():
                handler.send_header(name, value)
            if size is None:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            else:
                handler.send_header("Content-Length", str(size))
            handler.end_headers()
            try:
                complete = _copy(stream, handler.wfile, size)
            except OSError:
                complete = False  # the page went away, or the source failed
            if not complete:
                handler.close_connection = True


def _copy(source: IO[bytes], sink: Any, size: int | None) -> bool:
    """Copy *size* bytes (None: all) in chunks; False if *source* ended early."""
    left = size
    while left is None or left > 0:
        chunk = source.read(_CHUNK if left is None else min(_CHUNK, left))
        if not chunk:
            return left is None
        sink.write(chunk)
        if left is not None:
            left -= len(chunk)
    return True
