"""Round trip: ``call_and_wait`` of ``samp.app.ping``, minisamp vs pyvo.samp, on every hub.

    python bench/roundtrip.py                       # or: python -m bench.roundtrip
    python bench/roundtrip.py --quick               # a few calls, one round
    python bench/roundtrip.py --hubs minisamp,JSAMP --repeat 9 --calls 500

Every party is its own process, as in a user's session: the hub (minisamp's,
pyvo.samp's, JSAMP's; see :mod:`bench._hubs`), the responder (a minisamp client and
a pyvo.samp client, both answering ``samp.app.ping`` themselves; :mod:`bench._peer`)
and the caller (this process, which runs nothing else meanwhile).  One sample: the
caller enters its library's ``connection()``, makes a few unrecorded calls, then
times *calls* ``call_and_wait(responder, samp.app.ping, "2")`` to the responder of its
own library and takes the median per call.  Beside them, timed the same way:

* ``minisamp request()``: an asynchronous call whose reply the hub delivers to the
  caller's callback server (no ``callAndWait`` at the hub);
* the floor: a raw stdlib ``xmlrpc.client`` → ``SimpleXMLRPCServer`` request/response
  on loopback (the server in its own process), times 3, since a ``callAndWait`` is
  three of them (caller → hub, hub → responder, responder → hub ``reply``).

All four take turns (A B C D A B C D …) after a warm-up round.  A call that times out
(pyvo.samp's hub drops a reply that arrives before it has started waiting for it) is
left out of the median and counted in a note.  Goals: minisamp end to end (its
clients, its hub) ≤ 1/10 of pyvo.samp end to end; minisamp's client no slower than
pyvo.samp's on every hub; minisamp end to end within 3× of the stdlib floor × 3.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/roundtrip.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    OURS,
    PYVO,
    BenchError,
    Goal,
    MetricResult,
    Quantity,
    child_env,
    environ,
    format_result,
    interleave,
    libraries,
    log,
    running_peer,
)
from bench._hubs import HUBS, RunningHub, available_hubs, running_hub

__all__ = ["Settings", "main", "measure"]

REQUEST = "minisamp request()"
FLOOR = "stdlib floor (3 calls)"
PING = {"samp.mtype": "samp.app.ping", "samp.params": {}}
#: Library name → the argument that picks it in ``bench._peer ping``.
PEER_ARG = {OURS: "minisamp", PYVO: "pyvo"}


@dataclass(frozen=True)
class Settings:
    """Calls per sample, repetitions, hubs."""

    calls: int = 100
    warmup_calls: int = 10
    repeat: int = 5
    warmup: int = 1
    timeout: int = 2  # seconds a callAndWait may take; a lost reply costs this much
    hubs: tuple[str, ...] = HUBS

    @classmethod
    def quick(cls, hubs: tuple[str, ...] = HUBS) -> Settings:
        """A few calls, one round: checks the machinery, says little about speed."""
        return cls(calls=10, warmup_calls=2, repeat=1, warmup=0, hubs=hubs)


@dataclass
class _Lost:
    """Calls that timed out, per (implementation, hub), out of all calls made."""

    lost: dict[tuple[str, str], int] = field(default_factory=dict)
    made: dict[tuple[str, str], int] = field(default_factory=dict)

    def notes(self, timeout: int) -> list[str]:
        return [
            f"{impl} on the {hub} hub: {lost} of {self.made[impl, hub]} calls timed out "
            f"after {timeout} s (a lost reply), left out of the medians"
            for (impl, hub), lost in self.lost.items()
            if lost
        ]


# -- one sample ----------------------------------------------------------------------------


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, xmlrpc.client.Fault) and "time" in str(exc.faultString).lower()


def time_calls(
    call: Callable[[], object], settings: Settings, lost: _Lost, key: tuple[str, str]
) -> float:
    """Median ms of *call* over ``settings.calls`` calls, after the unrecorded ones."""
    times = []
    for i in range(settings.warmup_calls + settings.calls):
        started = time.perf_counter()
        try:
            call()
        except Exception as exc:
            if not _is_timeout(exc):
                raise BenchError(f"{key[0]} on the {key[1]} hub: call failed: {exc!r}") from exc
            lost.lost[key] = lost.lost.get(key, 0) + 1
            continue
        finally:
            lost.made[key] = lost.made.get(key, 0) + 1
        if i >= settings.warmup_calls:
            times.append(time.perf_counter() - started)
    if not times:
        raise BenchError(f"{key[0]} on the {key[1]} hub: every call timed out")
    return 1000 * statistics.median(times)


def _checked(response: Mapping[str, Any]) -> None:
    if response.get("samp.status") != "samp.ok":
        raise BenchError(f"ping answered {dict(response)!r}")


@contextlib.contextmanager
def _connection(impl: str) -> Iterator[Any]:
    """*impl*'s own ``connection()`` (pyvo.samp on 127.0.0.1, without internet)."""
    if impl == OURS:
        with importlib.import_module("minisamp").connection("bench-caller") as conn:
            yield conn
        return
    samp = importlib.import_module("pyvo.samp")
    samp.conf.use_internet = False
    with samp.connection("bench-caller", addr="127.0.0.1") as conn:
        yield conn


