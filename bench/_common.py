"""Shared pieces of the benchmarks: results, statistics, interleaved runs, child processes.

Every metric module returns a :class:`MetricResult`: one or more :class:`Quantity`
(e.g. "wall time", "peak RSS"), each holding the samples of every implementation
measured ("minisamp", "pyvo.samp", "JSAMP", …), plus goals and notes.  Runs are
interleaved (A B A B …) after a warm-up so that drift in the machine's load hits
every implementation alike.

Child processes are started through :func:`spawn` and always killed by their own PID
when the ``with`` block ends, on error, on SIGTERM (turned into ``SystemExit``), and
at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "OURS",
    "PYVO",
    "PYVO_MISSING",
    "REPO_ROOT",
    "BenchError",
    "Goal",
    "MetricResult",
    "Quantity",
    "child_env",
    "environ",
    "fmt",
    "format_result",
    "format_table",
    "interleave",
    "libraries",
    "log",
    "running_peer",
    "spawn",
    "stop_process",
    "wait_for",
]

#: The name minisamp's rows carry; ratios are ours / theirs.
OURS = "minisamp"
#: The name pyvo.samp's rows carry (the client library and its hub alike).
PYVO = "pyvo.samp"
#: Why pyvo.samp is left out of a metric (and its hub out of the hubs) on this machine.
PYVO_MISSING = "pyvo is not installed (pip install pyvo)"
#: The repository root (bench/ lives directly below it).
REPO_ROOT = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """A measurement could not be made (peer missing, hub did not start, run failed)."""


def libraries(notes: list[str]) -> list[str]:
    """The client libraries to measure: minisamp, and pyvo.samp unless a note says why not."""
    found = [OURS]
    if importlib.util.find_spec("pyvo") is None:
        notes.append(f"{PYVO} skipped: {PYVO_MISSING}")
    else:
        found.append(PYVO)
    return found


# -- results -------------------------------------------------------------------------------


@dataclass
class Quantity:
    """One measured quantity: samples per implementation, in *unit*.

    Implementations named in *references* (a stdlib floor, another API of ours) are
    shown for context: they get a ratio in the table but no bar in the chart.
    """

    name: str
    unit: str
    lower_is_better: bool = True
    samples: dict[str, list[float]] = field(default_factory=dict)
    references: set[str] = field(default_factory=set)

    def add(self, impl: str, value: float) -> None:
        """Record one sample of *impl*."""
        self.samples.setdefault(impl, []).append(value)

    def median(self, impl: str) -> float:
        """The median of *impl*'s samples (NaN when there are none)."""
        values = self.samples.get(impl)
        return statistics.median(values) if values else math.nan

    def ratio(self, impl: str) -> float:
        """Median of ours / median of *impl* (NaN if either is missing or zero)."""
        ours, theirs = self.median(OURS), self.median(impl)
        if math.isnan(ours) or math.isnan(theirs) or theirs == 0:
            return math.nan
        return ours / theirs

    def advantage(self, impl: str) -> float:
        """How many times better minisamp is than *impl* (>1: minisamp is better)."""
        ratio = self.ratio(impl)
        if math.isnan(ratio) or ratio == 0:
            return math.nan
        return 1 / ratio if self.lower_is_better else ratio


@dataclass
class Goal:
    """A target with its outcome (True met, False missed, None not measurable) and value."""

    text: str
    met: bool | None
    value: float = math.nan

    @classmethod
    def check(cls, text: str, value: float, predicate: Callable[[float], bool]) -> Goal:
        """A goal whose outcome is ``predicate(value)``, or None when *value* is NaN."""
        return cls(text, None if math.isnan(value) else predicate(value), value)

    def shown(self) -> str:
        """The value with four significant digits, so 1.004 against "≤ 1" reads as missed."""
        return fmt(self.value) if abs(self.value) >= 1000 else f"{self.value:.4g}"

    def describe(self) -> str:
        """``<text>: met (0.61)`` and the like."""
        mark = {True: "met", False: "MISSED", None: "not measured"}[self.met]
        shown = "" if math.isnan(self.value) else f" ({self.shown()})"
        return f"{self.text}: {mark}{shown}"


@dataclass
class MetricResult:
    """What one metric module measured, ready to print or to write as markdown."""

    key: str
    title: str
    method: str
    quantities: list[Quantity] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def quantity(self, name: str) -> Quantity:
        """The quantity called *name*."""
        for quantity in self.quantities:
            if quantity.name == name:
                return quantity
        raise KeyError(name)


