"""Hub stop time: SIGTERM to process exit, with clients that unregister in their handler or hang.

    python bench/hub_stop.py                 # or: python -m bench.hub_stop
    python bench/hub_stop.py --quick         # one round, fewer stuck clients
    python bench/hub_stop.py --hubs minisamp --repeat 9

For each hub (minisamp's ``python -m minisamp hub``, JSAMP's) and each set of clients,
a fresh hub process is started, the clients register, then the hub gets SIGTERM and
the time until its process has exited is measured.  The client sets:

* ``none``: no client;
* ``unregistering``: 3 clients that call ``samp.hub.unregister`` from inside their
  ``receiveNotification`` of ``samp.hub.event.shutdown`` (as Aladin does);
* ``mute``: *stuck* clients that accept connections and never answer, plus one
  unregistering client;
* ``dribble``: *stuck* clients that answer one byte every 0.5 s, plus one
  unregistering client.

The peers are the stdlib programs of the robustness tests
(``tests/robustness/stuck_peers.py``).  Rounds are interleaved (hub A, hub B, A, B…);
the table shows median, min and max seconds.  Not part of ``python -m bench``: a
check of issue 12's "stops in well under a second", not a comparison of speed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a plain file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._hubs import available_hubs, running_hub

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "robustness"))
from stuck_peers import StuckCallbackServer, UnregisteringPeer, register

__all__ = ["main"]

SHUTDOWN = ("samp.hub.event.shutdown",)
CASES = ("none", "unregistering", "mute", "dribble")
#: Seconds to wait for a hub to exit after SIGTERM (shown as ">" in the table).
PATIENCE = 30.0


@contextlib.contextmanager
def _clients(case: str, url: str, secret: str, stuck: int) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if case == "unregistering":
            for _ in range(3):
                stack.enter_context(UnregisteringPeer(url, secret, SHUTDOWN))
        elif case in ("mute", "dribble"):
            for _ in range(stuck):
                server = stack.enter_context(StuckCallbackServer(case))
                register(url, secret, server.url, {"samp.hub.event.*": {}})
            stack.enter_context(UnregisteringPeer(url, secret, SHUTDOWN))
        yield


def stop_time(impl: str, case: str, stuck: int, workdir: Path) -> float:
    """Seconds from SIGTERM to the exit of a fresh *impl* hub with the clients of *case*
    (:data:`PATIENCE` if it has not exited by then: it is then killed)."""
    with running_hub(impl, workdir) as hub, _clients(case, hub.url, hub.secret, stuck):
        started = time.monotonic()
        os.killpg(hub.proc.pid, signal.SIGTERM)  # the group: `jsamp` is a shell wrapper
        with contextlib.suppress(subprocess.TimeoutExpired):
            hub.proc.wait(PATIENCE)
        seconds = min(PATIENCE, time.monotonic() - started)
        print(f"{impl}, {case}: {seconds:.3f} s", file=sys.stderr)
        return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hubs", default="minisamp,JSAMP", help="comma-separated hubs")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--stuck", type=int, default=20, help="stuck clients (default: 20)")
    parser.add_argument("--quick", action="store_true", help="one round, 4 stuck clients")
    args = parser.parse_args(argv)
    repeat, stuck = (1, 4) if args.quick else (args.repeat, args.stuck)
    hubs, missing = available_hubs(tuple(h for h in args.hubs.split(",") if h))
    for reason in missing:
        print(f"skipped: {reason}")
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hub-stop-") as tmp:
        for round_ in range(repeat):
            for case in CASES:
                for impl in hubs:
                    workdir = Path(tmp) / f"{impl}-{case}-{round_}"
                    times.setdefault((impl, case), []).append(stop_time(impl, case, stuck, workdir))
    print(f"SIGTERM to exit, seconds (median / min / max of {repeat}); {stuck} stuck clients\n")
    print("| clients | " + " | ".join(hubs) + " |")
    print("|---|" + "---|" * len(hubs))
    for case in CASES:
        cells = []
        for impl in hubs:
            values = times[(impl, case)]
            shown = [statistics.median(values), min(values), max(values)]
            cells.append(" / ".join(f">{v:.0f}" if v >= PATIENCE else f"{v:.3f}" for v in shown))
        print(f"| {case} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