def call_and_wait_ms(
    impl: str, responder: str, settings: Settings, lost: _Lost, hub: RunningHub
) -> float:
    """One sample: median ms of *impl*'s ``call_and_wait`` ping to *responder*."""
    hub.check_alive()
    wait = str(settings.timeout)
    with _connection(impl) as conn:
        return time_calls(
            lambda: _checked(conn.call_and_wait(responder, PING, wait)),
            settings,
            lost,
            (impl, hub.impl),
        )


def request_ms(responder: str, settings: Settings, lost: _Lost, hub: RunningHub) -> float:
    """One sample: median ms of minisamp's ``request()`` ping to *responder*."""
    hub.check_alive()
    with importlib.import_module("minisamp").Client("bench-caller") as client:
        return time_calls(
            lambda: client.request(responder, "samp.app.ping", timeout=settings.timeout),
            settings,
            lost,
            (REQUEST, hub.impl),
        )


def floor_ms(url: str, settings: Settings, lost: _Lost, hub: str) -> float:
    """One sample: 3 × the median ms of a stdlib XML-RPC call to the floor server."""
    with xmlrpc.client.ServerProxy(url) as proxy:
        return 3 * time_calls(proxy.ping, settings, lost, (FLOOR, hub))


# -- the metric ----------------------------------------------------------------------------


def measure(settings: Settings, progress: Callable[[str], None] | None = log) -> MetricResult:
    """Every library's clients on every available hub, with the floor; goals checked."""
    method = (
        f"`call_and_wait` of `samp.app.ping` between two clients of one library (caller "
        f"here, responder in its own process), hub in its own process; median of "
        f"{settings.calls} calls per sample after {settings.warmup_calls} unrecorded; "
        f"{settings.warmup} warm-up round(s), {settings.repeat} interleaved repetitions. "
        f"`{REQUEST}`: asynchronous call, reply to the caller's callback server. "
        f"`{FLOOR}`: 3 × a stdlib `xmlrpc.client` → `SimpleXMLRPCServer` call on loopback "
        "(server in its own process), the least three XML-RPC hops can cost"
    )
    result = MetricResult("roundtrip", "Round trip", method)
    impls = libraries(result.notes)
    hubs, skipped = available_hubs(settings.hubs)
    result.notes += skipped
    lost = _Lost()
    per_hub: dict[str, Quantity] = {}
    with tempfile.TemporaryDirectory(prefix="minisamp-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        port = stack.enter_context(
            running_peer(["stdlib"], env=child_env(work), ready=work / "stdlib")
        )
        floor_url = f"http://127.0.0.1:{port}/"
        for hub_impl in hubs:
            quantity = Quantity(
                f"ping round trip, {hub_impl} hub", "ms", references={REQUEST, FLOOR}
            )
            try:
                _measure_hub(hub_impl, work / hub_impl, impls, floor_url, quantity,
                             settings, lost, result.notes, progress)  # fmt: skip
            except BenchError as exc:
                result.notes.append(f"{hub_impl} hub skipped: {exc}")
                continue
            per_hub[hub_impl] = quantity
    end_to_end = _end_to_end(per_hub)
    result.quantities = [end_to_end, *per_hub.values()]
    result.goals = goals(end_to_end, per_hub, hubs)
    result.notes += lost.notes(settings.timeout)
    return result