def fmt(value: float) -> str:
    """A number with about three significant digits; NaN as a dash."""
    if math.isnan(value):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def format_table(quantity: Quantity, *, markdown: bool = False) -> str:
    """Median, min, max, n and ours/theirs for each implementation of *quantity*."""
    if not any(quantity.samples.values()):
        return f"{quantity.name}: not measured (see the notes)"
    direction = "lower" if quantity.lower_is_better else "higher"
    header = [
        "implementation",
        f"median ({quantity.unit})",
        "min",
        "max",
        "n",
        f"minisamp / this ({direction} is better)",
    ]
    rows = [header]
    for impl, values in quantity.samples.items():
        ratio = "" if impl == OURS else f"{fmt(quantity.ratio(impl))}"
        stats = (statistics.median(values), min(values), max(values)) if values else (math.nan,) * 3
        rows.append([impl, *(fmt(v) for v in stats), str(len(values)), ratio])
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = [quantity.name]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=False)
        ]
        out.append("  " + "  ".join(cells))
    return "\n".join(out)


def format_result(result: MetricResult) -> str:
    """The result as plain text: a table per quantity, goals, notes."""
    lines = [f"== {result.title} ==", result.method.replace("`", ""), ""]
    for quantity in result.quantities:
        lines += [format_table(quantity), ""]
    lines += [f"goal: {goal.describe()}" for goal in result.goals]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


# -- interleaved repetitions ---------------------------------------------------------------

Runner = Callable[[], Mapping[str, float]]


def interleave(
    runners: Mapping[str, Runner],
    quantities: Sequence[Quantity],
    *,
    repeat: int,
    warmup: int = 1,
    notes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    max_failures: int = 2,
) -> None:
    """Run each runner in turn (A B A B …): *warmup* unrecorded rounds, then *repeat*.

    A runner returns ``{quantity name: value}``.  A failed run (BenchError, OSError,
    subprocess error) is noted and skipped; after *max_failures* the runner is dropped.
    """
    by_name = {q.name: q for q in quantities}
    failures = dict.fromkeys(runners, 0)
    for round_no in range(warmup + repeat):
        recording = round_no >= warmup
        label = f"run {round_no - warmup + 1}/{repeat}" if recording else "warm-up"
        for impl, runner in runners.items():
            if failures[impl] >= max_failures:
                continue
            try:
                values = runner()
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                failures[impl] += 1
                dropped = "; dropped" if failures[impl] >= max_failures else ""
                if notes is not None:
                    notes.append(f"{impl}: {label} failed{dropped}: {exc}")
                if progress is not None:
                    progress(f"  {label} {impl}: FAILED{dropped}: {exc}")
                continue
            if recording:
                for name, value in values.items():
                    by_name[name].add(impl, value)
            if progress is not None:
                shown = ", ".join(f"{k}={fmt(v)}" for k, v in values.items())
                progress(f"  {label} {impl}: {shown}")


# -- child processes -----------------------------------------------------------------------

_live: dict[int, subprocess.Popen[bytes]] = {}


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Terminate *proc* by its PID, then kill it if it has not exited within *timeout*."""
    _live.pop(proc.pid, None)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _stop_all() -> None:
    for proc in list(_live.values()):
        stop_process(proc, timeout=2.0)


def _sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


atexit.register(_stop_all)
with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm)


@contextlib.contextmanager
def spawn(
    args: Sequence[str], *, env: Mapping[str, str], log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start *args* (output to *log* or discarded); stop it by its PID when the block ends."""
    sink = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            list(args),
            env=dict(env),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop it
        )
    finally:
        if log is not None:
            sink.close()  # type: ignore[union-attr]
    _live[proc.pid] = proc
    try:
        yield proc
    finally:
        stop_process(proc)


@contextlib.contextmanager
def running_peer(
    args: Sequence[str], *, env: Mapping[str, str], ready: Path, timeout: float = 30.0
) -> Iterator[str]:
    """Run ``bench/_peer.py`` (*args* after the module, *ready* last) for the block.

    Yields what the peer wrote to *ready* once it is up (a client id or a port); its
    output goes to *ready* + ``.log``, whose end a BenchError quotes if it fails.
    """
    log_path = ready.with_name(ready.name + ".log")
    command = [sys.executable, "-m", "bench._peer", *args, str(ready)]
    with spawn(command, env=env, log=log_path) as proc:

        def up() -> bool:
            if proc.poll() is not None:
                raise BenchError(f"peer {' '.join(args)} exited with status {proc.returncode}")
            return ready.exists()

        try:
            wait_for(up, timeout, f"peer {' '.join(args)} to start")
        except BenchError as exc:
            tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
            raise BenchError(f"{exc}; its output ends:\n{tail}") from None
        yield ready.read_text(encoding="utf-8").strip()


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables *values* in this process for the block, then restore."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def child_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with HOME=*home*, the repo on PYTHONPATH and *extra* on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAMP_", "JAVA_TOOL"))}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env.update(extra or {})
    return env


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.02) -> None:
    """Poll *condition* until true; BenchError naming *what* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise BenchError(f"timed out after {timeout} s waiting for {what}")


def log(message: str) -> None:
    """Progress output (stderr, so stdout stays the report)."""
    print(message, file=sys.stderr, flush=True)
