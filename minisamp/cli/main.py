"""The ``minisamp`` command: run a hub, see who is there, send, listen, try it out.

The entry point: the argument parser, logging and the error → exit-code mapping; the
subcommands themselves are :mod:`minisamp.cli.commands`, the codes' numbers
:mod:`minisamp.cli.exit_codes`.  This is the only module that configures logging.
Errors print one line (no traceback unless ``--debug``) and exit with a code scripts
can test:

==== ====================================================================
0    done
1    any other error
2    bad command line
3    no SAMP hub is running (or it went away)
4    no client has the name given
5    timed out waiting for an answer
6    a recipient refused the message, or nobody is subscribed to it
130  interrupted (Ctrl-C, or SIGTERM)
==== ====================================================================
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import __version__
from ..errors import (
    ClientNotFoundError,
    SAMPClientError,
    SampError,
    SAMPHubError,
    SAMPProxyError,
    SampResponseError,
    TransportError,
)
from .bridge_command import add_bridge_command
from .commands import (
    cmd_clients,
    cmd_demo,
    cmd_hub,
    cmd_listen,
    cmd_message,
    cmd_ping,
    cmd_point,
    cmd_send,
)
from .exit_codes import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NO_HUB,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_TIMEOUT,
)
from .select_command import add_select_command

__all__ = ["EXIT_CODES", "main"]


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, (SAMPHubError, TransportError)):
        return EXIT_NO_HUB
    if isinstance(exc, ClientNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, TimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, (SampResponseError, SAMPClientError)):
        return EXIT_REFUSED
    if isinstance(exc, SAMPProxyError) and exc.faultCode == 2:  # not subscribed
        return EXIT_REFUSED
    return EXIT_ERROR


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


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return seconds


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
    p.add_argument(
        "--delivery-timeout",
        type=_positive_seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long a client has to take each message or event the hub passes it "
        "(default: 60); a slow client delays only its own messages",
    )
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

    add_select_command(command, _common)

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
    add_bridge_command(command)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does, for the block: every ``with`` and
    ``finally`` on the way out runs (temp files removed, the client unregistered)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals go to the main thread only: a caller elsewhere keeps its own
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minisamp`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        with _sigterm_interrupts():
            return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (SampError, OSError) as exc:
        if args.debug:
            raise
        print(f"minisamp: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
