"""Sending tables: ``send_table_to`` and ``accessible_table``, minisamp vs pyvo.samp.

    python bench/table_send.py                # or: python -m bench.table_send
    python bench/table_send.py --quick        # 1,000 rows, one round
    python bench/table_send.py --sizes 10000,100000 --repeat 9

Tables of N rows × 4 columns (int64 id, float64 ra, str name, float64 dec), for N in
1e4, 1e5, 1e6.  Two operations, each library's own function, each measurement in a
fresh Python process:

* **send_table_to**: the sender enters its library's ``connection()`` and calls
  ``send_table_to(conn, table, client_name=…)``, which writes the VOTable and waits for
  the receiver's acknowledgement.  The receiver (:mod:`bench._peer`, a client in its
  own process) acknowledges ``table.load.*`` without reading the file; the hub is
  JSAMP's (the reference implementation, neither contestant), or minisamp's if JSAMP
  is not installed.
* **accessible_table**: ``with accessible_table(table) as url: pass`` (write the
  temporary VOTable, then delete it).

In the child, both libraries' modules (and ``astropy.io.votable``, which pyvo.samp
imports up front) are imported and the table built first; then the peak-RSS mark is
reset (Linux ``/proc/self/clear_refs``), the RSS taken as baseline, the operation
timed, and the peak read (``VmHWM``).  Reported: wall time and peak RSS; the peak
above the baseline (what the operation itself needed) is in a note.  Runs interleave
minisamp and pyvo.samp after a warm-up round, except at 1e6 rows, where pyvo.samp
needs ~20 s per operation: there fewer rounds and no warm-up (see ``Settings``).
Goal: ``send_table_to`` of 1e6 rows ≥ 20× faster than pyvo.samp's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/table_send.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    OURS,
    PYVO,
    REPO_ROOT,
    BenchError,
    Goal,
    MetricResult,
    Quantity,
    format_result,
    interleave,
    libraries,
    log,
    running_peer,
)
from bench._peer import TABLE_RECEIVER

__all__ = ["Settings", "main", "make_table", "measure"]

#: Library name → the argument that picks it in the child.
CHILD_ARG = {OURS: "minisamp", PYVO: "pyvo"}
OPERATIONS = ("send_table_to", "accessible_table")
TIME, PEAK = "wall time", "peak RSS"
BIG = 1_000_000
GOAL_ADVANTAGE = 20.0
CHILD_TIMEOUT = 300.0


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions; sizes ≥ 1e6 rows get *big_repeat* rounds, no warm-up."""

    sizes: tuple[int, ...] = (10_000, 100_000, BIG)
    repeat: int = 5
    warmup: int = 1
    big_repeat: int = 3

    @classmethod
    def quick(cls) -> Settings:
        """One small table, one round: checks the machinery, says little about speed."""
        return cls(sizes=(1_000,), repeat=1, warmup=0, big_repeat=1)

    def rounds(self, n: int) -> tuple[int, int]:
        """(warm-up rounds, recorded rounds) for tables of *n* rows."""
        return (0, self.big_repeat) if n >= BIG else (self.warmup, self.repeat)


# -- the child: one measurement -----------------------------------------------------------


def make_table(n: int) -> Any:
    """The benchmark table: N rows of int, float, string, float."""
    import numpy as np
    from astropy.table import Table

    rng = np.random.default_rng(12345)
    return Table(
        {
            "id": np.arange(n, dtype=np.int64),
            "ra": rng.uniform(0.0, 360.0, n),
            "name": np.char.add("src", np.arange(n).astype(str)),
            "dec": rng.uniform(-90.0, 90.0, n),
        }
    )


def _status_kib(field_name: str) -> int | None:
    """A ``Vm…`` field of /proc/self/status in KiB (None where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_kib() -> int:
    # VmHWM, not ru_maxrss: a child's ru_maxrss also counts its parent's pages at exec.
    peak = _status_kib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def _library(impl: str) -> Any:
    """The module with *impl*'s ``connection``, ``send_table_to``, ``accessible_table``."""
    import astropy.io.votable  # noqa: F401  (pyvo.samp imports it up front; so do we here)

    if impl == "pyvo":
        import pyvo.samp

        pyvo.samp.conf.use_internet = False
        return pyvo.samp
    import minisamp
    import minisamp.tables  # imported on first use; import time is not what we measure

    return minisamp


