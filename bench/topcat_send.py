"""Large tables into TOPCAT: from the call until the table is usable there, and the FITS writer.

    python bench/topcat_send.py                 # or: python -m bench.topcat_send
    python bench/topcat_send.py --quick         # 10,000 rows, one round
    python bench/topcat_send.py --sizes 100000,1000000 --repeat 5

**End to end** (``topcat``): a real TOPCAT (the Debian package, under a private Xvfb)
registered with JSAMP's hub; tables of N rows × 6 columns (int64, 2 × float64,
float32, str, bool), N = 1e5 and 1e6.  Each measurement is a fresh Python process
that builds the table, connects, then starts the clock, sends, and polls TOPCAT with
``table.highlight.row`` on the table's id (TOPCAT answers ``samp.error`` until the
table is loaded) until it succeeds: "call → usable in TOPCAT".  Side by side:

* **minisamp**: ``send_table_to(conn, t, client_name="topcat")``, its default: FITS-plus
  (``table.load.stil``, ``format=fits-plus``) above ``tables.FITS_MIN_BYTES``;
* **minisamp VOTable**: the same with ``format="votable"`` (BINARY2);
* **pyvo.samp**: its ``send_table_to`` (TABLEDATA; no table-id, so the probe names the
  URL it sent); at 1e6 rows one round (it takes about a minute);
* **pre-written FITS (floor)**: the FITS file is written before the clock starts; the
  clock covers a raw ``table.load.fits`` call and the probe.

Goal: 1e6 rows usable in TOPCAT within 3 × the floor.

**The writer alone** (``fits_writer``): writing the same table to a FITS file, each in a
fresh process: ours (:func:`minisamp.tables.write_fits`, FITS-plus) against astropy's
``Table.write(format="fits")`` with the str column encoded to bytes first (inside the
clock), and as given.  Wall time and the peak RSS above the RSS just before the write.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/topcat_send.py`: make `bench` importable
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
)
from bench.table_send import _peak_kib, _reset_peak, _status_kib

__all__ = ["Settings", "main", "make_table", "measure", "measure_writer"]

VOTABLE_REF = "minisamp VOTable"
FLOOR = "pre-written FITS (floor)"
ASTROPY_BYTES = "astropy, str encoded first"
ASTROPY_GIVEN = "astropy, as given"
BIG = 1_000_000
GOAL_FACTOR = 3.0
CHILD_TIMEOUT = 300.0
PROBE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions; pyvo.samp gets *big_repeat* rounds at ≥ 1e6 rows."""

    sizes: tuple[int, ...] = (100_000, BIG)
    repeat: int = 3
    warmup: int = 1
    big_repeat: int = 1

    @classmethod
    def quick(cls) -> Settings:
        """One small table, one round: checks the machinery, says little about speed."""
        return cls(sizes=(10_000,), repeat=1, warmup=0, big_repeat=1)


def make_table(n: int) -> Any:
    """N rows of int64, float64, float64, float32, str, bool (the issue's table)."""
    import numpy as np
    from astropy.table import Table

    rng = np.random.default_rng(12345)
    return Table(
        {
            "id": np.arange(n, dtype=np.int64),
            "ra": rng.uniform(0.0, 360.0, n),
            "dec": rng.uniform(-90.0, 90.0, n),
            "mag": rng.uniform(10.0, 20.0, n).astype(np.float32),
            "name": np.char.add("src", np.arange(n).astype(str)),
            "flag": np.arange(n) % 3 == 0,
        }
    )


# -- the child: one measurement -----------------------------------------------------------


def _probe(conn: Any, topcat: str, table_id: str | None, url: str | None) -> None:
    """Return once TOPCAT highlights row 0 of the table (it errs until it has it)."""
    params = {"row": "0", **({"table-id": table_id} if table_id else {"url": url or ""})}
    message = {"samp.mtype": "table.highlight.row", "samp.params": params}
    deadline = time.monotonic() + PROBE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            response = conn.call_and_wait(topcat, message, "30")
        except Exception:  # pyvo raises for samp.error, we return it
            response = {}
        if response.get("samp.status") == "samp.ok":
            return
        time.sleep(0.005)  # polling TOPCAT's table list: there is no event to wait for
    raise BenchError(f"TOPCAT did not show table {table_id or url} within {PROBE_TIMEOUT} s")


