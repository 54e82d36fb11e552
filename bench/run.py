"""The benchmark suite: every metric, minisamp vs each installed peer, one report.

    python -m bench                      # everything, writes docs/benchmarks.md (+ .png)
    python -m bench --quick --output /tmp/b.md
    python -m bench --only import,connect --no-write

Metrics, in order: import, connect, roundtrip, throughput, tables, fits_writer,
topcat, bridge.  Each prints its tables as it finishes; at the end the report is written as
markdown (one table per quantity, goals, notes, the machine and the command) and, if
matplotlib is installed, a bar chart of how many times better minisamp is than each peer.

Each metric is one module (``import_time``, ``connect``, ``roundtrip``,
``hub_throughput``, ``table_send``, and ``topcat_send`` for the last two) returning a
:class:`~bench._common.MetricResult`; ``--quick`` picks each module's tiny settings,
``--repeat`` its repetitions.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bridge, connect, hub_throughput, import_time, roundtrip, table_send, topcat_send
from ._common import (
    OURS,
    REPO_ROOT,
    BenchError,
    Goal,
    MetricResult,
    format_result,
    format_table,
    log,
)

__all__ = ["METRICS", "main", "run_suite", "write_chart", "write_markdown"]

#: Packages whose versions the report lists.
PACKAGES = ("minisamp", "pyvo", "astropy", "numpy", "defusedxml", "matplotlib")


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    quick: bool = False
    repeat: int = 5


MetricFn = Callable[[Options], MetricResult]


def _import(options: Options) -> MetricResult:
    return import_time.measure(1 if options.quick else options.repeat)


def _connect(options: Options) -> MetricResult:
    if options.quick:
        return connect.measure(repeat=1, cycles=2)
    return connect.measure(repeat=options.repeat)


def _by_settings(module: Any, function: str = "measure") -> MetricFn:
    """A metric module run with ``module.Settings.quick()``, or its defaults but ``repeat``."""

    def run(options: Options) -> MetricResult:
        settings_type = module.Settings
        settings = settings_type.quick() if options.quick else settings_type(repeat=options.repeat)
        result: MetricResult = getattr(module, function)(settings)
        return result

    return run


#: key → (title, function), in the order they run.
METRICS: dict[str, tuple[str, MetricFn]] = {
    "import": ("Import", _import),
    "connect": ("Connect", _connect),
    "roundtrip": ("Round trip", _by_settings(roundtrip)),
    "throughput": ("Hub throughput", _by_settings(hub_throughput)),
    "tables": ("Tables", _by_settings(table_send)),
    "fits_writer": ("FITS writer", _by_settings(topcat_send, "measure_writer")),
    "topcat": ("Tables into TOPCAT", _by_settings(topcat_send)),
    "bridge": ("Bridge", _by_settings(bridge)),
}


def run_suite(keys: list[str], options: Options) -> list[MetricResult]:
    """Run the chosen metrics in order, printing each; a metric that fails becomes a note."""
    results = []
    for key in keys:
        title, fn = METRICS[key]
        started = time.monotonic()
        try:
            result = fn(options)
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            result = MetricResult(key, title, "")
            result.notes.append(f"failed: {exc}")
        result.notes.append(f"took {time.monotonic() - started:.0f} s")
        print(format_result(result), end="\n\n", flush=True)
        results.append(result)
    return results


# -- the machine ---------------------------------------------------------------------------


def _first_line(args: list[str]) -> str:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "not installed"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return next((ln for ln in lines if "JAVA_TOOL_OPTIONS" not in ln), "?")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """CPU, cores, OS, Python and package versions, for the report."""
    info = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for package in PACKAGES:
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    if hasattr(os, "getloadavg"):  # others' work on the machine shows up as noise
        info["load average (1, 5, 15 min) at the end"] = ", ".join(
            f"{v:.2f}" for v in os.getloadavg()
        )
    info["JSAMP"] = _first_line(["dpkg-query", "-W", "-f", "${Version}", "jsamp"])
    info["Java"] = _first_line(["java", "-version"])
    commit = _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "minisamp"])
    info["minisamp commit"] = commit + (" + uncommitted changes" if dirty not in ("", "?") else "")
    return info


# -- the report ----------------------------------------------------------------------------


def _goal_mark(goal: Goal) -> str:
    mark = {True: "met", False: "**missed**", None: "not measured"}[goal.met]
    return mark if math.isnan(goal.value) else f"{mark} ({goal.shown()})"


def _note(note: str) -> list[str]:
    if "\n" not in note:
        return [f"- note: {note}"]
    head, _, rest = note.partition("\n")
    return [f"- note: {head}", "", "  ```text", *(f"  {ln}" for ln in rest.splitlines()), "  ```"]


def write_markdown(
    path: Path, results: list[MetricResult], command: str, chart: Path | None, elapsed: float
) -> None:
    """The report: machine, goals summary, then each metric's tables, goals and notes."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmarks",
        "",
        f"minisamp against pyvo.samp and JSAMP, measured together in one run on {now} with:",
        "",
        f"    {command}",
        "",
        f"(the run took {elapsed / 60:.1f} min).",
        "",
        "Every figure is the median of interleaved repetitions after a warm-up (min and max",
        "beside it). Ratios are minisamp / the other; whether lower or higher is better is",
        "said in each table. See `bench/README.md` for what each metric does.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {key} | {value} |" for key, value in machine().items()]
    out += ["", "## Goals", "", "| metric | goal | result (value) |", "|---|---|---|"]
    for result in results:
        out += [f"| {result.title} | {g.text} | {_goal_mark(g)} |" for g in result.goals]
    if chart is not None:
        out += ["", f"![How many times better minisamp is]({chart.name})"]
    for result in results:
        out += ["", f"## {result.title}", ""]
        if result.method:
            out += [result.method, ""]
        for quantity in result.quantities:
            out += [f"### {quantity.name}", "", format_table(quantity, markdown=True), ""]
        out += [f"- goal: {g.text}: {_goal_mark(g)}" for g in result.goals]
        for note in result.notes:
            out += _note(note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")


def write_chart(path: Path, results: list[MetricResult]) -> bool:
    """A bar chart of minisamp's advantage over each peer; False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return False
    labels, values = [], []
    for result in results:
        for quantity in result.quantities:
            for impl in quantity.samples:
                if impl == OURS or impl in quantity.references:
                    continue
                advantage = quantity.advantage(impl)
                if not math.isnan(advantage):
                    labels.append(f"{quantity.name}\nvs {impl}")
                    values.append(advantage)
    if not values:
        return False
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(values) + 1.5))
    colours = ["tab:green" if v >= 1 else "tab:red" for v in values]
    # Bars grow from 1 (parity) towards the value, on a log axis.
    ax.barh(range(len(values)), [v - 1 for v in values], left=1, color=colours)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(min(0.5, min(values) / 3), max(2.0, max(values) * 3))  # room for labels
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g×"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.axvline(1.0, color="black", linewidth=0.8)
    for i, value in enumerate(values):
        ax.annotate(f"{value:.3g}×", (value, i), xytext=(3 if value >= 1 else -3, 0),
                    textcoords="offset points", va="center", ha="left" if value >= 1 else "right",
                    fontsize=8)  # fmt: skip
    ax.set_xlabel("how many times better minisamp is (>1: minisamp better; log scale)")
    ax.set_title("minisamp vs pyvo.samp and JSAMP (medians)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# -- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the suite, write the report."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="minisamp benchmarks vs pyvo.samp and JSAMP"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions after the warm-up")
    parser.add_argument(
        "--only", default=",".join(METRICS), help=f"comma-separated subset of {','.join(METRICS)}"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "docs" / "benchmarks.md",
        help="markdown report (the chart goes beside it, as .png)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only, write no files")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in METRICS]
    if unknown:
        parser.error(f"unknown metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
    options = Options(quick=args.quick, repeat=max(1, args.repeat))
    started = time.monotonic()
    results = run_suite(keys, options)
    elapsed = time.monotonic() - started
    log(f"suite took {elapsed:.0f} s")
    if not args.no_write:
        command = shlex.join(
            ["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])]
        )
        chart = args.output.with_suffix(".png")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        drawn = write_chart(chart, results)
        write_markdown(args.output, results, command, chart if drawn else None, elapsed)
        print(f"report written to {args.output}" + (f" and {chart}" if drawn else ""))
    return 0
