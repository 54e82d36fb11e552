"""pyvo's ``SAMPHubServer`` and ``WebProfileDialog``, over :class:`minisamp.hub.Hub`.

``SAMPHubServer`` takes pyvo's keywords, builds a :class:`~minisamp.hub.Hub` on each
:meth:`~SAMPHubServer.start` (so a stopped hub starts again, as pyvo's does) and
writes pyvo's ``~/.samp-1/samp-hub-<id>`` lockfile in ``mode="multiple"``.  A pyvo
:class:`WebProfileDialog` (the GUI polls :meth:`~WebProfileDialog.handle_queue`, the
user answers with :meth:`~WebProfileDialog.consent` or
:meth:`~WebProfileDialog.reject`) is turned into the consent hook our Web Profile asks.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SAMPHubError, SAMPWarning

if TYPE_CHECKING:
    from ..hub.hub import Hub
    from ..hub.web.consent import ConsentHook, WebRegistrationRequest

__all__ = ["DIALOG_TIMEOUT", "SAMPHubServer", "WebProfileDialog", "dialog_consent"]

#: Seconds a Web Profile registration waits for a :class:`WebProfileDialog`'s answer.
DIALOG_TIMEOUT = 120.0
_warned: set[str] = set()


def _warn_once(key: str, text: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(text, SAMPWarning, stacklevel=3)  # the caller of __init__


class WebProfileDialog:
    """Base class of a Web Profile consent dialog, with pyvo's protocol.

    The hub sets ``queue_request`` and ``queue_result``.  The GUI calls
    :meth:`handle_queue` from its event loop's timer; when a page asks to register it
    calls ``self.show_dialog(samp_name, details, client, origin)`` (which the subclass
    defines), and the subclass answers with :meth:`consent` or :meth:`reject`.
    """

    queue_request: queue.Queue[tuple[Any, tuple[str, int], str]]
    queue_result: queue.Queue[bool]

    def handle_queue(self) -> None:
        """Show the dialog for a pending request, if there is one."""
        try:
            details, client, origin = self.queue_request.get_nowait()
        except (queue.Empty, AttributeError):  # nothing pending, or no hub yet
            return
        samp_name = details if isinstance(details, str) else details.get("samp.name", "")
        self.show_dialog(samp_name, details, client, origin)  # type: ignore[attr-defined]

    def consent(self) -> None:
        """The user allows the page to register."""
        self.queue_result.put(True)

    def reject(self) -> None:
        """The user refuses the page."""
        self.queue_result.put(False)


def _is_pyvo_dialog(dialog: Any) -> bool:
    """pyvo's protocol (the hub sets two queues on it), rather than our plain callable."""
    return (
        isinstance(dialog, WebProfileDialog)
        or hasattr(dialog, "show_dialog")
        or hasattr(dialog, "handle_queue")
        or not callable(dialog)
    )


def dialog_consent(dialog: Any, timeout: float = DIALOG_TIMEOUT) -> ConsentHook:
    """The consent hook asking *dialog* (pyvo's protocol); sets its two queues.

    One request at a time, as in pyvo; a request not answered within *timeout* seconds
    is refused (pyvo waits for ever, holding every other registration up).
    """
    requests: queue.Queue[tuple[Any, tuple[str, int], str]] = queue.Queue(1)
    results: queue.Queue[bool] = queue.Queue(1)
    dialog.queue_request, dialog.queue_result = requests, results
    one_at_a_time = threading.Lock()

    def ask(request: WebRegistrationRequest) -> bool:
        if not one_at_a_time.acquire(timeout=timeout):
            return False
        try:
            details = dict(request.identity) or {"samp.name": request.name}
            requests.put((details, (request.address, 0), request.origin or "unknown"))
            try:
                return bool(results.get(timeout=timeout))
            except queue.Empty:
                with contextlib.suppress(queue.Empty):  # withdraw it if the dialog never took it
                    requests.get_nowait()
                return False
        finally:
            one_at_a_time.release()

    return ask