def child_send(impl: str, n: int, topcat: str, workdir: str) -> dict[str, float]:
    """One "call → usable in TOPCAT" of *n* rows by *impl*, in this fresh process."""
    import warnings

    warnings.simplefilter("ignore")
    import astropy.io.votable  # noqa: F401  (pyvo.samp imports it up front)

    table = make_table(n)
    table_id = f"bench-{uuid.uuid4().hex[:12]}"
    if impl == "pyvo":
        import pyvo.samp as library

        library.conf.use_internet = False
        connection = library.connection("bench-topcat-sender", addr="127.0.0.1")
    else:
        import minisamp as library
        import minisamp.tables

        connection = library.connection("bench-topcat-sender")
    with connection as conn:
        if impl == "floor":
            path = Path(workdir) / f"{table_id}.fits"
            with open(path, "wb") as fh:
                minisamp.tables.write_fits(table, fh)
        started = time.perf_counter()
        if impl == "pyvo":
            sent: list[str] = []
            call = conn.call_and_wait

            def spy(recipient: str, message: Any, timeout: str) -> Any:
                sent.append(message["samp.params"]["url"])
                return call(recipient, message, timeout)

            conn.call_and_wait = spy
            library.send_table_to(conn, table, client_name="topcat", name=table_id)
            conn.call_and_wait = call
            _probe(conn, topcat, None, sent[0])
        elif impl == "floor":
            params = {"url": path.as_uri(), "table-id": table_id, "name": table_id}
            message = {"samp.mtype": "table.load.fits", "samp.params": params}
            response = conn.call_and_wait(topcat, message, "60")
            if response.get("samp.status") != "samp.ok":
                raise BenchError(f"TOPCAT refused the FITS file: {response}")
            _probe(conn, topcat, table_id, None)
        else:
            fmt = "votable" if impl == "votable" else None
            library.send_table_to(
                conn, table, client_name="topcat", table_id=table_id, timeout=60, format=fmt
            )
            _probe(conn, topcat, table_id, None)
        return {"seconds": time.perf_counter() - started}


def child_write(impl: str, n: int, workdir: str) -> dict[str, float]:
    """Write *n* rows as FITS with *impl*'s writer in this fresh process: time, memory."""
    import warnings

    warnings.simplefilter("ignore")
    import numpy as np
    from astropy.io import fits  # noqa: F401  (imports are not what we measure)

    import minisamp.tables

    table = make_table(n)
    path = Path(workdir) / f"w-{uuid.uuid4().hex[:8]}.fits"
    reset = _reset_peak()
    baseline = _status_kib("VmRSS") if reset else None
    started = time.perf_counter()
    if impl == "minisamp":
        with open(path, "wb") as fh:
            minisamp.tables.write_fits(table, fh)
    elif impl == "bytes":
        encoded = table.copy(copy_data=False)
        encoded["name"] = np.char.encode(table["name"], "ascii")
        encoded.write(path, format="fits")
    else:
        table.write(path, format="fits")
    elapsed = time.perf_counter() - started
    peak = _peak_kib()
    path.unlink()
    delta = float("nan") if baseline is None else max(0, peak - baseline) / 1024
    return {"seconds": elapsed, "delta_mib": delta}


