"""``minisamp bridge``: link this machine's SAMP hub with one on another machine, over SSH.

Its own module so that the other subcommands' module stays as it was; :mod:`.main`
calls :func:`add_bridge_command` to add it to the parser.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["add_bridge_command", "cmd_bridge"]

Command = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_bridge_command(command: Command) -> None:
    """Add the ``bridge`` subcommand through main's *command* factory."""
    p = command(
        "bridge",
        cmd_bridge,
        "link this machine's SAMP hub with the hub on another machine, over one SSH "
        "connection (the far side needs only: pip install minisamp)",
    )
    p.add_argument("dest", nargs="?", metavar="DEST", help="where to ssh to: [user@]host")
    p.add_argument(
        "--via",
        metavar="CMD",
        help="instead of 'ssh DEST', a command giving a byte stream to the far side "
        "(e.g. 'docker exec -i box', 'ssh -p 2222 -i key user@host')",
    )
    p.add_argument(
        "--remote-command",
        metavar="CMD",
        help="the far side's command (default: python3 -m minisamp bridge --stdio); "
        "one word is the python to use, e.g. ~/venv/bin/python",
    )
    p.add_argument("--reconnect", action="store_true", help="when the link drops, retry")
    p.add_argument(
        "--lockfile", metavar="PATH", help="the hub's lockfile here (default: $SAMP_HUB, ~/.samp)"
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long the far side may take to start (default: 60)",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="say which bridges link this machine's hub, and who is linked each way",
    )
    p.add_argument(
        "--stdio",
        action="store_true",
        help="be the far side: speak the bridge protocol on stdin/stdout (what ssh runs)",
    )


def _print(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def cmd_bridge(args: argparse.Namespace) -> int:
    """Run the bridge until Ctrl-C (or until the link drops, without ``--reconnect``)."""
    from ..bridge import Bridge, serve_stdio  # the hub and servers: only for this command

    if args.stdio:
        return serve_stdio(args.lockfile)
    if args.status:
        return _status(args.lockfile)
    if not args.dest and not args.via:
        print(
            "minisamp bridge: say where: minisamp bridge user@host (or --via CMD)", file=sys.stderr
        )
        return 2
    bridge = Bridge(
        args.dest,
        via=args.via,
        remote_command=args.remote_command,
        lockfile=args.lockfile,
        reconnect=args.reconnect,
        connect_timeout=args.connect_timeout,
        report=_print,
    )
    bridge.start()
    try:
        while not bridge.wait(1.0):
            pass
    finally:
        bridge.stop()
    return 1 if bridge.reason and not args.reconnect else 0


def _status(lockfile: str | None) -> int:
    """Print a line per bridge linked to this hub (from its client's metadata); 1 if none."""
    from ..bridge.api import summary_line
    from ..client import Client

    if lockfile and "://" not in lockfile and not lockfile.startswith("file:"):
        lockfile = Path(lockfile).absolute().as_uri()
    metadata = {"bridge.query": "status"}  # a bridge's own client: never mirrored
    with Client(
        "minisamp bridge --status", metadata=metadata, callable=False, lockfile=lockfile
    ) as client:
        bridges = [
            info.metadata
            for info in client.clients.values()
            if info.name == "minisamp bridge" and "bridge.host" in info.metadata
        ]
    for meta in bridges:
        here, there = meta.get("bridge.shown-there", []), meta.get("bridge.shown-here", [])
        names = (
            tuple(str(n) for n in here) if isinstance(here, list) else (),
            tuple(str(n) for n in there) if isinstance(there, list) else (),
        )
        print(summary_line(str(meta["bridge.host"]), names))
    if not bridges:
        print("no bridge links this hub: start one with minisamp bridge user@host")
    return 0 if bridges else 1
