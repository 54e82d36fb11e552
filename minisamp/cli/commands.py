"""The ``minisamp`` subcommands: each ``cmd_*`` takes the parsed arguments, returns an exit code.

What they share is here too: printing for the user, catching SIGINT/SIGTERM while a
long-running command (``hub``, ``listen``) waits, and the client a command connects
as.  Parsing the command line, logging and turning errors into exit codes are
:mod:`minisamp.cli.main`'s job.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import helpers
from ..client.client import Client
from ..client.handlers import ReceivedMessage
from ..datatypes import samp_text
from ..errors import SampDataError, SampError, SAMPWarning
from ..messages import Message, Response
from ..tables.filetypes import ASTROPY_TABLE_SUFFIXES, guess_mtype, url_for
from .exit_codes import EXIT_INTERRUPTED, EXIT_NO_HUB, EXIT_OK, EXIT_REFUSED

__all__ = [
    "cmd_clients",
    "cmd_demo",
    "cmd_hub",
    "cmd_listen",
    "cmd_message",
    "cmd_ping",
    "cmd_point",
    "cmd_send",
]


def _print(*parts: Any) -> None:
    print(*parts, flush=True)


class _Signals:
    """Catch SIGINT and SIGTERM for the block (installed before anything is printed)."""

    def __enter__(self) -> _Signals:
        self.stop = threading.Event()
        self.received: int | None = None  # the signal that stopped us, if one did
        self._previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signum
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def wait(self, done: Callable[[], bool] | None = None) -> None:
        """Block until a signal arrives, or *done()* is true (polled)."""
        while not self.stop.wait(0.2):
            if done is not None and done():
                return


def _client(args: argparse.Namespace, name: str, *, callable: bool = False, **kw: Any) -> Client:
    return Client(
        name,
        kw.pop("description", "minisamp command line"),
        callable=callable,
        lockfile=args.lockfile,
        timeout=args.timeout,
        **kw,
    )


# -- hub -----------------------------------------------------------------------------------


def cmd_hub(args: argparse.Namespace) -> int:
    """Run a hub until Ctrl-C or SIGTERM."""
    from ..hub.hub import Hub

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "delivery_timeout": args.delivery_timeout,
    }
    if args.web:
        from ..hub.web import consent_policy

        options.update(
            web_profile=True, web_port=args.web_port, web_consent=consent_policy(args.web_auth)
        )
    hub = Hub(args.lockfile, **options)
    with _Signals() as signals:
        hub.start()
        try:
            _print(f"SAMP hub running at {hub.url}")
            _print(f"lockfile: {hub.lockfile}")
            _print(f"clients elsewhere can use: SAMP_HUB=std-lockurl:{hub.lock_url}")
            if args.web:
                _print(f"Web Profile on port {args.web_port}, registrations: {args.web_auth}")
            _print("press Ctrl-C to stop")
            signals.wait()
        finally:
            hub.stop()
    _print("hub stopped")
    return EXIT_OK


# -- clients -------------------------------------------------------------------------------


def cmd_clients(args: argparse.Namespace) -> int:
    """List the registered clients."""
    with _client(args, "minisamp clients") as client:
        rows = []
        for client_id in client.get_registered_clients():
            metadata = client.get_metadata(client_id)
            rows.append(
                {
                    "id": client_id,
                    "name": metadata.get("samp.name", ""),
                    "description": metadata.get("samp.description.text", ""),
                    "subscriptions": sorted(client.get_subscriptions(client_id)),
                }
            )
    if args.json:
        _print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        _print(f"{row['id']:<8} {row['name'] or '(no name)'}")
        if row["description"]:
            _print(f"         {row['description']}")
        _print(f"         subscribed to: {', '.join(row['subscriptions']) or '(nothing)'}")
    return EXIT_OK


# -- send, point, message, ping ------------------------------------------------------------


@contextlib.contextmanager
def _reporting_nobody() -> Iterator[None]:
    """The helpers warn when nobody is subscribed; commands say it their own way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAMPWarning)
        yield