def run_child(args: list[str], env: Mapping[str, str]) -> dict[str, float]:
    """Run this module's child mode with *args*; its JSON result."""
    command = [sys.executable, "-m", "bench.topcat_send", "--child", *args]
    try:
        done = subprocess.run(
            command,
            env=dict(env),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(args)}: over {exc.timeout:g} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed: {done.stderr[-800:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- TOPCAT, running ----------------------------------------------------------------------


@contextmanager
def running_topcat(work: Path) -> Iterator[tuple[dict[str, str], str]]:
    """JSAMP's hub and TOPCAT under a private Xvfb: (the clients' environment, its id)."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    try:
        import desktop  # tests/desktop.py: the launcher our interop tests use
    except ImportError as exc:
        raise BenchError(f"cannot import tests/desktop.py ({exc}): pip install pytest") from exc
    from _pytest.outcomes import Skipped

    from bench._hubs import missing_reason, running_hub

    if missing_reason("JSAMP") is not None:
        raise BenchError(f"JSAMP's hub is needed: {missing_reason('JSAMP')}")
    try:
        with running_hub("JSAMP", work / "hub") as hub, desktop.running_xvfb(work) as display:
            app = desktop.start_app("topcat", display, hub.lockfile, work, "table.load.fits")
            try:
                yield hub.env, app.client_id
            finally:
                app.stop()
    except Skipped as exc:
        raise BenchError(str(exc)) from None


# -- the metrics ---------------------------------------------------------------------------


def _name(what: str, n: int) -> str:
    return f"{what}, {n:,} rows"


def measure(settings: Settings, progress: Callable[[str], None] | None = log) -> MetricResult:
    """Call → usable in TOPCAT for every size: ours (both paths), pyvo's, the floor."""
    method = (
        "Call → table usable in TOPCAT 4.8.7 (under Xvfb, on JSAMP's hub): "
        '`send_table_to(conn, t, client_name="topcat")` in a fresh process per '
        "measurement, then `table.highlight.row` on its table-id until TOPCAT answers "
        "samp.ok. N rows × 6 columns (int64, 2 × float64, float32, str, bool). "
        f"minisamp: its default (FITS-plus above `FITS_MIN_BYTES`); {VOTABLE_REF}: "
        '`format="votable"`; the floor: a FITS file written before the clock, sent raw '
        f"as `table.load.fits`. {settings.warmup} warm-up round(s), {settings.repeat} "
        f"interleaved rounds; pyvo.samp {settings.big_repeat} round(s) at ≥ {BIG:,} rows"
    )
    result = MetricResult("topcat", "Tables into TOPCAT", method)
    impls = libraries(result.notes)
    by_name = {
        _name("call → usable", n): Quantity(_name("call → usable", n), "s") for n in settings.sizes
    }
    for quantity in by_name.values():
        quantity.references |= {VOTABLE_REF, FLOOR}
    result.quantities = list(by_name.values())
    with tempfile.TemporaryDirectory(prefix="minisamp-bench-topcat-") as tmp:
        work = Path(tmp)
        with running_topcat(work) as (env, topcat):
            for n in settings.sizes:
                quantity = by_name[_name("call → usable", n)]
                runners = {
                    OURS: _send_runner("minisamp", n, topcat, env, work, quantity.name),
                    VOTABLE_REF: _send_runner("votable", n, topcat, env, work, quantity.name),
                    FLOOR: _send_runner("floor", n, topcat, env, work, quantity.name),
                }
                if progress is not None:
                    progress(f"topcat: {n:,} rows")
                interleave(
                    runners,
                    [quantity],
                    repeat=settings.repeat,
                    warmup=settings.warmup,
                    notes=result.notes,
                    progress=progress,
                )
                if PYVO in impls:
                    rounds = settings.big_repeat if n >= BIG else settings.repeat
                    pyvo = {PYVO: _send_runner("pyvo", n, topcat, env, work, quantity.name)}
                    interleave(
                        pyvo,
                        [quantity],
                        repeat=rounds,
                        warmup=0,
                        notes=result.notes,
                        progress=progress,
                    )
    big = by_name.get(_name("call → usable", BIG))
    factor = big.median(OURS) / big.median(FLOOR) if big is not None else float("nan")
    result.goals.append(
        Goal.check(
            f"{BIG:,} rows usable in TOPCAT within {GOAL_FACTOR:g}× the pre-written-FITS floor "
            "(minisamp's time ÷ the floor's)",
            factor,
            lambda f: f <= GOAL_FACTOR,
        )
    )
    return result


def _send_runner(
    impl: str, n: int, topcat: str, env: Mapping[str, str], work: Path, name: str
) -> Callable[[], Mapping[str, float]]:
    def run() -> Mapping[str, float]:
        got = run_child(["send", impl, str(n), topcat, str(work)], env)
        return {name: got["seconds"]}

    return run


def measure_writer(
    settings: Settings, progress: Callable[[str], None] | None = log
) -> MetricResult:
    """Our FITS writer against astropy's, alone, in fresh processes."""
    method = (
        "Writing the same N × 6 table to a FITS file: minisamp's `write_fits` (FITS-plus) "
        f'against astropy\'s `Table.write(format="fits")`, with the str column encoded to '
        "bytes first (inside the clock) and as given; a fresh process per measurement; "
        f"{settings.warmup} warm-up round(s), {settings.repeat} interleaved rounds"
    )
    result = MetricResult("fits_writer", "FITS writer", method)
    quantities: list[Quantity] = []
    with tempfile.TemporaryDirectory(prefix="minisamp-bench-fits-") as tmp:
        for n in settings.sizes:
            time_q = Quantity(_name("write time", n), "s")
            memory_q = Quantity(_name("peak RSS above the table", n), "MB")
            quantities += [time_q, memory_q]
            runners = {
                impl: _write_runner(arg, n, tmp, time_q.name, memory_q.name)
                for impl, arg in (
                    (OURS, "minisamp"),
                    (ASTROPY_BYTES, "bytes"),
                    (ASTROPY_GIVEN, "given"),
                )
            }
            if progress is not None:
                progress(f"fits_writer: {n:,} rows")
            interleave(
                runners,
                [time_q, memory_q],
                repeat=settings.repeat,
                warmup=settings.warmup,
                notes=result.notes,
                progress=progress,
            )
    result.quantities = quantities
    return result


def _write_runner(
    impl: str, n: int, work: str, time_name: str, memory_name: str
) -> Callable[[], Mapping[str, float]]:
    def run() -> Mapping[str, float]:
        got = run_child(["write", impl, str(n), work], {})
        return {time_name: got["seconds"], memory_name: got["delta_mib"]}

    return run


def main(argv: list[str] | None = None) -> int:
    """Command line: sizes and repetitions; prints both metrics and the goal."""
    default = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, one round")
    parser.add_argument(
        "--sizes", default=",".join(map(str, default.sizes)), help="comma-separated row counts"
    )
    parser.add_argument("--repeat", type=int, default=default.repeat)
    parser.add_argument("--only", choices=("topcat", "fits_writer"), help="one of the two")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, impl, n, *rest = args.child
        if kind == "send":
            print(json.dumps(child_send(impl, int(n), rest[0], rest[1])))
        else:
            print(json.dumps(child_write(impl, int(n), rest[0])))
        return 0
    if args.quick:
        settings = Settings.quick()
    else:
        sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
        settings = Settings(sizes, max(1, args.repeat))
    if args.only in (None, "fits_writer"):
        print(format_result(measure_writer(settings)), end="\n\n", flush=True)
    if args.only in (None, "topcat"):
        print(format_result(measure(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
