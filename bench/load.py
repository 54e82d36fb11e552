"""Load through a hub: N clients × M mixed messages, every delivery counted.

    python bench/load.py                              # 20 clients × 500 messages, both hubs
    python bench/load.py --nclient 5 --nquery 40      # a quick run
    python bench/load.py --hubs minisamp --no-calcstorm

For each hub (minisamp's ``python -m minisamp hub``, and JSAMP's ``jsamp hub`` if it is
installed), in its own process with a private lockfile and ``HOME``:

* **mixed load**: *nclient* minisamp clients in this process each send *nquery*
  messages, cycling through sync ``callAndWait``, async ``call`` (a future), ``notify``,
  ``notifyAll`` and ``callAll`` (a future), each to the next client round the ring (or to
  everyone).  Every recipient counts what it gets; at the end each message must have
  reached each of its recipients exactly once and every call must have had exactly
  its responses, or the run fails (exit status 1).  Reported: messages sent per
  second, callbacks delivered per second, and the latency (median, 99th percentile,
  max) of the sync and async calls.
* **calcstorm**: ``jsamp calcstorm -nclient N -nquery M`` (JSAMP's own load test: it
  checks every answer), its elapsed time and µs per message.

Standalone: it needs minisamp and, for JSAMP, the ``jsamp`` command; each hub is
stopped by its PID when its run ends.  ``tests/robustness/test_load.py`` drives the
same :func:`run_load` at CI sizes.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from minisamp import Client, ReceivedMessage
from minisamp.lockfile import is_hub_alive, read_lockfile

CALL = "x-load.echo"
NOTE = "x-load.note"
KINDS = ("sync", "async", "notify", "notify_all", "call_all")
HUBS = ("minisamp", "JSAMP")
_ELAPSED = re.compile(r"Elapsed time: (\d+) ms \((\d+) us per message\)")


# -- hubs in child processes -----------------------------------------------------------------


def hub_command(impl: str, lockfile: Path) -> list[str]:
    """The command line that runs *impl*'s hub writing *lockfile*."""
    if impl == "minisamp":
        return [sys.executable, "-m", "minisamp", "hub", "--lockfile", str(lockfile)]
    if impl == "JSAMP":
        return ["jsamp", "hub", "-mode", "no-gui", "-profiles", "std"]
    raise ValueError(f"unknown hub {impl!r}: choose from {', '.join(HUBS)}")


def hub_environ(workdir: Path) -> dict[str, str]:
    """The environment of a hub, or a JSAMP tool, using the lockfile in *workdir*."""
    lockfile = workdir / "lockfile"
    return {
        **os.environ,
        "HOME": str(workdir),
        "SAMP_HUB": f"std-lockurl:{lockfile.as_uri()}",
        "JAVA_TOOL_OPTIONS": "-Djsamp.localhost=127.0.0.1 -Djava.awt.headless=true",
    }


def missing(impl: str) -> str | None:
    """Why *impl*'s hub cannot run here, or None."""
    if impl == "JSAMP" and shutil.which("jsamp") is None:
        return "JSAMP is not installed (apt-get install jsamp)"
    return None


