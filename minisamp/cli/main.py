"""The ``minisamp`` command: run a hub, see who is there, send, listen, try it out.

This is the only module that configures logging.  Errors print one line (no
traceback unless ``--debug``) and exit with a code scripts can test:

==== ====================================================================
0    done
1    any other error
2    bad command line
3    no SAMP hub is running (or it went away)
4    no client has the name given
5    timed out waiting for an answer
6    a recipient refused the message, or nobody is subscribed to it
130  interrupted (Ctrl-C)
==== ====================================================================
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import __version__, helpers
from ..client.client import Client
from ..client.handlers import ReceivedMessage
from ..errors import (
    ClientNotFoundError,
    SAMPClientError,
    SampError,
    SAMPHubError,
    SampResponseError,
    TransportError,
)
from ..messages import Message, Response
from ..tables.filetypes import ASTROPY_TABLE_SUFFIXES, guess_mtype, url_for

__all__ = ["EXIT_CODES", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_HUB, EXIT_NOT_FOUND, EXIT_TIMEOUT, EXIT_REFUSED = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
)
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    "ok": EXIT_OK,
    "error": EXIT_ERROR,
    "usage": EXIT_USAGE,
    "no-hub": EXIT_NO_HUB,
    "not-found": EXIT_NOT_FOUND,
    "timeout": EXIT_TIMEOUT,
    "refused": EXIT_REFUSED,
    "interrupted": EXIT_INTERRUPTED,
}


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, (SAMPHubError, TransportError)):
        return EXIT_NO_HUB
    if isinstance(exc, ClientNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, TimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, (SampResponseError, SAMPClientError)):
        return EXIT_REFUSED
    return EXIT_ERROR


def _print(*parts: Any) -> None:
    print(*parts, flush=True)


class _Signals:
    """Catch SIGINT and SIGTERM for the block (installed before anything is printed)."""

    def __enter__(self) -> _Signals:
        self.stop = threading.Event()
        self._previous = {
            sig: signal.signal(sig, lambda *_: self.stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def wait(self, done: threading.Event | None = None) -> None:
        """Block until a signal arrives, or *done* is set."""
        while not self.stop.wait(0.2):
            if done is not None and done.is_set():
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

    options: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.web:
        from ..hub.web.profile import consent_policy

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


def _print_delivery(client: Client, delivery: helpers.Delivery) -> int:
    for client_id, result in delivery.accepted.items():
        extra = f" {json.dumps(result)}" if result else ""
        _print(f"{helpers.client_label(client, client_id)}: ok{extra}")
    for client_id, why in delivery.failed.items():
        _print(f"{helpers.client_label(client, client_id)}: FAILED: {why}")
    return EXIT_OK if not delivery.failed else EXIT_REFUSED


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
    with _client(args, "minisamp send") as client:
        if is_file and mtype.startswith("table.load.") and mtype != "table.load.cdf":
            table: Any = local
            if local.suffix.lower() in ASTROPY_TABLE_SUFFIXES:
                from ..tables.files import _import_astropy_table

                table = _import_astropy_table("converting").read(local)
            delivery = helpers.send_table_to(
                client, table, args.to, name, timeout=args.timeout, strict=False
            )
        else:
            message = Message.create(mtype, {"url": url_for(target), "name": name})
            delivery = helpers.send_and_wait(
                client, message, args.to, timeout=args.timeout, strict=False
            )
        return _print_delivery(client, delivery)


def cmd_point(args: argparse.Namespace) -> int:
    """Point clients at a sky position."""
    with _client(args, "minisamp point") as client:
        sent = helpers.point_at(client, args.ra, args.dec, args.to)
        if not sent:
            _print("nobody is subscribed to coord.pointAt.sky")
            return EXIT_REFUSED
        _print(
            "sent coord.pointAt.sky to: " + ", ".join(helpers.client_label(client, c) for c in sent)
        )
    return EXIT_OK


def _param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    key, value = text.split("=", 1)
    if value[:1] in ("[", "{", '"'):
        try:
            return key, json.loads(value)
        except json.JSONDecodeError:
            pass
    return key, value


def cmd_message(args: argparse.Namespace) -> int:
    """Send any message: notify (default), or call and wait with --wait."""
    message = Message.create(args.mtype, dict(args.params))
    with _client(args, "minisamp message") as client:
        if args.wait is None:
            if args.to is None:
                sent = client.notify_all(message.to_map())
            else:
                recipient = client.find_client_id(args.to)
                client.notify(recipient, message.to_map())
                sent = [recipient]
            _print(
                f"notified: {', '.join(helpers.client_label(client, c) for c in sent) or 'nobody'}"
            )
            return EXIT_OK if sent else EXIT_REFUSED
        delivery = helpers.send_and_wait(client, message, args.to, timeout=args.wait, strict=False)
        return _print_delivery(client, delivery)


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
    params = json.dumps(msg.params) if msg.params else ""
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
        signals.wait(gone)
    return EXIT_OK if not gone.is_set() else EXIT_NO_HUB


# -- demo ----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job in a few seconds: hub, receiver, sender, a table sent and received."""
    from ..demo import run_demo

    return run_demo(use_running_hub=args.use_running_hub)


