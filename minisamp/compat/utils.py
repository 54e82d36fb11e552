"""pyvo.samp's small public names: ``conf``, constants, the replier wrapper, safe parsing.

``conf`` has pyvo's two items: ``use_internet`` is accepted and has no effect (minisamp
never probes the internet and binds 127.0.0.1 unless told otherwise), ``n_retries`` is
how many more times :class:`~minisamp.compat.SAMPHubServer` tries a delivery a client
answered with a fault.  ``safe_xmlrpc_loads`` and ``SAMPXXEServerProxy`` parse with
defusedxml (no DTDs at all), where pyvo only switches external entities off.
"""

from __future__ import annotations

import base64
import contextlib
import traceback
import xmlrpc.client
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from ..messages import SAMP_STATUS_ERROR, SAMP_STATUS_OK

__all__ = [
    "SAFE_MTYPES",
    "SAMP_ICON",
    "Conf",
    "SAMPMsgReplierWrapper",
    "SAMPXXEServerProxy",
    "conf",
    "safe_xmlrpc_loads",
]

#: pyvo's list of MTypes considered safe (it defines it and uses it nowhere; so do we).
SAFE_MTYPES = [
    "samp.app.*",
    "samp.msg.progress",
    "table.*",
    "image.*",
    "coord.*",
    "spectrum.*",
    "bibcode.*",
    "voresource.*",
]

#: A 16×16 PNG icon (minisamp's own; pyvo's is astropy's logo).
SAMP_ICON = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAN0lEQVR42mNgGJTgPw5AtkaiDUJWJBe1CgUTNACf"
    "ZqIMIaQZ3ZDhbADZgUhxNFIlIVGclAcEAAB7S42k87j0AgAAAABJRU5ErkJggg=="
)


class Conf:
    """pyvo's configuration items, with their defaults; ``set_temp`` and ``reset`` work.

    ``use_internet`` (True) is accepted and has no effect; ``n_retries`` (10) is read
    by :class:`~minisamp.compat.SAMPHubServer` each time it starts.
    """

    _defaults: ClassVar[dict[str, Any]] = {"use_internet": True, "n_retries": 10}
    use_internet: bool = True
    n_retries: int = 10

    def reset(self, attr: str | None = None) -> None:
        """Put *attr* (or every item) back to its default."""
        for name in [attr] if attr else list(self._defaults):
            setattr(self, name, self._defaults[name])

    @contextlib.contextmanager
    def set_temp(self, attr: str, value: Any) -> Iterator[None]:
        """Set *attr* to *value* inside a ``with`` block."""
        if attr not in self._defaults:
            raise AttributeError(f"no configuration item {attr!r}: {sorted(self._defaults)}")
        old = getattr(self, attr)
        setattr(self, attr, value)
        try:
            yield
        finally:
            setattr(self, attr, old)


conf = Conf()


class SAMPMsgReplierWrapper:
    """Decorator of a pyvo-style call handler on *cli*: its return value is the reply.

    A truthy return value is sent as ``samp.ok`` with it as ``samp.result`` (pyvo sends
    ``samp.error``, a bug); an exception as ``samp.error`` with ``samp.errortxt`` and
    the traceback as ``samp.debugtxt`` (pyvo: in ``samp.result``); a falsy value sends
    nothing, as in pyvo (the handler may have replied itself).  Notifications
    (five arguments, or ``msg_id`` None) are just passed on.
    """

    def __init__(self, cli: Any) -> None:
        self.cli = cli

    def __call__(self, f: Callable[..., Any]) -> Callable[..., None]:
        def wrapped_f(*args: Any) -> None:
            if len(args) == 5 or args[2] is None:  # a notification
                f(*args)
                return
            try:
                result = f(*args)
            except Exception as exc:
                self._reply(
                    args[2],
                    {
                        "samp.status": SAMP_STATUS_ERROR,
                        "samp.error": {
                            "samp.errortxt": f"{type(exc).__name__}: {exc}",
                            "samp.debugtxt": traceback.format_exc(),
                        },
                    },
                )
            else:
                if result:
                    self._reply(args[2], {"samp.status": SAMP_STATUS_OK, "samp.result": result})

        return wrapped_f

    def _reply(self, msg_id: str, response: dict[str, Any]) -> None:
        reply = getattr(self.cli, "reply", None)
        if reply is not None:  # SAMPIntegratedClient
            reply(msg_id, response)
        else:  # SAMPClient: through its hub proxy
            self.cli.hub.reply(self.cli.get_private_key(), msg_id, response)


def _defused_parser(unmarshaller: xmlrpc.client.Unmarshaller) -> Any:
    # Imported now: defusedxml.xmlrpc loads xmlrpc.server, which `import minisamp` avoids.
    from defusedxml.xmlrpc import DefusedExpatParser

    return DefusedExpatParser(unmarshaller, forbid_dtd=True)


def safe_xmlrpc_loads(
    data: str | bytes, use_datetime: bool = False, use_builtin_types: bool = False
) -> tuple[tuple[Any, ...], str | None]:
    """``xmlrpc.client.loads`` through defusedxml: ``(params, method name)``; no DTDs."""
    unmarshaller = xmlrpc.client.Unmarshaller(use_datetime, use_builtin_types)
    parser = _defused_parser(unmarshaller)
    parser.feed(data)
    parser.close()
    return unmarshaller.close(), unmarshaller.getmethodname()


#: Seconds a ``SAMPXXEServerProxy`` call may take (pyvo's has no limit).
SERVER_PROXY_TIMEOUT = 30.0


class _DefusedTransport(xmlrpc.client.Transport):
    def make_connection(self, host: Any) -> Any:
        connection = super().make_connection(host)
        connection.timeout = SERVER_PROXY_TIMEOUT  # read when it connects
        return connection

    def getparser(self) -> tuple[Any, xmlrpc.client.Unmarshaller]:
        unmarshaller = xmlrpc.client.Unmarshaller(self._use_datetime, self._use_builtin_types)
        return _defused_parser(unmarshaller), unmarshaller


class SAMPXXEServerProxy(xmlrpc.client.ServerProxy):
    """``xmlrpc.client.ServerProxy`` whose responses are parsed by defusedxml (http only),
    each call within :data:`SERVER_PROXY_TIMEOUT` seconds."""

    def __init__(self, uri: str, *args: Any, **kwargs: Any) -> None:
        if "transport" not in kwargs:
            kwargs["transport"] = _DefusedTransport(
                use_datetime=kwargs.get("use_datetime", False),
                use_builtin_types=kwargs.get("use_builtin_types", False),
            )
        super().__init__(uri, *args, **kwargs)
