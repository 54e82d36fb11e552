"""Hub throughput: minisamp's hub vs pyvo.samp's and JSAMP's, same load, same run.

    python -m bench.hub_throughput                 # 10 clients × 50 queries, 1000 notifications
    python -m bench.hub_throughput --quick         # tiny sizes, a smoke run
    python -m bench.hub_throughput --hubs minisamp,JSAMP --repeat 9

Two loads, each hub in its own process (see :mod:`bench._hubs`), runs interleaved
(minisamp, pyvo.samp, JSAMP, minisamp, …) after one warm-up round:

* **calcstorm**: ``jsamp calcstorm -nclient N -nquery M -mode random`` (JSAMP's load
  test: clients send sync, async and notify arithmetic to each other and check every
  answer); we report the µs per message it prints.
* **notifications**: one sending client calls ``samp.hub.notify`` N times in a row to
  one receiving client (both raw XML-RPC through minisamp's wire layer, in this
  process, identical for every hub); we time from the first send to the last arrival.

Goals: minisamp's hub ≥ pyvo.samp's throughput, and within 2× of JSAMP's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minisamp.xmlrpc.server import XmlRpcServer
from minisamp.xmlrpc.transport import XmlRpcProxy

from ._common import (
    OURS,
    BenchError,
    Goal,
    MetricResult,
    Quantity,
    format_result,
    interleave,
    log,
)
from ._hubs import HUBS, RunningHub, available_hubs, running_hub

__all__ = ["Settings", "main", "measure"]

CALCSTORM = "calcstorm time per message"
NOTIFY = "notifications per second"
MTYPE = "x-bench.notify"
_ELAPSED = re.compile(r"Elapsed time: (\d+) ms \((\d+) us per message\)")


@dataclass(frozen=True)
class Settings:
    """Load sizes and repetitions."""

    nclient: int = 10
    nquery: int = 50
    mode: str = "random"
    notifications: int = 1000
    repeat: int = 5
    warmup: int = 1
    hubs: tuple[str, ...] = HUBS
    timeout: float = 30.0  # per calcstorm run (+ 20 ms per message) or notification run

    @classmethod
    def quick(cls, hubs: tuple[str, ...] = HUBS) -> Settings:
        """Tiny sizes: checks the machinery works, says little about speed."""
        return cls(nclient=3, nquery=5, notifications=50, repeat=1, warmup=0, hubs=hubs)


# -- calcstorm -----------------------------------------------------------------------------


def run_calcstorm(hub: RunningHub, settings: Settings) -> float:
    """One ``jsamp calcstorm`` run against *hub*: µs per message as it reports."""
    hub.check_alive()
    args = ["jsamp", "calcstorm", "-nclient", str(settings.nclient)]
    args += ["-nquery", str(settings.nquery), "-mode", settings.mode]
    try:
        result = subprocess.run(
            args,
            env=hub.env,
            capture_output=True,
            text=True,
            timeout=settings.timeout + 0.02 * settings.nclient * settings.nquery,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() killed it
        raise BenchError(
            f"calcstorm against {hub.impl} did not finish within {exc.timeout:g} s "
            "(a lost reply leaves a synchronous call waiting forever)"
        ) from exc
    output = result.stdout + result.stderr
    match = _ELAPSED.search(output)
    if result.returncode != 0 or match is None:
        raise BenchError(
            f"calcstorm against {hub.impl} failed (status {result.returncode}): {output[-800:]}"
        )
    return float(match.group(2))


# -- notifications -------------------------------------------------------------------------


class _Receiver:
    """A callable client that counts ``x-bench.notify`` notifications of the current run."""

    def __init__(self, hub: RunningHub, proxy: XmlRpcProxy) -> None:
        self._proxy = proxy
        reg = _as_dict(proxy.call("samp.hub.register", hub.secret))
        self.id = str(reg["samp.self-id"])
        self.key = str(reg["samp.private-key"])
        self._lock = threading.Lock()
        self._run = ""
        self._expected = 0
        self._count = 0
        self.done = threading.Event()
        self.last_arrival = 0.0
        self.server = XmlRpcServer(self._dispatch, name="bench-receiver")
        self.server.start()
        proxy.call("samp.hub.setXmlrpcCallback", self.key, self.server.url)
        proxy.call("samp.hub.declareSubscriptions", self.key, {MTYPE: {}})

    def expect(self, run: str, count: int) -> None:
        """Start counting notifications tagged *run*; ``done`` is set after *count*."""
        with self._lock:
            self._run, self._expected, self._count = run, count, 0
            self.done.clear()

    @property
    def count(self) -> int:
        """Notifications of the current run received so far."""
        return self._count

    def _dispatch(self, method: str, params: tuple[Any, ...], client: tuple[str, int]) -> str:
        if method == "samp.client.receiveNotification" and len(params) == 3:
            message = params[2]
            if message.get("samp.mtype") == MTYPE:
                with self._lock:
                    if message.get("samp.params", {}).get("run") == self._run:
                        self._count += 1
                        if self._count == self._expected:
                            self.last_arrival = time.perf_counter()
                            self.done.set()
        return ""

    def close(self) -> None:
        """Unregister (best effort) and stop the callback server."""
        with suppress(Exception):
            self._proxy.call("samp.hub.unregister", self.key, timeout=5.0)
        self.server.close()


def _as_dict(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BenchError(f"the hub answered register with {value!r}, not a map")
    return value


@contextmanager
def _notify_pair(hub: RunningHub) -> Iterator[tuple[Callable[[Any], object], _Receiver]]:
    """A registered (sender's notify function, receiver) pair on *hub*."""
    proxy = XmlRpcProxy(hub.url, timeout=30.0)
    with ExitStack() as stack:
        stack.callback(proxy.close)
        receiver = _Receiver(hub, proxy)
        stack.callback(receiver.close)
        sender_key = str(_as_dict(proxy.call("samp.hub.register", hub.secret))["samp.private-key"])
        stack.callback(proxy.call, "samp.hub.unregister", sender_key, timeout=5.0)

        def notify(message: Any) -> object:
            return proxy.call("samp.hub.notify", sender_key, receiver.id, message)

        yield notify, receiver


def run_notifications(hub: RunningHub, settings: Settings, run: str) -> float:
    """Send N notifications through *hub*; notifications per second until the last arrived."""
    hub.check_alive()
    n = settings.notifications
    with _notify_pair(hub) as (notify, receiver):
        receiver.expect(run, n)
        started = time.perf_counter()
        for i in range(n):
            notify({"samp.mtype": MTYPE, "samp.params": {"run": run, "i": str(i)}})
        if not receiver.done.wait(settings.timeout):
            raise BenchError(
                f"{hub.impl}: only {receiver.count} of {n} notifications arrived "
                f"within {settings.timeout} s"
            )
        return n / (receiver.last_arrival - started)


# -- the metric ----------------------------------------------------------------------------


def measure(settings: Settings, progress: Callable[[str], None] | None = log) -> MetricResult:
    """Both loads against every available hub, interleaved; goals checked."""
    hubs, notes = available_hubs(settings.hubs)
    calc = Quantity(CALCSTORM, "µs/message", lower_is_better=True)
    notif = Quantity(NOTIFY, "1/s", lower_is_better=False)
    method = (
        f"`jsamp calcstorm -nclient {settings.nclient} -nquery {settings.nquery} "
        f"-mode {settings.mode}`; {settings.notifications} × `samp.hub.notify` from one "
        "raw XML-RPC client to another, timed to the last arrival. Each hub in its own "
        f"process on 127.0.0.1; {settings.warmup} warm-up round(s), {settings.repeat} "
        "interleaved repetitions"
    )
    result = MetricResult("throughput", "Hub throughput", method, [calc, notif], notes=notes)
    with tempfile.TemporaryDirectory(prefix="minisamp-bench-") as tmp, ExitStack() as stack:
        running: dict[str, RunningHub] = {}
        for impl in hubs:
            try:
                running[impl] = stack.enter_context(running_hub(impl, Path(tmp) / impl))
            except BenchError as exc:
                notes.append(f"{impl} skipped: {exc}")

        if progress is not None:
            progress(f"throughput: hubs {', '.join(running)}")
        phases = [(calc, _calcstorm_runner), (notif, _notify_runner)]
        if shutil.which("jsamp") is None:
            notes.append("calcstorm not run: it is a JSAMP tool (apt-get install jsamp)")
            phases.pop(0)
        for quantity, make in phases:
            interleave(
                {impl: make(hub, settings) for impl, hub in running.items()},
                [quantity],
                repeat=settings.repeat,
                warmup=settings.warmup,
                notes=notes,
                progress=progress,
            )
    result.goals = goals(calc, notif)
    return result


def _calcstorm_runner(hub: RunningHub, settings: Settings) -> Callable[[], Mapping[str, float]]:
    return lambda: {CALCSTORM: run_calcstorm(hub, settings)}


def _notify_runner(hub: RunningHub, settings: Settings) -> Callable[[], Mapping[str, float]]:
    runs = iter(range(1_000_000))
    return lambda: {NOTIFY: run_notifications(hub, settings, f"run{next(runs)}")}


def goals(calc: Quantity, notif: Quantity) -> list[Goal]:
    """≥ pyvo.samp's throughput, within 2× of JSAMP's (both loads)."""
    out = []
    for quantity in (calc, notif):
        short = "calcstorm" if quantity is calc else "notifications"
        out.append(
            Goal.check(
                f"{short}: throughput ÷ pyvo.samp hub's ≥ 1",
                quantity.advantage("pyvo.samp"),
                lambda a: a >= 1.0,
            )
        )
        out.append(
            Goal.check(
                f"{short}: throughput ÷ JSAMP hub's ≥ 0.5 (within 2×)",
                quantity.advantage("JSAMP"),
                lambda a: a >= 0.5,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: sizes, repetitions and hubs; prints the tables and goals."""
    default = Settings()
    parser = argparse.ArgumentParser(description="Hub throughput: minisamp vs pyvo.samp vs JSAMP")
    parser.add_argument("--nclient", type=int, default=default.nclient)
    parser.add_argument("--nquery", type=int, default=default.nquery)
    modes = ["random", "sync", "async", "notify"]
    parser.add_argument("--mode", default=default.mode, choices=modes)
    parser.add_argument("--notifications", type=int, default=default.notifications)
    parser.add_argument("--repeat", type=int, default=default.repeat)
    parser.add_argument("--hubs", default=",".join(HUBS), help="comma-separated subset of hubs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    args = parser.parse_args(argv)
    hubs = tuple(h.strip() for h in args.hubs.split(",") if h.strip())
    unknown = set(hubs) - set(HUBS)
    if unknown or OURS not in hubs:
        parser.error(f"--hubs must include minisamp and name only {', '.join(HUBS)}")
    if args.quick:
        settings = Settings.quick(hubs)
    else:
        settings = Settings(
            nclient=args.nclient,
            nquery=args.nquery,
            mode=args.mode,
            notifications=args.notifications,
            repeat=max(1, args.repeat),
            hubs=hubs,
        )
    print(format_result(measure(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