def _nobody(mtype: str) -> int:
    print(
        f"minisamp: no SAMP client is subscribed to {mtype}: start an application that "
        "accepts it (TOPCAT, Aladin, DS9, ...), or name the recipient with --to",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_REFUSED


def _labels(client: Client) -> dict[str, str]:
    """``"name (id)"`` of every client now, to name recipients that leave meanwhile."""
    return {
        cid: f"{info.name} ({cid})" if info.name else cid for cid, info in client.clients.items()
    }


def _print_delivery(client: Client, delivery: helpers.Delivery, labels: dict[str, str]) -> int:
    if not delivery.accepted and not delivery.failed:
        return _nobody(delivery.mtype)
    try:
        present = set(client.get_registered_clients())
    except SampError:  # the hub is going: say what we know
        present = set(delivery.accepted)
    for client_id, result in delivery.accepted.items():
        extra = f" {json.dumps(result)}" if result else ""
        gone = "" if client_id in present else " (and it has unregistered since)"
        _print(f"{_label(client, client_id, labels)}: ok{extra}{gone}")
    for client_id, why in delivery.failed.items():
        _print(f"{_label(client, client_id, labels)}: FAILED: {why}")
    return EXIT_OK if not delivery.failed else EXIT_REFUSED


def _label(client: Client, client_id: str, labels: dict[str, str]) -> str:
    return labels.get(client_id) or helpers.client_label(client, client_id)


def cmd_send(args: argparse.Namespace) -> int:
    """Send a table, an image or any URL, and wait for acknowledgements."""
    target: str = args.target
    local = Path(target)
    is_file = local.is_file()
    if not is_file and "://" not in target and not target.startswith("file:"):
        raise SampError(f"{target} is neither an existing file nor a URL")
    mtype = args.mtype or guess_mtype(target)
    if mtype is None:
        raise SampError(f"cannot tell what {target} is: give --mtype (e.g. table.load.votable)")
    name = args.name or (local.name if is_file else target.rsplit("/", 1)[-1])
    is_table = is_file and mtype.startswith("table.load.") and mtype != "table.load.cdf"
    table: Any = local
    if is_table and local.suffix.lower() in ASTROPY_TABLE_SUFFIXES:
        table = _read_table_file(local)  # before connecting: an unreadable file is one error
    with _client(args, "minisamp send") as client, _reporting_nobody():
        labels = _labels(client)
        if is_table:
            # --mtype names the format; without it, large tables may go as FITS-plus
            fmt = {"table.load.votable": "votable", "table.load.fits": "fits"}.get(args.mtype)
            delivery = helpers.send_table_to(
                client, table, args.to, name, timeout=args.timeout, strict=False, format=fmt
            )
        else:
            message = Message.create(mtype, {"url": url_for(target), "name": samp_text(name)})
            delivery = helpers.send_and_wait(
                client, message, args.to, timeout=args.timeout, strict=False
            )
        return _print_delivery(client, delivery, labels)


def _read_table_file(path: Path) -> Any:
    """A CSV, ECSV, ... file read by astropy; anything it cannot read is one clear error."""
    from ..tables.files import _import_astropy_table

    table_class = _import_astropy_table("converting")
    try:
        return table_class.read(path)
    except Exception as exc:  # astropy raises many kinds, all meaning "not a table"
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise SampDataError(f"cannot read {path} as a table: {detail}") from exc


def cmd_point(args: argparse.Namespace) -> int:
    """Point clients at a sky position."""
    with _client(args, "minisamp point") as client, _reporting_nobody():
        sent = helpers.point_at(client, args.ra, args.dec, args.to)
        if not sent:
            return _nobody("coord.pointAt.sky")
        _print(
            "sent coord.pointAt.sky to: " + ", ".join(helpers.client_label(client, c) for c in sent)
        )
    return EXIT_OK


def cmd_message(args: argparse.Namespace) -> int:
    """Send any message: notify (default), or call and wait with --wait."""
    message = Message.create(args.mtype, dict(args.params))
    with _client(args, "minisamp message") as client, _reporting_nobody():
        labels = _labels(client)
        if args.wait is None:
            if args.to is None:
                sent = client.notify_all(message.to_map())
            else:
                recipient = client.find_client_id(args.to)
                client.notify(recipient, message.to_map())
                sent = [recipient]
            if not sent:
                return _nobody(message.mtype)
            _print(f"notified: {', '.join(_label(client, c, labels) for c in sent)}")
            return EXIT_OK
        delivery = helpers.send_and_wait(client, message, args.to, timeout=args.wait, strict=False)
        return _print_delivery(client, delivery, labels)


def cmd_ping(args: argparse.Namespace) -> int:
    """Ping the hub, or a client by name."""
    with _client(args, "minisamp ping") as client:
        target = client.hub_id if args.name is None else client.find_client_id(args.name)
        started = time.perf_counter()
        client.request(target, "samp.app.ping", timeout=args.timeout)
        elapsed = 1000 * (time.perf_counter() - started)
        _print(f"{helpers.client_label(client, target)} answered in {elapsed:.1f} ms")
    return EXIT_OK


# -- listen --------------------------------------------------------------------------------


def _describe(client: Client, msg: ReceivedMessage, as_json: bool) -> str:
    try:
        sender = client.clients.get(msg.sender_id)
    except SampError:  # the hub is going away: the directory is gone
        sender = None
    sender_name = sender.name if sender is not None else None
    if as_json:
        return json.dumps(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "kind": "call" if msg.is_call else "notification",
                "sender_id": msg.sender_id,
                "sender_name": sender_name,
                "mtype": msg.mtype,
                "params": msg.params,
                "msg_id": msg.msg_id,
            }
        )
    who = f"{sender_name} ({msg.sender_id})" if sender_name else msg.sender_id
    kind = "call" if msg.is_call else "notification"
    from .select_command import describe_linked  # imports this module: not at the top

    params = describe_linked(msg.mtype, msg.params) or (
        json.dumps(msg.params) if msg.params else ""
    )
    return f"[{time.strftime('%H:%M:%S')}] {kind} from {who}: {msg.mtype} {params}".rstrip()


def cmd_listen(args: argparse.Namespace) -> int:
    """Print every message received until Ctrl-C (like JSAMP's snooper)."""
    description = "Prints every SAMP message it receives (minisamp listen)"
    client = _client(args, args.client_name, callable=True, description=description)
    gone = threading.Event()
    lock = threading.Lock()

    def handle(msg: ReceivedMessage) -> Any:
        with lock:
            _print(_describe(client, msg, args.json))
        if msg.mtype in ("samp.hub.event.shutdown", "samp.hub.disconnect"):
            gone.set()
        if args.reply == "warning":
            return Response.warning({}, "Message logged, not acted on")
        return {}

    with _Signals() as signals, client:
        for pattern in args.mtype or ["*"]:
            client.on(pattern, handle)
        print(
            f"listening as {client.get_public_id()} for {', '.join(args.mtype or ['*'])}; "
            "Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        # the client follows the hub's shutdown itself, whatever we subscribed to
        signals.wait(lambda: gone.is_set() or not client.is_connected)
    if signals.received == signal.SIGINT:
        return EXIT_INTERRUPTED
    return EXIT_NO_HUB if gone.is_set() or signals.received is None else EXIT_OK


# -- demo ----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job in a few seconds: hub, receiver, sender, a table sent and received."""
    from ..demo import run_demo

    return run_demo(use_running_hub=args.use_running_hub)
