"""Run one Python SAMP hub in this process until SIGTERM: ``python -m bench._hub_runner``.

    python -m bench._hub_runner minisamp /tmp/x/lockfile
    python -m bench._hub_runner pyvo /tmp/x/lockfile

The hub binds 127.0.0.1 and writes *lockfile*.  The runner exits (stopping the hub)
on SIGTERM or SIGINT, when its parent process goes away, or after ``--max-seconds``,
so a benchmark killed hard never leaves a hub behind for long (see :mod:`bench._release`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench._release import Release, add_max_seconds


def start_minisamp(lockfile: str) -> Callable[[], None]:
    """Start minisamp's hub; return its stop function."""
    from minisamp.hub import Hub

    hub = Hub(lockfile).start()
    return hub.stop


def start_pyvo(lockfile: str) -> Callable[[], None]:
    """Start pyvo.samp's (astropy's) hub on loopback, no Web Profile; return its stop."""
    from pyvo.samp import SAMPHubServer, conf

    conf.use_internet = False
    hub = SAMPHubServer(web_profile=False, lockfile=lockfile, addr="127.0.0.1")
    hub.start(wait=False)
    stop: Callable[[], None] = hub.stop
    return stop


STARTERS: dict[str, Callable[[str], Callable[[], None]]] = {
    "minisamp": start_minisamp,
    "pyvo": start_pyvo,
}


def main(argv: list[str] | None = None) -> int:
    """Start the hub, wait for a reason to stop, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=sorted(STARTERS))
    parser.add_argument("lockfile")
    add_max_seconds(parser)
    args = parser.parse_args(argv)

    release = Release()
    stop = STARTERS[args.impl](args.lockfile)
    try:
        release.wait(args.max_seconds)
    finally:
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