@contextlib.contextmanager
def running_hub(impl: str, workdir: Path, timeout: float = 30.0) -> Iterator[str]:
    """Run *impl*'s hub with its lockfile in *workdir*; yields the lockfile URL."""
    lockfile = workdir / "lockfile"
    process = subprocess.Popen(
        hub_command(impl, lockfile),
        env=hub_environ(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {impl} hub exited with status {process.returncode}")
            with contextlib.suppress(Exception), _quiet():
                info = read_lockfile(lockfile.as_uri())
                if info is not None and is_hub_alive(info.xmlrpc_url, timeout=1.0):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {impl} hub did not start within {timeout} s")
            time.sleep(0.05)  # another process writes the lockfile: there is no event to wait on
        yield lockfile.as_uri()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JSAMP chmods its lockfile just after writing it
        yield


# -- the mixed load --------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What a run did, how fast, and what went wrong (``lost``, ``duplicated``, ``errors``)."""

    nclient: int
    nquery: int
    sent: int = 0
    delivered: int = 0
    responses: int = 0
    elapsed: float = 0.0
    sync_latency: list[float] = field(default_factory=list, repr=False)
    async_latency: list[float] = field(default_factory=list, repr=False)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.errors)

    def summary(self) -> dict[str, Any]:
        """The figures, rounded, for printing or JSON."""

        def ms(values: list[float], q: float) -> float:
            if not values:
                return float("nan")
            ordered = sorted(values)
            return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

        data = {k: v for k, v in asdict(self).items() if not k.endswith("latency")}
        data.update(
            elapsed=round(self.elapsed, 2),
            messages_per_s=round(self.sent / self.elapsed) if self.elapsed else 0,
            deliveries_per_s=round(self.delivered / self.elapsed) if self.elapsed else 0,
            sync_ms_median=ms(self.sync_latency, 0.5),
            sync_ms_p99=ms(self.sync_latency, 0.99),
            sync_ms_max=ms(self.sync_latency, 1.0),
            async_ms_median=ms(self.async_latency, 0.5),
            async_ms_p99=ms(self.async_latency, 0.99),
            async_ms_max=ms(self.async_latency, 1.0),
            ok=self.ok,
        )
        for name in ("lost", "duplicated", "errors"):
            data[name] = len(getattr(self, name))
            if getattr(self, name):
                data[f"{name}_examples"] = getattr(self, name)[:5]
        return data


class _Peer:
    """One load client: what it received (message id → count), and its sends."""

    def __init__(self, index: int, lock_url: str, result: LoadResult) -> None:
        self.index = index
        self.result = result
        self.received: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.client = Client(f"load-{index}", lockfile=lock_url, workers=4, timeout=60)
        self.client.on(CALL, self._on_call, notifications=False)
        self.client.on(NOTE, self._on_note, calls=False)
        self.futures: list[tuple[str, Future[Any], float, list[str]]] = []
        self.sent = 0

    def _note(self, message: ReceivedMessage) -> None:
        with self.lock:
            self.received[str(message.params["id"])] += 1

    def _on_call(self, message: ReceivedMessage) -> dict[str, Any]:
        self._note(message)
        return {"id": message.params["id"]}

    def _on_note(self, message: ReceivedMessage) -> None:
        self._note(message)

    def send_all(self, others: list[str], nquery: int, expected: dict[str, list[str]]) -> None:
        """Send *nquery* messages; record who should get each in *expected*."""
        client = self.client
        for seq in range(nquery):
            kind = KINDS[seq % len(KINDS)]
            target = others[seq % len(others)]
            msg_id = f"{self.index}-{seq}-{kind}"
            params = {"id": msg_id}
            started = time.perf_counter()
            try:
                if kind == "sync":
                    expected[msg_id] = [target]
                    response = client.call_and_wait(target, _msg(CALL, params), 60)
                    self.result.sync_latency.append(time.perf_counter() - started)
                    if response.get("samp.result") != params:
                        self.result.errors.append(f"{msg_id}: sync response {response}")
                elif kind == "async":
                    expected[msg_id] = [target]
                    future = client.call_async(target, CALL, params, timeout=60)
                    future.add_done_callback(_stamp)
                    self.futures.append((msg_id, future, started, [target]))
                elif kind == "notify":
                    expected[msg_id] = [target]
                    client.notify(target, _msg(NOTE, params))
                elif kind == "notify_all":
                    expected[msg_id] = sorted(client.notify_all(_msg(NOTE, params)))
                else:
                    expected[msg_id] = sorted(others)
                    future = client.call_all_async(CALL, params, timeout=60)
                    future.add_done_callback(_stamp)
                    self.futures.append((msg_id, future, started, sorted(others)))
            except Exception as exc:
                self.result.errors.append(f"{msg_id}: {type(exc).__name__}: {exc}")
            self.sent += 1

    def collect(self) -> None:
        """Wait for every future; check each response came once from each recipient."""
        for msg_id, future, started, recipients in self.futures:
            try:
                outcome = future.result(90)
            except Exception as exc:
                self.result.errors.append(f"{msg_id}: {type(exc).__name__}: {exc}")
                continue
            done = getattr(future, "done_at", time.perf_counter())
            self.result.async_latency.append(done - started)
            responses = outcome if isinstance(outcome, dict) else {recipients[0]: outcome}
            if sorted(responses) != recipients:
                self.result.errors.append(f"{msg_id}: responses from {sorted(responses)}")
            for response in responses.values():
                self.result.responses += 1
                if response.result != {"id": msg_id}:
                    self.result.errors.append(f"{msg_id}: response {response}")


def _msg(mtype: str, params: dict[str, str]) -> dict[str, Any]:
    return {"samp.mtype": mtype, "samp.params": params}


def _stamp(future: Future[Any]) -> None:
    future.done_at = time.perf_counter()  # type: ignore[attr-defined]


def run_load(lock_url: str, nclient: int = 20, nquery: int = 500) -> LoadResult:
    """Run the mixed load through the hub whose lockfile is at *lock_url*."""
    result = LoadResult(nclient, nquery)
    peers = [_Peer(i, lock_url, result) for i in range(nclient)]
    try:
        for peer in peers:
            peer.client.connect()
        ids = [peer.client.get_public_id() for peer in peers]
        expected: dict[str, list[str]] = {}
        start = threading.Barrier(nclient + 1)

        def send(peer: _Peer) -> None:
            own = ids[peer.index]
            ring = ids[peer.index + 1 :] + ids[: peer.index]
            start.wait()
            peer.send_all([i for i in ring if i != own], nquery, expected)

        threads = [
            threading.Thread(target=send, args=(peer,), name=f"load-send-{peer.index}")
            for peer in peers
        ]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        result.sent = sum(peer.sent for peer in peers)
        for peer in peers:
            peer.collect()
        _wait_for_notifications(peers, ids, expected, timeout=60)
        result.elapsed = time.perf_counter() - began
        _check_deliveries(peers, ids, expected, result)
    finally:
        for peer in peers:
            peer.client.close()
    return result


def _wait_for_notifications(
    peers: list[_Peer], ids: list[str], expected: dict[str, list[str]], timeout: float
) -> None:
    total = sum(len(recipients) for recipients in expected.values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(sum(peer.received.values()) for peer in peers) >= total:
            return
        time.sleep(0.02)  # notifications have no reply: poll the counters until they add up


def _check_deliveries(
    peers: list[_Peer], ids: list[str], expected: dict[str, list[str]], result: LoadResult
) -> None:
    by_id = dict(zip(ids, peers, strict=True))
    wanted: dict[str, collections.Counter[str]] = {i: collections.Counter() for i in ids}
    for msg_id, recipients in expected.items():
        for recipient in recipients:
            wanted[recipient][msg_id] += 1
    for client_id, counts in wanted.items():
        got = by_id[client_id].received
        result.delivered += sum(got.values())
        for msg_id in counts.keys() | got.keys():
            if got[msg_id] < counts[msg_id]:
                result.lost.append(f"{msg_id} -> {client_id}")
            elif got[msg_id] > counts[msg_id]:
                result.duplicated.append(f"{msg_id} -> {client_id} x{got[msg_id]}")


# -- calcstorm -------------------------------------------------------------------------------


def run_calcstorm(workdir: Path, nclient: int, nquery: int, timeout: float = 600) -> dict[str, Any]:
    """``jsamp calcstorm`` against the hub whose lockfile is in *workdir*."""
    command = ["jsamp", "calcstorm", "-nclient", str(nclient), "-nquery", str(nquery)]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env=hub_environ(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    match = _ELAPSED.search(done.stdout + done.stderr)
    return {
        "returncode": done.returncode,
        "wall_s": round(wall, 2),
        "elapsed_ms": int(match.group(1)) if match else None,
        "us_per_message": int(match.group(2)) if match else None,
        "output_tail": (done.stdout + done.stderr)[-400:] if done.returncode else "",
    }


# -- the command line ------------------------------------------------------------------------


def measure(
    hubs: tuple[str, ...], nclient: int, nquery: int, calcstorm: bool
) -> dict[str, dict[str, Any]]:
    """Run the load (and calcstorm) through each hub in turn; the figures per hub."""
    figures: dict[str, dict[str, Any]] = {}
    for impl in hubs:
        reason = missing(impl)
        if reason is not None:
            figures[impl] = {"skipped": reason}
            continue
        with tempfile.TemporaryDirectory(prefix="minisamp-load-") as tmp:
            workdir = Path(tmp)
            with running_hub(impl, workdir) as lock_url:
                figures[impl] = run_load(lock_url, nclient, nquery).summary()
                if calcstorm and shutil.which("jsamp"):
                    figures[impl]["calcstorm"] = run_calcstorm(workdir, nclient, nquery)
    return figures


def format_figures(figures: dict[str, dict[str, Any]], nclient: int, nquery: int) -> str:
    """A Markdown table of the figures, one column per hub."""
    rows = [
        ("messages sent", "sent"),
        ("callbacks delivered (fan-out included)", "delivered"),
        ("responses to async calls", "responses"),
        ("lost / duplicated / errors", None),
        ("elapsed, s", "elapsed"),
        ("messages sent per s", "messages_per_s"),
        ("callbacks delivered per s", "deliveries_per_s"),
        ("sync callAndWait latency, median / p99 / max, ms", "sync"),
        ("async call latency, median / p99 / max, ms", "async"),
        ("calcstorm elapsed, ms", "calcstorm_ms"),
        ("calcstorm µs per message", "calcstorm_us"),
    ]
    hubs = list(figures)
    lines = [
        f"{nclient} clients × {nquery} messages each; kinds in turn: {', '.join(KINDS)}",
        "",
        "| | " + " | ".join(f"{h} hub" for h in hubs) + " |",
        "|---" * (len(hubs) + 1) + "|",
    ]
    for label, key in rows:
        cells = []
        for hub in hubs:
            data = figures[hub]
            if "skipped" in data:
                cells.append(f"skipped: {data['skipped']}")
                continue
            storm = data.get("calcstorm") or {}
            if key is None:
                cells.append(f"{data['lost']} / {data['duplicated']} / {data['errors']}")
            elif key in ("sync", "async"):
                cells.append(
                    " / ".join(str(data[f"{key}_ms_{q}"]) for q in ("median", "p99", "max"))
                )
            elif key == "calcstorm_ms":
                ok = "" if storm.get("returncode", 0) == 0 else f" (exit {storm['returncode']})"
                cells.append(f"{storm.get('elapsed_ms', '-')}{ok}")
            elif key == "calcstorm_us":
                cells.append(str(storm.get("us_per_message", "-")))
            else:
                cells.append(str(data[key]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nclient", type=int, default=20, help="clients (default 20)")
    parser.add_argument("--nquery", type=int, default=500, help="messages per client (500)")
    parser.add_argument("--hubs", default=",".join(HUBS), help="comma-separated: minisamp,JSAMP")
    parser.add_argument("--no-calcstorm", action="store_true", help="skip jsamp calcstorm")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    hubs = tuple(h.strip() for h in args.hubs.split(",") if h.strip())
    figures = measure(hubs, args.nclient, args.nquery, not args.no_calcstorm)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(format_figures(figures, args.nclient, args.nquery))
    failed = [
        hub
        for hub, data in figures.items()
        if "skipped" not in data
        and (not data["ok"] or (data.get("calcstorm") or {}).get("returncode", 0) != 0)
    ]
    for hub in failed:
        print(f"FAILED through the {hub} hub: {json.dumps(figures[hub])}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
