"""Round-trip latency and notify throughput: minisamp's client vs pyvo's, on several hubs.

For each hub (pyvo's, minisamp's when ``minisamp.hub`` imports, JSAMP's when ``jsamp``
is installed; each in its own process) two clients A and B of one library register,
and we measure:

* ``call_and_wait`` of ``samp.app.ping`` A→B: median and p90 (the hub's callAndWait);
* for minisamp, also ``request`` (async call + receiveResponse, no callAndWait);
* notify: N notifications A→B, messages per second until the last one is handled.

The floor is a raw stdlib ``xmlrpc.client`` → ``SimpleXMLRPCServer`` request/response on
loopback: a SAMP round trip is at least four of those (A→hub, hub→B, B→hub, hub→A).

Run: ``python bench/roundtrip.py [--calls 300] [--notifies 500]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
import xmlrpc.server
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HUB_SCRIPTS = {
    "pyvo": (
        "from pyvo.samp import SAMPHubServer; import threading; "
        "h = SAMPHubServer(web_profile=False, addr='127.0.0.1'); h.start(); "
        "threading.Event().wait()"
    ),
    "minisamp": (
        "from minisamp.hub import Hub; import threading; "
        "h = Hub(); h.start(); threading.Event().wait()"
    ),
}


def hub_kinds() -> list[str]:
    kinds = ["pyvo"]
    with contextlib.suppress(ImportError):
        import minisamp.hub  # noqa: F401

        kinds.append("minisamp")
    if shutil.which("jsamp"):
        kinds.append("jsamp")
    return kinds


@contextlib.contextmanager
def running_hub(kind: str, lockfile: Path) -> Iterator[None]:
    """Start a hub of *kind* in a subprocess on *lockfile*; SAMP_HUB points at it."""
    os.environ["SAMP_HUB"] = f"std-lockurl:{lockfile.as_uri()}"
    if kind == "jsamp":
        command = ["jsamp", "hub", "-mode", "no-gui", "-profiles", "std"]
    else:
        command = [sys.executable, "-c", HUB_SCRIPTS[kind]]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from minisamp.lockfile import is_hub_alive, read_lockfile

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                info = read_lockfile(lockfile.as_uri())
                if info and is_hub_alive(info.xmlrpc_url):
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{kind} hub did not start")
        yield
    finally:
        process.terminate()
        process.wait(15)
        with contextlib.suppress(FileNotFoundError):
            lockfile.unlink()


def timings(function: Callable[[], Any], count: int) -> list[float]:
    for _ in range(min(20, count)):
        function()  # warm up connections and caches
    out = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        out.append(time.perf_counter() - started)
    return out


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(0.9 * (len(ordered) - 1))] * 1000


def floor(count: int) -> float:
    """Median ms of a stdlib XML-RPC request/response on loopback."""
    server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
    server.register_function(lambda: "", "ping")
    thread = threading.Thread(target=server.serve_forever, name="bench-floor", daemon=True)
    thread.start()
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        return summary(timings(proxy.ping, count))[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def notify_rate(send: Callable[[], Any], done: threading.Event, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        send()
    if not done.wait(60):
        return float("nan")
    return count / (time.perf_counter() - started)


def bench_minisamp(calls: int, notifies: int) -> dict[str, float]:
    import minisamp

    results: dict[str, float] = {}
    with minisamp.Client("bench-a") as a, minisamp.Client("bench-b") as b:
        bid = b.get_public_id()
        ping = {"samp.mtype": "samp.app.ping", "samp.params": {}}
        lost = [0]

        def call_and_wait() -> None:
            try:
                a.call_and_wait(bid, ping, "10")
            except minisamp.SAMPProxyTimeoutError:
                lost[0] += 1  # pyvo's hub loses some replies (its callAndWait race)

        results["call_and_wait"], results["call_and_wait p90"] = summary(
            timings(call_and_wait, calls)
        )
        results["lost replies"] = lost[0]
        results["request"], results["request p90"] = summary(
            timings(lambda: a.request(bid, "samp.app.ping", timeout=10), calls)
        )
        seen, done = [0], threading.Event()
        lock = threading.Lock()

        def count(msg: Any) -> None:
            with lock:
                seen[0] += 1
                if seen[0] == notifies:
                    done.set()

        b.on("bench.note", count)
        results["notify/s"] = notify_rate(lambda: a.enotify(bid, "bench.note"), done, notifies)
    return results


def bench_pyvo(calls: int, notifies: int) -> dict[str, float]:
    from pyvo.samp import SAMPIntegratedClient, conf

    conf.use_internet = False
    a = SAMPIntegratedClient("bench-a", addr="127.0.0.1")
    b = SAMPIntegratedClient("bench-b", addr="127.0.0.1")
    a.connect()
    b.connect()
    results: dict[str, float] = {}
    try:
        bid = b.get_public_id()
        lost = [0]

        def ping() -> None:
            try:
                a.ecall_and_wait(bid, "samp.app.ping", "10")
            except Exception:
                lost[0] += 1  # pyvo's hub loses some replies (its callAndWait race)

        results["call_and_wait"], results["call_and_wait p90"] = summary(timings(ping, calls))
        results["lost replies"] = lost[0]
        seen, done = [0], threading.Event()
        lock = threading.Lock()

        def count(*args: Any) -> None:
            with lock:
                seen[0] += 1
                if seen[0] == notifies:
                    done.set()

        b.bind_receive_notification("bench.note", count)
        results["notify/s"] = notify_rate(lambda: a.enotify(bid, "bench.note"), done, notifies)
    finally:
        a.disconnect()
        b.disconnect()
    return results


def best_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Per measure, the median over rounds (rate: higher is better, both fine as medians)."""
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--notifies", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per library")
    args = parser.parse_args()
    print(f"floor (stdlib XML-RPC round trip): {floor(args.calls * 3):.3f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp
        for kind in hub_kinds():
            with running_hub(kind, Path(tmp) / f"lock-{kind}"):
                bench_minisamp(args.calls, args.notifies)  # warm the hub up (JSAMP's JIT)
                ours_rounds, theirs_rounds = [], []
                for _ in range(args.rounds):  # alternate, so neither library gets a warmer hub
                    theirs_rounds.append(bench_pyvo(args.calls, args.notifies))
                    ours_rounds.append(bench_minisamp(args.calls, args.notifies))
                ours, theirs = best_of(ours_rounds), best_of(theirs_rounds)
            print(f"\nhub: {kind}  (median of {args.rounds} alternating rounds)")
            print(f"  {'':22} {'minisamp':>10} {'pyvo':>10} {'ratio':>8}")
            for key in ("call_and_wait", "call_and_wait p90"):
                ratio = theirs[key] / ours[key]
                print(f"  {key + ' ms':22} {ours[key]:10.2f} {theirs[key]:10.2f} {ratio:7.1f}x")
            req = ours["request"]
            print(f"  {'request ms':22} {req:10.2f} {'':>10} {theirs['call_and_wait'] / req:7.1f}x")
            rate = ours["notify/s"] / theirs["notify/s"]
            line = f"{ours['notify/s']:10.0f} {theirs['notify/s']:10.0f} {rate:7.1f}x"
            print(f"  {'notify msgs/s':22} {line}")
            for name, rounds in (("minisamp", ours_rounds), ("pyvo", theirs_rounds)):
                lost = sum(r["lost replies"] for r in rounds)
                print(f"  {name} call_and_wait replies lost by the hub: {lost:.0f}", end="")
                print(f" of {args.calls * args.rounds}")


if __name__ == "__main__":
    main()
