"""Time and memory of making a table SAMP-accessible: minisamp vs pyvo.samp.

Measures ``with accessible_table(table) as url: pass`` (write the temporary VOTable,
then delete it) for minisamp.tables and pyvo.samp on tables of N rows x 4 columns
(int64 id, float64 ra, str name, float64 dec).  Every measurement runs in a fresh
Python process, ours and pyvo's interleaved.  In the child, after imports and building
the table, the peak-RSS mark is reset (Linux ``/proc/self/clear_refs``) and the current
RSS taken as baseline; after the operation ``resource.getrusage`` gives the peak.  Both
the peak and the peak minus the baseline are reported.  ``astropy.io.votable`` is
imported before the baseline for both (pyvo.samp imports it at import time anyway).

Run::

    python bench/table_send.py            # 1e4, 1e5, 1e6 rows; 3 repetitions
    python bench/table_send.py --quick    # tiny sizes, a few seconds

pyvo's writer needs about 20 s for 1e6 rows, so that size gets one pyvo repetition
unless ``--full`` is given.  Needs astropy and pyvo (``pip install minisamp[bench]``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

IMPLEMENTATIONS = ("minisamp", "pyvo")
KIB = 1024  # ru_maxrss is in KiB on Linux, bytes on macOS


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


def _rss_kib() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // KIB if sys.platform == "darwin" else peak


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def child(implementation: str, n: int) -> None:
    """One measurement; prints a JSON line."""
    import warnings

    import astropy.io.votable  # noqa: F401  (pyvo.samp imports it up front; we would lazily)

    warnings.simplefilter("ignore")
    if implementation == "pyvo":
        from pyvo.samp import accessible_table
    else:
        from minisamp.tables import accessible_table
    table = make_table(n)
    reset = _reset_peak()
    baseline = _rss_kib() if reset else None
    if baseline is None:
        baseline = _peak_kib()
    start = time.perf_counter()
    with accessible_table(table) as url:
        path = Path(url.removeprefix("file://"))
        size = path.stat().st_size
    elapsed = time.perf_counter() - start
    peak = _peak_kib()
    assert not path.exists(), "the temporary file was not removed"
    result = {
        "seconds": elapsed,
        "peak_kib": peak,
        "delta_kib": max(0, peak - baseline),
        "bytes": size,
        "reset": reset,
    }
    print(json.dumps(result))


def measure(implementation: str, n: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", implementation, str(n)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode:
        raise RuntimeError(f"{implementation} n={n} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(sizes: list[int], reps: int, pyvo_reps_big: int) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; reps={reps}", flush=True)
    rows = []
    for n in sizes:
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in IMPLEMENTATIONS}
        pyvo_reps = pyvo_reps_big if n >= 1_000_000 else reps
        for rep in range(reps):
            for name in IMPLEMENTATIONS:
                if name == "pyvo" and rep >= pyvo_reps:
                    continue
                result = measure(name, n)
                results[name].append(result)
                print(
                    f"  n={n:>9,} {name:<8} rep {rep + 1}: {result['seconds']:8.3f} s  "
                    f"peak {result['peak_kib'] / KIB:7.1f} MiB  "
                    f"+{result['delta_kib'] / KIB:7.1f} MiB",
                    flush=True,
                )
        rows.append((n, results))
    report(rows)


def _median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def report(rows: list[tuple[int, dict[str, list[dict[str, Any]]]]]) -> None:
    print()
    print(
        "| rows | minisamp s | pyvo s | pyvo/minisamp | minisamp peak (+over baseline) MiB "
        "| pyvo peak (+over baseline) MiB | file MB minisamp / pyvo | reps m/p |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, results in rows:
        ours, theirs = results["minisamp"], results["pyvo"]
        t_ours, t_theirs = _median(ours, "seconds"), _median(theirs, "seconds")
        print(
            f"| {n:,} | {t_ours:.3f} | {t_theirs:.3f} | {t_theirs / t_ours:.0f}x "
            f"| {_median(ours, 'peak_kib') / KIB:.0f} (+{_median(ours, 'delta_kib') / KIB:.0f}) "
            f"| {_median(theirs, 'peak_kib') / KIB:.0f} "
            f"(+{_median(theirs, 'delta_kib') / KIB:.0f}) "
            f"| {ours[0]['bytes'] / 1e6:.1f} / {theirs[0]['bytes'] / 1e6:.1f} "
            f"| {len(ours)}/{len(theirs)} |"
        )
    if not all(r["reset"] for _, res in rows for rs in res.values() for r in rs):
        print("note: peak RSS could not be reset; baselines include building the table")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repetitions")
    parser.add_argument("--full", action="store_true", help="all repetitions for 1e6 rows too")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
    elif args.quick:
        run([1_000, 10_000], reps=2, pyvo_reps_big=2)
    else:
        run([10_000, 100_000, 1_000_000], args.reps, args.reps if args.full else 1)


if __name__ == "__main__":
    main()