def _measure_hub(
    hub_impl: str,
    workdir: Path,
    libraries: list[str],
    floor_url: str,
    quantity: Quantity,
    settings: Settings,
    lost: _Lost,
    notes: list[str],
    progress: Callable[[str], None] | None,
) -> None:
    """Start *hub_impl*'s hub and a responder per library; interleave the four callers."""
    with running_hub(hub_impl, workdir) as hub, ExitStack() as stack:
        responders = {
            impl: stack.enter_context(
                running_peer(["ping", PEER_ARG[impl]], env=hub.env, ready=workdir / f"ping-{impl}")
            )
            for impl in libraries
        }
        runners: dict[str, Callable[[], Mapping[str, float]]] = {}
        for impl in libraries:
            runners[impl] = _runner(
                quantity.name, call_and_wait_ms, impl, responders[impl], settings, lost, hub
            )
        runners[REQUEST] = _runner(quantity.name, request_ms, responders[OURS], settings, lost, hub)
        runners[FLOOR] = _runner(quantity.name, floor_ms, floor_url, settings, lost, hub_impl)
        if progress is not None:
            progress(f"roundtrip: {', '.join(runners)} on the {hub_impl} hub")
        with environ({"SAMP_HUB": hub.env["SAMP_HUB"], "HOME": hub.env["HOME"]}):
            interleave(
                runners,
                [quantity],
                repeat=settings.repeat,
                warmup=settings.warmup,
                notes=notes,
                progress=progress,
            )


def _runner(name: str, fn: Callable[..., float], *args: Any) -> Callable[[], Mapping[str, float]]:
    return lambda: {name: fn(*args)}


def _end_to_end(per_hub: Mapping[str, Quantity]) -> Quantity:
    """Each library's clients on its own hub, with the floor measured beside minisamp's."""
    quantity = Quantity(
        "ping round trip, end to end (own clients, own hub)",
        "ms",
        references={FLOOR},
    )
    for impl, hub, row in ((OURS, OURS, OURS), (PYVO, PYVO, PYVO), (FLOOR, OURS, FLOOR)):
        if hub in per_hub and per_hub[hub].samples.get(row):
            quantity.samples[impl] = list(per_hub[hub].samples[row])
    return quantity


def goals(end_to_end: Quantity, per_hub: Mapping[str, Quantity], hubs: list[str]) -> list[Goal]:
    """≤ 1/10 of pyvo.samp end to end; client ≤ pyvo.samp's per hub; ≤ 3 × the floor."""
    out = [
        Goal.check(
            "end to end (minisamp clients + hub) ÷ pyvo.samp's (its clients + hub) ≤ 1/10",
            end_to_end.ratio(PYVO),
            lambda r: r <= 0.1,
        )
    ]
    for hub in hubs:
        ratio = per_hub[hub].ratio(PYVO) if hub in per_hub else float("nan")
        out.append(
            Goal.check(f"our client ÷ pyvo.samp's client ≤ 1 ({hub} hub)", ratio, lambda r: r <= 1)
        )
    out.append(
        Goal.check(
            "end to end ÷ (stdlib XML-RPC round trip × 3) ≤ 3",
            end_to_end.ratio(FLOOR),
            lambda r: r <= 3,
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: calls, repetitions and hubs; prints the tables and goals."""
    default = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=default.calls, help="timed calls per sample")
    parser.add_argument("--repeat", type=int, default=default.repeat)
    parser.add_argument("--hubs", default=",".join(HUBS), help="comma-separated subset of hubs")
    parser.add_argument("--quick", action="store_true", help="a few calls, one round")
    args = parser.parse_args(argv)
    hubs = tuple(h.strip() for h in args.hubs.split(",") if h.strip())
    if set(hubs) - set(HUBS):
        parser.error(f"--hubs may name only {', '.join(HUBS)}")
    if args.quick:
        settings = Settings.quick(hubs)
    else:
        settings = Settings(calls=max(1, args.calls), repeat=max(1, args.repeat), hubs=hubs)
    print(format_result(measure(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