class SAMPHubServer:
    """pyvo's ``SAMPHubServer``: a :class:`minisamp.hub.Hub` behind pyvo's keywords.

    ``start(wait=False)``, ``stop()``, ``is_running``, ``params``, ``id`` and
    ``get_mtype_subtypes`` behave as pyvo's; a stopped hub can be started again.
    Deliberate differences (see the migration guide): the Web Profile is off unless
    *web_profile* is true (a warning says so once if a *web_profile_dialog* is given
    without it); then it asks *web_profile_dialog* — a :class:`WebProfileDialog` or a
    callable taking a :class:`~minisamp.hub.web.WebRegistrationRequest` — or else the
    terminal.  An explicit *lockfile* wins over ``SAMP_HUB``; a second hub on a live
    lockfile raises :class:`~minisamp.errors.SAMPHubError` (pyvo only warns);
    *timeout* and *client_timeout* are not supported (a :class:`SAMPWarning` says so).
    """

    def __init__(
        self,
        secret: str | None = None,
        addr: str | None = None,
        port: int = 0,
        lockfile: str | None = None,
        timeout: float = 0,
        client_timeout: float = 0,
        mode: str = "single",
        label: str = "",
        web_profile: bool = False,
        web_profile_dialog: Any = None,
        web_port: int = 21012,
        pool_size: int = 20,
    ) -> None:
        for name, value in (("timeout", timeout), ("client_timeout", client_timeout)):
            if value:
                warnings.warn(
                    f"SAMPHubServer({name}=...) is not supported by minisamp: ignored",
                    SAMPWarning,
                    stacklevel=2,
                )
        if web_profile_dialog is not None and not web_profile:
            _warn_once(
                "web_profile",
                "minisamp's SAMPHubServer runs no Web Profile unless web_profile=True "
                "(pyvo's default is True): web_profile_dialog is unused",
            )
        import uuid  # here: it loads platform, which `import minisamp` need not

        self._id = str(uuid.uuid4())
        self._secret = secret
        self._addr = addr or "127.0.0.1"
        self._port = port
        self._lockfile = lockfile
        self._mode = mode
        self._label = label
        self._web_profile = web_profile
        self._web_port = web_port
        self._pool_size = pool_size
        self._consent: ConsentHook | None = None
        if web_profile and web_profile_dialog is not None:
            if _is_pyvo_dialog(web_profile_dialog):
                self._consent = dialog_consent(web_profile_dialog)
            else:
                self._consent = web_profile_dialog
        self._hub: Hub | None = None
        self._stopped = threading.Event()
        self._life = threading.Lock()

    def _lockfile_path(self) -> str | Path | None:
        import os

        from ..lockfile import multiple_mode_lockfile

        if self._lockfile is not None or self._mode == "single" or "SAMP_HUB" in os.environ:
            return self._lockfile  # pyvo: SAMP_HUB and lockfile= win over mode
        return multiple_mode_lockfile(self._id)

    def _make_hub(self) -> Hub:
        from ..hub.hub import Hub
        from .utils import conf

        options: dict[str, Any] = {}
        if self._web_profile:
            from ..hub.web.consent import prompt_consent

            options.update(
                web_profile=True,
                web_port=self._web_port,
                web_consent=self._consent or prompt_consent,
            )
        return Hub(
            self._lockfile_path(),
            host=self._addr,
            port=self._port,
            secret=self._secret,
            workers=max(1, self._pool_size),
            delivery_retries=max(0, int(conf.n_retries)),
            extra_lockfile_keys={"hub.id": self._id, "hub.label": self._label or f"Hub {self._id}"},
            **options,
        )

    def start(self, wait: bool = False) -> None:
        """Start the hub (again, after :meth:`stop`); with *wait*, block until stopped."""
        with self._life:
            if self._hub is not None and self._hub.is_running:
                raise SAMPHubError("Hub is already running")
            hub = self._make_hub()
            hub.start()
            self._hub = hub
            self._stopped.clear()
        if wait:
            try:
                self._stopped.wait()
            finally:
                self.stop()

    def stop(self) -> None:
        """Tell the clients the hub is going, stop it and remove its lockfile."""
        with self._life:
            if self._hub is not None:
                self._hub.stop()
            self._stopped.set()

    @property
    def is_running(self) -> bool:
        """True while the hub runs."""
        return self._hub is not None and self._hub.is_running

    @property
    def params(self) -> dict[str, str]:
        """The lockfile's keys and values."""
        if self._hub is None:
            raise SAMPHubError("the hub has not been started")
        return self._hub.params

    @property
    def id(self) -> str:
        """The hub's unique id (``hub.id`` in its lockfile)."""
        return self._id

    @property
    def hub(self) -> Any:
        """The running (or last) :class:`minisamp.hub.Hub` underneath, or None."""
        return self._hub

    @staticmethod
    def get_mtype_subtypes(mtype: str) -> list[str]:
        """*mtype* and the wildcards matching it, most specific first (pyvo's order).

        ``"samp.app.ping"`` → ``["samp.app.ping", "samp.app.*", "samp.*", "*"]``.
        """
        parts = mtype.split(".")
        wildcards = [".".join(parts[:n]) + ".*" for n in range(len(parts) - 1, 0, -1)]
        return [mtype, *wildcards, "*"]
