"""A runnable SAMP 1.3 Standard Profile hub.

``Hub`` serves :class:`~minisamp.hub_service.HubService` over XML-RPC, owns the
lockfile, and delivers callbacks to clients through per-recipient queues drained by
a bounded pool of worker threads (so each client gets its messages in order, and a
slow client slows nobody else)::

    with Hub(lockfile=tmp_path / "samp") as hub:
        print(hub.url, hub.lockfile)

or from the command line: ``minisamp hub`` (``python -m minisamp hub``).
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..datatypes import SampValue
from ..errors import SAMPHubError, SAMPProxyError, TransportError
from ..lockfile import (
    LockInfo,
    claim_lockfile,
    file_url_to_path,
    hub_lockfile_path,
    release_lockfile,
)
from ..xmlrpc.server import DEFAULT_MAX_BODY, XmlRpcServer
from ..xmlrpc.transport import XmlRpcProxy
from .service import HUB_ID, SERVICE_METHODS, ClientRecord, HubService

if TYPE_CHECKING:
    from .web.profile import ConsentHook, MTypeRestriction, WebProfile

__all__ = ["Hub"]

logger = logging.getLogger(__name__)

#: Seconds a client has to accept a callback before the delivery counts as failed.
DELIVERY_TIMEOUT = 60.0
#: Seconds between checks that clients owing replies still listen (0: no checks).
PROBE_INTERVAL = 1.0

# samp.hub.<name> → (HubService method name, accepted argument counts)
_STANDARD_METHODS: dict[str, tuple[str, tuple[int, ...]]] = {
    "register": ("register", (1,)),
    "setXmlrpcCallback": ("set_xmlrpc_callback", (2,)),
    **SERVICE_METHODS,
}

_UNREACHABLE = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError)


def _is_unreachable(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(cause, _UNREACHABLE) or "connection refused" in str(exc)


def _nothing_listens(url: str, timeout: float = 1.0) -> bool:
    """True only if a connection to *url*'s host and port is refused: its process is gone."""
    try:
        parts = urllib.parse.urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):  # slow, or unresolvable: the call's own timeout decides
        return False