# -- parser --------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lockfile", metavar="PATH", help="the hub's lockfile (default: $SAMP_HUB, else ~/.samp)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for answers (default: 10)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``minisamp`` command."""
    parser = argparse.ArgumentParser(
        prog="minisamp",
        description="SAMP from the command line: run a hub, list clients, send tables, "
        "images and messages, listen.",
        epilog="exit codes: 0 ok, 1 error, 2 usage, 3 no hub, 4 no such client, 5 timeout, "
        "6 refused/nobody subscribed, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"minisamp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO)")
    parser.add_argument("--debug", action="store_true", help="log everything, show tracebacks")
    # the same options after the subcommand (`minisamp hub --verbose`)
    logging_options = argparse.ArgumentParser(add_help=False)
    logging_options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log what happens (INFO)",
    )
    logging_options.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log everything, show tracebacks",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, func: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, parents=[logging_options])
        p.set_defaults(func=func)
        return p

    p = command("hub", cmd_hub, "run a SAMP hub until Ctrl-C")
    p.add_argument(
        "--lockfile",
        metavar="PATH",
        help="where to write the lockfile (default: $SAMP_HUB, else ~/.samp)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    p.add_argument("--web", action="store_true", help="also run the Web Profile for browser apps")
    p.add_argument("--web-port", type=int, default=21012, help="Web Profile port (default: 21012)")
    p.add_argument(
        "--web-auth",
        choices=("prompt", "allow", "deny"),
        default="prompt",
        help="how web registrations are approved (default: prompt on the terminal)",
    )

    p = command("clients", cmd_clients, "list the registered clients")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("send", cmd_send, "send a table, image or URL and wait for acknowledgements")
    _common(p)
    p.add_argument("target", metavar="FILE|URL", help="VOTable, FITS, CSV/ECSV file, or a URL")
    p.add_argument(
        "--to", metavar="NAME", help="the recipient's name (default: everyone subscribed)"
    )
    p.add_argument("--mtype", help="the MType (default: guessed from the file)")
    p.add_argument("--name", metavar="LABEL", help="the name shown by the recipient")

    p = command("ping", cmd_ping, "ping the hub, or a client by name")
    _common(p)
    p.add_argument("name", nargs="?", metavar="NAME", help="a client's name (default: the hub)")

    p = command("point", cmd_point, "point clients at a sky position (coord.pointAt.sky)")
    _common(p)
    p.add_argument("ra", type=float, help="right ascension, degrees")
    p.add_argument("dec", type=float, help="declination, degrees")
    p.add_argument("--to", metavar="NAME", help="the recipient's name (default: everyone)")

    p = command("message", cmd_message, "send any message (like JSAMP's messagesender)")
    _common(p)
    p.add_argument("mtype", metavar="MTYPE")
    p.add_argument(
        "params",
        nargs="*",
        type=_param,
        metavar="KEY=VALUE",
        help="parameters; JSON values ([...], {...}) are decoded",
    )
    p.add_argument("--to", metavar="NAME", help="the recipient's name (default: everyone)")
    p.add_argument("--wait", type=float, metavar="SECONDS", help="call and wait for responses")

    p = command("listen", cmd_listen, "print every message received (like JSAMP's snooper)")
    _common(p)
    p.add_argument(
        "--mtype", action="append", metavar="PATTERN", help="subscribe to this (default: *)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per message")
    p.add_argument("--reply", choices=("ok", "warning"), default="ok", help="how to answer calls")
    p.add_argument("--client-name", default="minisamp listen", help="our samp.name")

    p = command("demo", cmd_demo, "send a table between two clients on an in-process hub")
    p.add_argument(
        "--use-running-hub",
        action="store_true",
        help="use the running hub (default: start a private one)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minisamp`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (SampError, OSError) as exc:
        if args.debug:
            raise
        print(f"minisamp: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