@contextlib.contextmanager
def _connected(impl: str, library: Any) -> Iterator[Any]:
    extra = {"addr": "127.0.0.1"} if impl == "pyvo" else {}
    with library.connection("bench-table-sender", **extra) as conn:
        yield conn


def child(operation: str, impl: str, n: int) -> dict[str, Any]:
    """One measurement of *operation* by *impl* on *n* rows, in this (fresh) process."""
    import warnings

    warnings.simplefilter("ignore")
    library = _library(impl)
    table = make_table(n)
    with contextlib.ExitStack() as stack:
        conn = None
        if operation == "send_table_to":
            conn = stack.enter_context(_connected(impl, library))
        reset = _reset_peak()
        baseline = _status_kib("VmRSS") if reset else None
        started = time.perf_counter()
        if conn is not None:
            library.send_table_to(conn, table, client_name=TABLE_RECEIVER)
            size = 0
        else:
            with library.accessible_table(table) as url:
                path = Path(url.removeprefix("file://"))
                size = path.stat().st_size
            if path.exists():
                raise BenchError(f"{impl}'s accessible_table left {path} behind")
        elapsed = time.perf_counter() - started
        peak = _peak_kib()
    return {
        "seconds": elapsed,
        "peak_kib": peak,
        "delta_kib": None if baseline is None else max(0, peak - baseline),
        "bytes": size,
    }


