"""A runnable SAMP 1.3 Standard Profile hub.

``Hub`` serves :class:`~minisamp.hub.service.HubService` over XML-RPC, owns the
lockfile, runs the Web Profile when asked, and hands the callbacks for Standard
Profile clients to :class:`~minisamp.hub.delivery.StandardDelivery` (per-recipient
queues, at most one callback in flight per client, each on a worker thread of its own:
each client gets its messages in order, and a slow or mute client delays only its
own).  No hub operation waits on a client's socket while it holds the hub's state, and
:meth:`Hub.stop` takes well under a second whatever the clients do::

    with Hub(lockfile=tmp_path / "samp") as hub:
        print(hub.url, hub.lockfile)

or from the command line: ``minisamp hub`` (``python -m minisamp hub``).
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..datatypes import SampValue
from ..errors import SAMPHubError, SAMPProxyError
from ..lockfile import (
    LockInfo,
    claim_lockfile,
    file_url_to_path,
    hub_lockfile_path,
    release_lockfile,
)
from ..version import __version__
from ..xmlrpc.server import DEFAULT_MAX_BODY, XmlRpcServer
from .delivery import DELIVERY_TIMEOUT, PROBE_INTERVAL, StandardDelivery
from .icon import ICON_PATH, icon_png
from .service import HUB_ID, SERVICE_METHODS, ClientRecord, HubService

if TYPE_CHECKING:
    from .web.profile import ConsentHook, MTypeRestriction, WebProfile

__all__ = ["SHUTDOWN_GRACE", "Hub"]

logger = logging.getLogger(__name__)

#: Seconds :meth:`Hub.stop` gives clients to take ``samp.hub.event.shutdown``.
SHUTDOWN_GRACE = 0.3

# samp.hub.<name> → (HubService method name, accepted argument counts)
_STANDARD_METHODS: dict[str, tuple[str, tuple[int, ...]]] = {
    "register": ("register", (1,)),
    "setXmlrpcCallback": ("set_xmlrpc_callback", (2,)),
    **SERVICE_METHODS,
}


class _StandardServer(XmlRpcServer):
    """The Standard Profile's server, which also serves the hub's icon."""

    def handle_get(self, handler: Any) -> None:
        if handler.path == ICON_PATH:
            handler.send_body(200, icon_png(), "image/png")
        else:
            super().handle_get(handler)


class Hub:
    """A SAMP Standard Profile hub, started in threads of this process.

    *lockfile* is where to write the lockfile (default: ``SAMP_HUB``'s
    ``std-lockurl:file:`` URL, else ``~/.samp``).  The hub binds *host* (127.0.0.1)
    on *port* (0: any free port).  Every *probe_interval* seconds it drops clients that
    owe a reply but no longer listen (0: never check), so their callers need not wait.
    A client has *delivery_timeout* seconds to take each callback (connect, send and
    answer together); *workers* delivery threads stay ready and more start while
    clients are slow, one per client with a callback in flight.
    A delivery the client answers with a fault is tried *delivery_retries* more times
    (pyvo's ``conf.n_retries``; default: none).

    With *web_profile*, it also serves the SAMP Web Profile to browser pages at
    ``http://127.0.0.1:<web_port>/`` (see :mod:`minisamp.hub.web.profile`):
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
        delivery_retries: int = 0,
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
        self._delivery_retries = delivery_retries
        self._probe_interval = probe_interval
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
        self._delivery: StandardDelivery | None = None
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
                self._server = _StandardServer(
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
            icon_url = self._server.url.removesuffix(self._server.path) + ICON_PATH
            self.service.hub.metadata["samp.icon.url"] = icon_url  # no client yet: no lock
            self._delivery = StandardDelivery(
                self.service,
                workers=self._workers,
                timeout=self._delivery_timeout,
                name="minisamp-hub",
                max_body=self._max_body,
                retries=self._delivery_retries,
            )
            info = LockInfo(self.secret, self._server.url, "1.3", self._lock_extras())
            try:
                self._web = self._make_web_profile()
                claim_lockfile(self.lockfile, info)
            except BaseException:
                if self._web is not None:
                    self._web.stop()
                self._delivery.close()
                self._server.close()
                raise
            self._server.start()
            if self._web is not None:
                self._web.start()
            if self._probe_interval > 0:
                self._delivery.start_probing(self._probe_interval)
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
            return WebProfile(self.service, protected_files=(self.lockfile,), **self._web_options)
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
        """Broadcast ``samp.hub.event.shutdown``, stop serving, remove the lockfile. Idempotent.

        Clients get :data:`SHUTDOWN_GRACE` seconds to take the event; then every
        connection is cut, so the whole stop takes at most *timeout* seconds.
        """
        with self._state_lock:
            if not self._running:
                return
            self._running = False
            self._stopped = True
        atexit.unregister(self.stop)
        assert self._delivery is not None and self._server is not None
        deadline = time.monotonic() + timeout

        def left(cap: float = timeout) -> float:
            return max(0.0, min(cap, deadline - time.monotonic()))

        self._delivery.stop_probing(0.0)
        self.service.shutdown()
        grace = time.monotonic() + min(SHUTDOWN_GRACE, timeout)
        if not (
            self._delivery.wait_sent(left(SHUTDOWN_GRACE))
            and self._delivery.flush(max(0.0, grace - time.monotonic()))
        ):
            logger.info("not every client took the shutdown event within %s s", SHUTDOWN_GRACE)
        release_lockfile(self.lockfile, self.secret)
        if self._web is not None:
            self._web.stop(left(SHUTDOWN_GRACE))
        self._server.close(left())
        self._delivery.close(left())
        self._delivery.stop_probing(left())
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
            logger.debug("%s from %s", method, client[0])  # the service logs what and who
        if params and self._web is not None and self._web.owns_key(params[0]):
            raise SAMPProxyError(5, "Web Profile keys are only valid at the Web Profile endpoint")
        return getattr(self.service, attr)(*params)

    # -- delivery ----------------------------------------------------------------------

    def _deliver(self, record: ClientRecord, method: str, args: tuple[SampValue, ...]) -> None:
        if record.profile == "web":
            if self._web is not None:
                self._web.deliver(record, method, args)  # into its pullCallbacks queue
            return
        if self._delivery is None or record.callback_url is None:
            return
        self._delivery.submit(record, method, args)

    def _forget(self, target: str) -> None:
        if self._web is not None:
            self._web.forget(target)
        if self._delivery is not None:
            self._delivery.forget(target)
