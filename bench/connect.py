"""Connect cost: entering and leaving ``connection()``, minisamp vs pyvo.samp.

    python -m bench.connect [--repeat 9] [--cycles 20] [--quick]

One sample is the mean time of *cycles* ``with connection(): pass`` blocks (register,
declare metadata and subscriptions, start the callback server; then unregister and
stop it) in this process, against a hub running in its own process.  Both clients
run against every available hub (minisamp's, pyvo.samp's, JSAMP's), interleaved
after a warm-up.  pyvo.samp runs with ``conf.use_internet = False``, so it binds
127.0.0.1 without probing the network.  Goal: ≤ 1/3 of pyvo.samp's time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._common import (
    OURS,
    BenchError,
    Goal,
    MetricResult,
    Quantity,
    environ,
    format_result,
    interleave,
    log,
)
from ._hubs import HUBS, RunningHub, available_hubs, running_hub

__all__ = ["main", "measure"]

ConnectionFactory = Callable[[], contextlib.AbstractContextManager[Any]]


def _ours() -> ConnectionFactory:
    try:
        factory: ConnectionFactory = importlib.import_module("minisamp").connection
    except AttributeError:
        raise BenchError("minisamp.connection does not exist yet") from None
    return factory


def _pyvo() -> ConnectionFactory:
    try:
        samp = importlib.import_module("pyvo.samp")
    except ImportError as exc:
        raise BenchError(f"pyvo is not installed (pip install pyvo): {exc}") from None
    samp.conf.use_internet = False
    factory: ConnectionFactory = samp.connection
    return factory


def cycle_time(factory: ConnectionFactory, cycles: int) -> float:
    """Mean ms per ``with factory(): pass``."""
    started = time.perf_counter()
    for _ in range(cycles):
        with factory():
            pass
    return 1000 * (time.perf_counter() - started) / cycles


def measure(
    repeat: int = 5,
    cycles: int = 10,
    hubs: tuple[str, ...] = HUBS,
    progress: Callable[[str], None] | None = log,
) -> MetricResult:
    """Both clients' connect+disconnect against each hub; goal checked on every hub."""
    method = (
        "`with connection(): pass` in one process, mean of "
        f"{cycles} cycles per sample, against a hub in its own process; "
        f"1 warm-up round, {repeat} interleaved repetitions"
    )
    result = MetricResult("connect", "Connect", method)
    factories: dict[str, ConnectionFactory] = {}
    for impl, make in ((OURS, _ours), ("pyvo.samp", _pyvo)):
        try:
            factories[impl] = make()
        except BenchError as exc:
            result.notes.append(f"{impl} skipped: {exc}")
    running, skipped = available_hubs(hubs)
    result.notes += skipped
    with tempfile.TemporaryDirectory(prefix="minisamp-bench-") as tmp:
        for hub_impl in running:
            quantity = Quantity(f"connect + disconnect, {hub_impl} hub", "ms")
            try:
                with running_hub(hub_impl, Path(tmp) / hub_impl) as hub:
                    env = {"SAMP_HUB": hub.env["SAMP_HUB"], "HOME": str(Path(tmp) / hub_impl)}
                    if progress is not None:
                        progress(f"connect: {', '.join(factories)} on the {hub_impl} hub")
                    with environ(env):
                        interleave(
                            {
                                impl: _runner(factory, quantity.name, cycles, hub)
                                for impl, factory in factories.items()
                            },
                            [quantity],
                            repeat=repeat,
                            notes=result.notes,
                            progress=progress,
                        )
            except BenchError as exc:
                result.notes.append(f"{hub_impl} hub skipped: {exc}")
                continue
            result.quantities.append(quantity)
            result.goals.append(
                Goal.check(
                    f"time ÷ pyvo.samp's ≤ 1/3 ({hub_impl} hub)",
                    quantity.ratio("pyvo.samp"),
                    lambda r: r <= 1 / 3,
                )
            )
    return result


def _runner(
    factory: ConnectionFactory, name: str, cycles: int, hub: RunningHub
) -> Callable[[], dict[str, float]]:
    def run() -> dict[str, float]:
        hub.check_alive()
        try:
            return {name: cycle_time(factory, cycles)}
        except Exception as exc:  # a client library failing is a result, not a crash
            raise BenchError(f"connection() failed: {exc!r}") from exc

    return run


def main(argv: list[str] | None = None) -> int:
    """Command line: print the tables."""
    parser = argparse.ArgumentParser(description="Connect cost: minisamp vs pyvo.samp")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--hubs", default=",".join(HUBS), help="comma-separated subset of hubs")
    parser.add_argument("--quick", action="store_true", help="1 repetition of 2 cycles")
    args = parser.parse_args(argv)
    hubs = tuple(h.strip() for h in args.hubs.split(",") if h.strip())
    if args.quick:
        result = measure(1, 2, hubs)
    else:
        result = measure(max(1, args.repeat), max(1, args.cycles), hubs)
    print(format_result(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