def run_child(operation: str, impl: str, n: int, env: Mapping[str, str]) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter; its JSON result."""
    args = [sys.executable, "-m", "bench.table_send", "--child", operation, CHILD_ARG[impl]]
    try:
        done = subprocess.run(
            [*args, str(n)],
            env=dict(env),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{operation} by {impl}, {n:,} rows: over {exc.timeout:g} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{operation} by {impl}, {n:,} rows failed: {done.stderr[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the metric ----------------------------------------------------------------------------


def _name(operation: str, what: str, n: int) -> str:
    return f"{operation} {what}, {n:,} rows"


@dataclass
class _Extras:
    """What the tables do not show: memory above the baseline, file sizes."""

    delta_mib: dict[tuple[str, str, int], list[float]]
    file_mb: dict[tuple[str, int], float]

    def notes(self) -> list[str]:
        out = []
        impls = sorted({impl for _, impl, _ in self.delta_mib}, key=lambda i: i != OURS)
        keys = sorted(
            {(op, n) for op, _, n in self.delta_mib}, key=lambda k: (OPERATIONS.index(k[0]), k[1])
        )
        if keys:
            lines = [f"{'operation':<17} {'rows':>9}" + "".join(f"{i:>11}" for i in impls)]
            for op, n in keys:
                cells = "".join(_delta(self.delta_mib.get((op, impl, n))) for impl in impls)
                lines.append(f"{op:<17} {n:>9,}{cells}")
            out.append(
                "memory the operation itself needed: peak RSS − RSS just before it "
                "(MB, medians; near 0 means it fit in memory the process already held, "
                "e.g. freed while building the table)\n" + "\n".join(lines)
            )
        if self.file_mb:
            sizes = ", ".join(
                f"{impl} {n:,} rows {mb:.1f} MB" for (impl, n), mb in self.file_mb.items()
            )
            out.append(f"VOTable file sizes: {sizes}")
        return out


def _delta(values: list[float] | None) -> str:
    return f"{'+' + format(statistics.median(values), '.1f'):>11}" if values else f"{'–':>11}"


def _runner(
    impl: str, n: int, env: Mapping[str, str], extras: _Extras
) -> Callable[[], Mapping[str, float]]:
    def run() -> Mapping[str, float]:
        values: dict[str, float] = {}
        for operation in OPERATIONS:
            got = run_child(operation, impl, n, env)
            values[_name(operation, TIME, n)] = got["seconds"]
            values[_name(operation, PEAK, n)] = got["peak_kib"] / 1024
            if got["delta_kib"] is not None:
                key = (operation, impl, n)
                extras.delta_mib.setdefault(key, []).append(got["delta_kib"] / 1024)
            if got["bytes"]:
                extras.file_mb[impl, n] = got["bytes"] / 1e6
        return values

    return run


def _hubs() -> Any:
    """:mod:`bench._hubs`, imported late: it loads minisamp, which a pyvo child must not."""
    return importlib.import_module("bench._hubs")


def _hub_choice(notes: list[str]) -> str:
    if _hubs().missing_reason("JSAMP") is None:
        return "JSAMP"
    notes.append("send_table_to ran on minisamp's hub: JSAMP is not installed")
    return OURS


def measure(settings: Settings, progress: Callable[[str], None] | None = log) -> MetricResult:
    """Both operations, both libraries, every size; interleaved; the goal checked."""
    big_note = (
        f"; at ≥ {BIG:,} rows {settings.big_repeat} round(s) and no warm-up (pyvo.samp "
        "takes ~20 s per operation there)"
        if any(n >= BIG for n in settings.sizes)
        else ""
    )
    method = (
        "`send_table_to(conn, table, client_name=…)` inside each library's `connection()` "
        "to a client in its own process that acknowledges unread, through a hub in its own "
        "process; and `with accessible_table(table): pass`. N rows × 4 columns (int, float, "
        "str, float); each measurement a fresh process, imports and the table made before "
        f"the clock starts; {settings.warmup} warm-up round(s), {settings.repeat} "
        f"interleaved repetitions{big_note}"
    )
    result = MetricResult("tables", "Tables", method)
    impls = libraries(result.notes)
    by_name = {
        _name(op, what, n): Quantity(_name(op, what, n), "s" if what == TIME else "MB")
        for op in OPERATIONS
        for what in (TIME, PEAK)
        for n in settings.sizes
    }
    result.quantities = list(by_name.values())
    extras = _Extras({}, {})
    hub_impl = _hub_choice(result.notes)

    with tempfile.TemporaryDirectory(prefix="minisamp-bench-") as tmp:
        work = Path(tmp) / hub_impl
        with _hubs().running_hub(hub_impl, work) as hub, running_peer(
            ["tables"], env=hub.env, ready=work / "receiver"
        ):  # fmt: skip
            for n in settings.sizes:
                warmup, repeat = settings.rounds(n)
                if progress is not None:
                    progress(f"tables: {n:,} rows, {', '.join(impls)} (hub: {hub_impl})")
                interleave(
                    {impl: _runner(impl, n, hub.env, extras) for impl in impls},
                    [by_name[_name(op, what, n)] for op in OPERATIONS for what in (TIME, PEAK)],
                    repeat=repeat,
                    warmup=warmup,
                    notes=result.notes,
                    progress=progress,
                )
    result.notes += extras.notes()
    send_big = by_name.get(_name("send_table_to", TIME, BIG))
    advantage = send_big.advantage(PYVO) if send_big is not None else float("nan")
    result.goals.append(
        Goal.check(
            f"send_table_to {BIG:,} rows: ≥ {GOAL_ADVANTAGE:g}× faster than pyvo.samp "
            "(pyvo.samp's time ÷ minisamp's)",
            advantage,
            lambda a: a >= GOAL_ADVANTAGE,
        )
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: sizes and repetitions; prints the tables and the goal."""
    default = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 rows, one round")
    parser.add_argument(
        "--sizes", default=",".join(map(str, default.sizes)), help="comma-separated row counts"
    )
    parser.add_argument("--repeat", type=int, default=default.repeat)
    parser.add_argument(
        "--big-repeat", type=int, default=default.big_repeat, help=f"rounds at ≥ {BIG:,} rows"
    )
    parser.add_argument("--child", nargs=3, metavar=("OP", "IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        operation, impl, n = args.child
        print(json.dumps(child(operation, impl, int(n))))
        return 0
    if args.quick:
        settings = Settings.quick()
    else:
        sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
        settings = Settings(sizes, max(1, args.repeat), big_repeat=max(1, args.big_repeat))
    print(format_result(measure(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
