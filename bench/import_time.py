"""Import cost: ``python -c "import minisamp"`` vs ``python -c "import pyvo.samp"``.

    python -m bench.import_time [--repeat 9] [--quick]

Each sample is a fresh interpreter (HOME = a temp dir, cwd = the repo root); we time
it from spawn to exit, and the child prints its peak RSS (``VmHWM`` from
``/proc/self/status``) as it ends.  Children import from bytecode, as an installed
package does (``PYTHONPYCACHEPREFIX`` in the temp dir, written by the warm-up round,
whatever ``PYTHONDONTWRITEBYTECODE`` says).  A bare
``python -c pass`` is timed alongside, for reference.  Goals: ≤ 1/8 of pyvo.samp's
wall time, ≤ 30 MB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ._common import (
    OURS,
    REPO_ROOT,
    BenchError,
    Goal,
    MetricResult,
    Quantity,
    child_env,
    format_result,
    interleave,
    libraries,
    log,
)

__all__ = ["main", "measure", "time_import"]

WALL = "import wall time"
RSS = "peak RSS"
STATEMENTS = {OURS: "import minisamp", "pyvo.samp": "import pyvo.samp", "bare": "pass"}
RSS_LIMIT_MB = 30.0


# ru_maxrss of a child also counts the parent's pages it had before exec (Linux keeps
# the old mm's high-water mark), so the child reports its own VmHWM instead.
_REPORT_HWM = (
    "\nimport sys\n"
    "sys.stdout.write(next((l for l in open('/proc/self/status') if l.startswith('VmHWM')), ''))"
)
_HAS_PROC = os.path.exists("/proc/self/status")


def time_import(statement: str, env: Mapping[str, str]) -> dict[str, float]:
    """Run ``python -c statement``: wall time (ms) and the child's peak RSS (MB)."""
    code = statement + (_REPORT_HWM if _HAS_PROC else "")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=dict(env),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, errors = proc.communicate(timeout=60)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchError(f"`python -c {statement!r}` failed: {errors.decode()[-500:]}")
    if _HAS_PROC:
        fields = out.decode().split()  # "VmHWM:", "<n>", "kB"
        peak_kib = float(fields[1])
    else:  # elsewhere: includes what the child inherited from us, so an upper bound
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {WALL: 1000 * elapsed, RSS: peak_kib / 1024}


def _within_rss_limit(megabytes: float) -> bool:
    return megabytes <= RSS_LIMIT_MB


def measure(repeat: int = 5, progress: Callable[[str], None] | None = log) -> MetricResult:
    """Interleaved imports of minisamp, pyvo.samp and a bare interpreter; goals checked."""
    wall = Quantity(WALL, "ms")
    rss = Quantity(RSS, "MB")
    method = (
        '`python -c "import minisamp"` vs `python -c "import pyvo.samp"`, each a fresh '
        "process importing from bytecode (a private `PYTHONPYCACHEPREFIX`, written by the "
        "warm-up round); wall time from spawn to exit, peak RSS = the child's `VmHWM` at "
        f"exit; 1 warm-up round, {repeat} interleaved repetitions"
    )
    result = MetricResult("import", "Import", method, [wall, rss])
    impls = [*libraries(result.notes), "bare"]
    with tempfile.TemporaryDirectory(prefix="minisamp-bench-") as home:
        # Every child imports from bytecode, as after an install: pyvo's site-packages
        # has it, but this tree may run with PYTHONDONTWRITEBYTECODE, and compiling
        # minisamp's sources on each import is not what a user's import costs.  The
        # warm-up round writes the bytecode of all three into a cache of their own.
        env = child_env(Path(home), {"PYTHONPYCACHEPREFIX": str(Path(home) / "pycache")})
        env.pop("PYTHONDONTWRITEBYTECODE", None)

        def runner(statement: str) -> Callable[[], Mapping[str, float]]:
            return lambda: time_import(statement, env)

        if progress is not None:
            progress("import: " + ", ".join(impls))
        interleave(
            {impl: runner(STATEMENTS[impl]) for impl in impls},
            [wall, rss],
            repeat=repeat,
            notes=result.notes,
            progress=progress,
        )
    # The bare interpreter is context, not a peer: report it in a note.
    bare_wall, bare_rss = wall.median("bare"), rss.median("bare")
    wall.samples.pop("bare", None)
    rss.samples.pop("bare", None)
    result.notes.append(
        f"bare interpreter (`python -c pass`): {bare_wall:.1f} ms, {bare_rss:.1f} MB peak RSS"
    )
    result.goals = [
        Goal.check("wall time ÷ pyvo.samp's ≤ 1/8", wall.ratio("pyvo.samp"), lambda r: r <= 1 / 8),
        Goal.check(
            f"peak RSS ≤ {RSS_LIMIT_MB:g} MB", rss.median(OURS), lambda v: v <= RSS_LIMIT_MB
        ),
    ]
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: print the tables."""
    parser = argparse.ArgumentParser(description="Import cost: minisamp vs pyvo.samp")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repetition")
    args = parser.parse_args(argv)
    print(format_result(measure(1 if args.quick else max(1, args.repeat))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