class DeliveryPool:
    """Per-recipient FIFO queues drained by a fixed set of named daemon threads.

    An idle worker waits on a condition of its own; new work wakes the worker that
    went idle last (its connections and caches are warm), and only that one.
    """

    def __init__(self, send: Callable[[str, Any], None], workers: int, name: str) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque[Any]] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._idle: list[threading.Condition] = []  # waiting workers, the latest last
        self._settled = threading.Condition(self._lock)  # a target's queue ran dry
        self._busy = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-deliver-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, target: str, item: Any) -> None:
        """Queue *item* for *target*; items for one target are sent one at a time, in order."""
        with self._lock:
            queue = self._queues.get(target)
            if queue is None:
                self._queues[target] = collections.deque([item])
                self._ready.append(target)
                if self._idle:
                    self._idle.pop().notify()
            else:
                queue.append(item)

    def discard(self, target: str) -> None:
        """Forget what is still queued for *target*."""
        with self._lock:
            queue = self._queues.get(target)
            if queue is not None:
                queue.clear()

    def _work(self) -> None:
        wakeup = threading.Condition(self._lock)
        while True:
            with self._lock:
                while not self._ready and not self._closed:
                    self._idle.append(wakeup)
                    wakeup.wait()  # submit() or close() takes it off the idle list
                if not self._ready:
                    return
                target = self._ready.popleft()
                self._busy += 1
            self._drain(target)

    def _drain(self, target: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[target]
                if not queue:
                    del self._queues[target]
                    self._busy -= 1
                    self._settled.notify_all()
                    return
                item = queue.popleft()
            try:
                self._send(target, item)
            except Exception:
                logger.exception("delivery to %s failed unexpectedly", target)

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent; False if *timeout* ran out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queues or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (after the item each is sending) and join them."""
        with self._lock:
            self._closed = True
            for queue in self._queues.values():
                queue.clear()
            self._ready.clear()
            idle, self._idle = self._idle, []
            for wakeup in idle:
                wakeup.notify()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)


class Hub:
    """A SAMP Standard Profile hub, started in threads of this process.

    *lockfile* is where to write the lockfile (default: ``SAMP_HUB``'s
    ``std-lockurl:file:`` URL, else ``~/.samp``).  The hub binds *host* (127.0.0.1)
    on *port* (0: any free port).  Every *probe_interval* seconds it drops clients that
    owe a reply but no longer listen (0: never check), so their callers need not wait.

    With *web_profile*, it also serves the SAMP Web Profile to browser pages at
    ``http://127.0.0.1:<web_port>/`` (see :mod:`minisamp.web_profile`):
    *web_consent* decides each registration (None: refuse all), and
    *web_restrict_mtypes* limits what pages may send (True: JSAMP's safe list,
    False: nothing, or a list of MType patterns).
    """

    def __init__(
        self,
        lockfile: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secret: str | None = None,
        name: str = "Hub",
        workers: int = 16,
        max_body: int = DEFAULT_MAX_BODY,
        delivery_timeout: float = DELIVERY_TIMEOUT,
        probe_interval: float = PROBE_INTERVAL,
        max_sync_timeout: float | None = None,
        extra_lockfile_keys: Mapping[str, str] | None = None,
        web_profile: bool = False,
        web_port: int = 21012,
        web_consent: ConsentHook | None = None,
        web_restrict_mtypes: bool | Iterable[str] | MTypeRestriction = True,
    ) -> None:
        if lockfile is None:
            self.lockfile = hub_lockfile_path()
        elif str(lockfile).startswith("file:"):
            self.lockfile = file_url_to_path(str(lockfile))
        else:
            self.lockfile = Path(lockfile)
        self.lockfile = self.lockfile.absolute()
        self.secret = secret or secrets.token_hex(16)
        self._host, self._port = host, port
        self._name = name
        self._workers = workers
        self._max_body = max_body
        self._delivery_timeout = delivery_timeout
        self._probe_interval = probe_interval
        self._probing = threading.Event()
        self._prober: threading.Thread | None = None
        self._extra_keys = dict(extra_lockfile_keys or {})
        metadata: dict[str, SampValue] = {
            "samp.name": name,
            "samp.description.text": "SAMP hub (minisamp, standard profile)",
            "samp.documentation.url": "https://pypi.org/project/minisamp/",
            "author.name": "The minisamp developers",
            "hub.version": __version__,
        }
        kwargs: dict[str, Any] = {}
        if max_sync_timeout is not None:
            kwargs["max_sync_timeout"] = max_sync_timeout
        self.service = HubService(self.secret, self._deliver, hub_metadata=metadata, **kwargs)
        self.service.on_unregister = self._forget
        self._server: XmlRpcServer | None = None
        self._pool: DeliveryPool | None = None
        self._proxies: dict[str, XmlRpcProxy] = {}
        self._proxies_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._running = False
        self._stopped = False
        self._web_options: dict[str, Any] | None = None
        if web_profile:
            self._web_options = {
                "port": web_port,
                "consent": web_consent,
                "restrict_mtypes": web_restrict_mtypes,
            }
        self._web: WebProfile | None = None

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> Hub:
        """Serve, write the lockfile, return self. Raises SAMPHubError if a hub already runs."""
        with self._state_lock:
            if self._running:
                raise SAMPHubError("this hub is already running")
            if self._stopped:
                raise SAMPHubError("a stopped hub cannot be restarted: create a new Hub")
            try:
                self._server = XmlRpcServer(
                    self._dispatch,
                    host=self._host,
                    port=self._port,
                    name="minisamp-hub",
                    max_body=self._max_body,
                )
            except OSError as exc:
                raise SAMPHubError(
                    f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc} "
                    "(is another hub using it? choose another port, or 0 for any free one)"
                ) from exc
            self._pool = DeliveryPool(self._send, self._workers, "minisamp-hub")
            info = LockInfo(self.secret, self._server.url, "1.3", self._lock_extras())
            try:
                self._web = self._make_web_profile()
                claim_lockfile(self.lockfile, info)
            except BaseException:
                if self._web is not None:
                    self._web.stop()
                self._pool.close()
                self._server.close()
                raise
            self._server.start()
            if self._web is not None:
                self._web.start()
            if self._probe_interval > 0:
                self._prober = threading.Thread(
                    target=self._probe, name="minisamp-hub-probe", daemon=True
                )
                self._prober.start()
            self._running = True
        atexit.register(self.stop)
        logger.info("hub running at %s, lockfile %s", self._server.url, self.lockfile)
        return self

    def _make_web_profile(self) -> WebProfile | None:
        if self._web_options is None:
            return None
        from .web.profile import WebProfile

        port = self._web_options["port"]
        try:
            return WebProfile(self.service, **self._web_options)
        except OSError as exc:
            raise SAMPHubError(
                f"cannot serve the Web Profile on port {port}: {exc.strerror or exc} "
                "(is another hub running? choose web_port, or turn web_profile off)"
            ) from exc

    def _lock_extras(self) -> dict[str, str]:
        extras = {"hub.impl": "minisamp", "hub.version": __version__, "hub.pid": str(os.getpid())}
        extras.update(self._extra_keys)
        return extras

    def stop(self, timeout: float = 2.0) -> None:
        """Broadcast ``samp.hub.event.shutdown``, stop serving, remove the lockfile. Idempotent."""
        with self._state_lock:
            if not self._running:
                return
            self._running = False
            self._stopped = True
        atexit.unregister(self.stop)
        assert self._pool is not None and self._server is not None
        self._probing.set()
        if self._prober is not None:
            self._prober.join(timeout)
        self.service.shutdown()
        if not self._pool.flush(timeout):
            logger.warning("some clients did not take the shutdown event within %s s", timeout)
        release_lockfile(self.lockfile, self.secret)
        if self._web is not None:
            self._web.stop(timeout)
        self._server.close()
        self._pool.close()
        with self._proxies_lock:
            proxies, self._proxies = self._proxies, {}
        for proxy in proxies.values():
            proxy.close()
        logger.info("hub stopped")

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    @property
    def url(self) -> str:
        """The hub's XML-RPC URL (as written in the lockfile)."""
        if self._server is None:
            raise SAMPHubError("the hub is not started")
        return self._server.url

    @property
    def lock_url(self) -> str:
        """The lockfile as a URL; ``SAMP_HUB=std-lockurl:<this>`` points clients here."""
        return self.lockfile.as_uri()

    @property
    def environ(self) -> dict[str, str]:
        """``{"SAMP_HUB": "std-lockurl:…"}``: the environment a client needs to find this hub."""
        return {"SAMP_HUB": f"std-lockurl:{self.lock_url}"}

    @property
    def params(self) -> dict[str, str]:
        """The lockfile's keys and values (as pyvo's ``SAMPHubServer.params``)."""
        return {
            "samp.secret": self.secret,
            "samp.hub.xmlrpc.url": self.url,
            "samp.profile.version": "1.3",
            **self._lock_extras(),
        }

    @property
    def web_url(self) -> str | None:
        """The Web Profile's XML-RPC URL (``http://127.0.0.1:<port>/``), or None if off."""
        return None if self._web is None else self._web.url

    @property
    def hub_id(self) -> str:
        """The hub's own public client id."""
        return HUB_ID

    # -- Standard Profile XML-RPC ------------------------------------------------------

    def _dispatch(self, method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
        name = method[len("samp.hub.") :] if method.startswith("samp.hub.") else None
        entry = _STANDARD_METHODS.get(name) if name else None
        if entry is None:
            raise SAMPProxyError(1, f"No such method {method!r} on this SAMP hub")
        attr, arities = entry
        if len(params) not in arities:
            wanted = " or ".join(str(n) for n in arities)
            raise SAMPProxyError(1, f"{method} takes {wanted} arguments, not {len(params)}")
        if name in ("notify", "notifyAll", "call", "callAll", "callAndWait"):
            logger.info("%s from %s", method, client[0])
        if params and self._web is not None and self._web.owns_key(params[0]):
            raise SAMPProxyError(5, "Web Profile keys are only valid at the Web Profile endpoint")
        return getattr(self.service, attr)(*params)

    # -- delivery ----------------------------------------------------------------------

    def _deliver(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        if record.profile == "web":
            if self._web is not None:
                self._web.deliver(record, method, args)  # into its pullCallbacks queue
            return
        if self._pool is None or record.callback_url is None:
            return
        self._pool.submit(record.public_id, (record, method, args))

    def _proxy(self, record: ClientRecord) -> XmlRpcProxy:
        with self._proxies_lock:
            proxy = self._proxies.get(record.public_id)
            if proxy is None or proxy.url != record.callback_url:
                assert record.callback_url is not None
                proxy = XmlRpcProxy(record.callback_url, timeout=self._delivery_timeout)
                self._proxies[record.public_id] = proxy
            return proxy

    def _send(self, target: str, item: tuple[ClientRecord, str, tuple[SampValue, ...]]) -> None:
        record, method, args = item
        try:
            self._proxy(record).call(f"samp.client.{method}", record.private_key, *args)
        except SAMPProxyError as exc:
            logger.info("%s refused %s: %s", target, method, exc.faultString)
            self.service.delivery_failed(target, method, args, exc.faultString)
        except TransportError as exc:
            unreachable = _is_unreachable(exc)
            level = logging.WARNING if unreachable else logging.INFO
            logger.log(level, "cannot deliver %s to %s: %s", method, target, exc)
            self.service.delivery_failed(target, method, args, str(exc))
            if unreachable:
                assert self._pool is not None
                self._pool.discard(target)
                self.service.disconnect(target, "the hub cannot reach it")
        except Exception as exc:
            logger.warning("cannot deliver %s to %s: %s", method, target, exc)
            self.service.delivery_failed(target, method, args, str(exc))

    def _probe(self) -> None:
        """Drop clients that owe replies but have died, so their callers get samp.error now
        instead of waiting out their timeout (or, with callAndWait timeout 0, for hours)."""
        while not self._probing.wait(self._probe_interval):
            for record in self.service.overdue_recipients(self._probe_interval):
                url = record.callback_url
                if record.profile != "std" or url is None or not _nothing_listens(url):
                    continue
                logger.warning("%s owes replies but nothing listens at %s", record.public_id, url)
                assert self._pool is not None
                self._pool.discard(record.public_id)
                self.service.disconnect(record.public_id, "the hub cannot reach it")

    def _forget(self, target: str) -> None:
        if self._web is not None:
            self._web.forget(target)
        with self._proxies_lock:
            proxy = self._proxies.pop(target, None)
        if proxy is not None:
            proxy.close()
