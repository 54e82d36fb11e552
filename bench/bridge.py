"""The bridge: a round trip across it, and a table's bytes through it, beside SSH's floor.

    python bench/bridge.py [--quick]      # or: python -m bench --only bridge

The far side is a second Unix user reached through an sshd on 127.0.0.1, set up as in
the tests (``tests/sshfar.py``: needs root and ``openssh-server``; skipped with a note
otherwise).  Quantities, minisamp beside its floors (references):

* ``samp.app.ping`` ``call_and_wait`` from a client here to a client there, through the
  bridge (its near hub → near end → ssh → far end → far hub → the client, and back);
  beside it the same call to a client on this hub (no bridge) and a line echoed by
  ``cat`` at the other end of one ssh session (the link's own round trip).
* A VOTable of N rows (written there, by the far user) read here through the token URL
  its ``table.load.votable`` arrived with, in MB/s; beside it ``scp`` of the same file
  and ``ssh cat`` of it to /dev/null, through the same sshd; both open a connection, as
  the bridge does not for each file, so ``ssh cat`` is also shown less the time of an
  ``ssh … true`` (the connection's set-up).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/bridge.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from ._common import OURS, REPO_ROOT, BenchError, Goal, MetricResult, Quantity, format_result

__all__ = ["Settings", "main", "measure"]

PING = "ping round trip across the bridge"
TABLE = "table transfer across the bridge"
NO_BRIDGE = "same hub, no bridge"
SSH_ECHO = "ssh echo (floor)"
SCP = "scp (floor)"
SSH_CAT = "ssh cat (floor)"
SSH_CAT_OPEN = "ssh cat, less its set-up (floor)"

WRITE_TABLE = "import sys\nwrite_votable(sys.argv[1], int(sys.argv[2]))\n"

RESPONDER = """
import sys, minisamp
client = minisamp.Client("far responder")
client.connect()
client.on("bench.table", lambda msg: None)
print("up", flush=True)
sys.stdin.read()
client.close()
"""


METHOD = (
    "A client here calls (`call_and_wait`, `samp.app.ping`) a client of the far hub: "
    "the far side is a second Unix user reached through an sshd on 127.0.0.1 (as in "
    "`tests/sshfar.py`), linked by `minisamp.Bridge`; beside it the same call on one hub "
    "and a line echoed through one ssh session.  Then a VOTable written there crosses in "
    "a `table.load.votable` and is read here through its token URL, beside `scp` and "
    "`ssh cat` of the same file through the same sshd (each opening a connection, which "
    "the bridge has already: `ssh cat` is also shown less an `ssh … true`)."
)


@dataclass(frozen=True)
class Settings:
    """Pings per sample, table rows, repetitions."""

    calls: int = 100
    rows: int = 1_000_000
    repeat: int = 3

    @classmethod
    def quick(cls) -> Settings:
        return cls(calls=10, rows=10_000, repeat=1)


def _sshfar() -> Any:
    """tests/sshfar.py: the far user and sshd, written once for the tests and for this."""
    spec = importlib.util.spec_from_file_location("sshfar", REPO_ROOT / "tests" / "sshfar.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_ms(calls: int, one: Any) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        one()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _ssh_echo_ms(via: list[str], calls: int) -> float:
    process = subprocess.Popen([*via, "cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def one() -> None:
        stdin.write(b"x\n")
        stdin.flush()
        if stdout.readline() != b"x\n":
            raise BenchError("ssh cat did not echo")

    try:
        one()
        return _median_ms(calls, one)
    finally:
        stdin.close()
        process.wait(30)


def _seconds(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(settings: Settings) -> MetricResult:
    """Set up the far side, link, and measure; a note instead when it cannot run here."""
    result = MetricResult("bridge", "Bridge", METHOD)
    sshfar = _sshfar()
    reason = sshfar.missing_reason()
    if reason:
        result.notes.append(f"skipped: {reason}")
        return result
    from minisamp import Bridge, Client
    from minisamp.hub import Hub

    home = sshfar.setup_far_user()
    work = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    sshd = sshfar.Sshd(work / "sshd", home)
    via = sshd.via.split()
    python = str(home / "venv/bin/python")
    ping = result.quantities
    ping.append(Quantity(PING, "ms", references={NO_BRIDGE, SSH_ECHO}))
    ping.append(
        Quantity(TABLE, "MB/s", lower_is_better=False, references={SCP, SSH_CAT, SSH_CAT_OPEN})
    )
    hub = Hub(work / "lockfile").start()
    lock = hub.lock_url
    far_file = f"{home}/bench.vot"
    user = ["runuser", "-u", sshfar.USER, "--", "env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin"]
    responder = None
    try:
        subprocess.run(
            [
                *user,
                python,
                "-c",
                sshfar.VOTABLE_WRITER + WRITE_TABLE,
                far_file,
                str(settings.rows),
            ],
            check=True,
            cwd="/",
        )
        size = os.path.getsize(far_file)
        with (
            Bridge(via=sshd.via, remote_command=python, lockfile=lock),
            Client("bench", lockfile=lock) as near,
            Client("near responder", lockfile=lock) as local,
        ):
            responder = subprocess.Popen(
                [*user, python, "-c", RESPONDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert responder.stdout is not None
            if responder.stdout.readline().strip() != b"up":
                raise BenchError("the far responder did not start")
            _wait_for(near, "far responder")
            far_id, local_id = near.find_client_id("far responder"), local.get_public_id()
            urls: list[str] = []
            got = threading.Event()

            def on_table(msg: Any) -> None:
                urls.append(str(msg.params["url"]))
                got.set()

            near.on("table.load.votable", on_table)
            ping_msg = {"samp.mtype": "samp.app.ping", "samp.params": {}}
            setups: list[float] = []
            for round_no in range(settings.repeat + 1):
                record = round_no > 0
                values = {
                    OURS: _median_ms(
                        settings.calls, lambda: near.call_and_wait(far_id, ping_msg, 30)
                    ),
                    NO_BRIDGE: _median_ms(
                        settings.calls, lambda: near.call_and_wait(local_id, ping_msg, 30)
                    ),
                    SSH_ECHO: _ssh_echo_ms(via, settings.calls),
                }
                if record:
                    for impl, value in values.items():
                        ping[0].add(impl, value)
                got.clear()
                urls.clear()
                _send_from_far(user, python, far_file)
                if not got.wait(120):
                    raise BenchError("the table message did not cross")
                setup = _seconds(lambda: _ssh(via, "true"))
                cat = _seconds(lambda: _ssh(via, "cat", far_file))
                rates = {
                    OURS: size / 1e6 / _seconds(lambda: _read(urls[0])),
                    SCP: size / 1e6 / _seconds(lambda: _scp(sshd, far_file, work)),
                    SSH_CAT: size / 1e6 / cat,
                    SSH_CAT_OPEN: size / 1e6 / max(cat - setup, 1e-6),
                }
                setups.append(setup)
                if record:
                    for impl, value in rates.items():
                        ping[1].add(impl, value)
        result.notes.append(
            f"table: {settings.rows:,} rows, {size / 1e6:.1f} MB (TABLEDATA VOTable); "
            f"{settings.calls} pings per sample; {settings.repeat} rounds after a warm-up"
        )
        result.notes.append(
            f"ssh connection set-up (ssh … true): {1000 * statistics.median(setups):.0f} ms"
        )
        overhead = ping[0].median(OURS) - ping[0].median(NO_BRIDGE) - ping[0].median(SSH_ECHO)
        result.notes.append(f"bridge's own cost per round trip: {overhead:.2f} ms")
        result.goals.append(
            Goal.check(
                "table across ≥ 1/2 of ssh cat's throughput less its set-up",
                ping[1].median(OURS) / ping[1].median(SSH_CAT_OPEN),
                lambda ratio: ratio >= 0.5,
            )
        )
    finally:
        if responder is not None and responder.stdin is not None:
            responder.stdin.close()
            responder.wait(30)
        hub.stop()
        sshd.stop()
        subprocess.run(["rm", "-f", far_file], check=False)
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return result


def _wait_for(client: Any, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(info.name == name for info in client.clients.values()):
            return
        time.sleep(0.05)  # the directory follows hub events; a short poll is enough here
    raise BenchError(f"{name} did not appear across the bridge")


def _send_from_far(user: list[str], python: str, path: str) -> None:
    code = (
        "import sys, minisamp\n"
        "with minisamp.Client('far sender') as c:\n"
        "    params = {'url': 'file://' + sys.argv[1]}\n"
        "    m = {'samp.mtype': 'table.load.votable', 'samp.params': params}\n"
        "    c.call_and_wait(c.find_client_id('bench'), m, 120)\n"
    )
    subprocess.run([*user, python, "-c", code, path], check=True, cwd="/", timeout=180)


def _read(url: str) -> None:
    with urllib.request.urlopen(url, timeout=120) as reply:
        while reply.read(1 << 20):
            pass


def _scp(sshd: Any, path: str, work: Path) -> None:
    target = work / "scp.vot"
    command = ["scp", "-q", "-P", str(sshd.port), "-i", str(sshd.key)]
    command += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
    command += ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    subprocess.run([*command, f"{_user(sshd)}@127.0.0.1:{path}", str(target)], check=True)
    target.unlink()


def _user(sshd: Any) -> str:
    return str(sshd.via.split()[-1].split("@")[0])


def _ssh(via: list[str], *command: str) -> None:
    subprocess.run([*via, *command], check=True, stdout=subprocess.DEVNULL, timeout=300)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--quick`` for a tiny table and a few pings."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 10 pings, one round")
    parser.add_argument("--rows", type=int, default=Settings.rows)
    parser.add_argument("--repeat", type=int, default=Settings.repeat)
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings(rows=args.rows, repeat=args.repeat)
    print(format_result(measure(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
