"""Break one guard or piece of bookkeeping at a time and see that a fast test notices.

Each mutation in :mod:`mutations` names a file, an exact snippet of it and what to put
instead.  For each, this script copies the project to a temporary directory, applies
that one edit, and runs pytest there: first the mutation's *focus* tests (where a
failure is expected), then, if they all pass, the whole fast suite (``-m "not slow"``).
A mutation that some test fails on is *killed* (also when the run hangs past
``--timeout``: a test waited for ever, which pytest-timeout cannot always interrupt);
one that passes everything *survived*
(a contract no test guards); one whose snippet is no longer in the file is *stale*
(the code changed: update or drop the entry), never a crash.

    python tools/mutate.py                 # every mutation, fast suite for survivors
    python tools/mutate.py --focus-only    # only the focus tests (quick look)
    python tools/mutate.py --only hub-msg-id-repeats client-tag-constant
    python tools/mutate.py --list

Exit status: 0 if every mutation was killed (or stale), 1 if any survived.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutations import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["minisamp", "tests", "tools", "docs", "examples", "bench", "pyproject.toml", "README.md"]
FAST_SUITE = ["tests", "-m", "not slow"]


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # killed, survived, stale, error
    seconds: float = 0.0
    by: str = ""  # the first failing test, or why it is stale


def copy_project(into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "_build")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, into / name)


def pytest(copy: Path, args: list[str], timeout: float) -> tuple[bool, str]:
    """Run pytest in *copy*; (passed, first failing test or the tail of its output)."""
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    command += ["--durations=0", "--durations-min=0", *args]  # how long the failing test took
    # Its own session, so that a hung run is stopped with every process it started.
    run = subprocess.Popen(
        command,
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, _ = run.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        stdout, _ = run.communicate()
        tail = stdout.strip().splitlines()[-1:] or [""]
        return False, f"(hung: no result in {timeout:g} s; last output {tail[0][:80]!r})"
    except BaseException:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        raise
    if run.returncode == 0:
        return True, ""
    if run.returncode == 5:  # no tests collected: nothing was checked
        return True, "(no tests selected)"
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", stdout, re.MULTILINE)
    if failed is None:
        return False, stdout.strip()[-300:]
    test = failed.group(1)
    phases = re.findall(rf"^([\d.]+)s (?:setup|call|teardown) +{re.escape(test)}$", stdout, re.M)
    took = f" (the test itself: {sum(map(float, phases)):.1f} s)" if phases else ""
    return False, test + took


def apply(copy: Path, mutation: Mutation) -> str | None:
    """Apply *mutation* in *copy*; the original text, or None if the snippet is stale."""
    path = copy / mutation.file
    if not path.exists():
        return None
    text = path.read_text()
    if text.count(mutation.old) != 1:
        return None
    path.write_text(text.replace(mutation.old, mutation.new))
    return text


def run_one(copy: Path, mutation: Mutation, focus_only: bool, timeout: float) -> Outcome:
    original = apply(copy, mutation)
    if original is None:
        path = copy / mutation.file
        count = path.read_text().count(mutation.old) if path.exists() else 0
        why = "file gone" if not path.exists() else f"snippet found {count} times, not once"
        return Outcome(mutation, "stale", by=why)
    started = time.monotonic()
    try:
        passed, by = True, ""
        if mutation.focus:
            passed, by = pytest(copy, list(mutation.focus), timeout)
        if passed and not focus_only:
            passed, by = pytest(copy, FAST_SUITE, timeout)
        status = "survived" if passed else "killed"
        return Outcome(mutation, status, time.monotonic() - started, by)
    finally:
        (copy / mutation.file).write_text(original)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutations only")
    parser.add_argument("--focus-only", action="store_true", help="skip the fast-suite pass")
    parser.add_argument("--timeout", type=float, default=600.0, help="per pytest run, seconds")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    options = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not options.only or m.name in options.only]
    unknown = set(options.only or ()) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"no such mutation: {', '.join(sorted(unknown))}")
    if options.list:
        for m in chosen:
            print(f"{m.name:36} {m.file}: {m.why}")
        return 0
    outcomes: list[Outcome] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the copy
    with tempfile.TemporaryDirectory(prefix="minisamp-mutate-") as tmp:
        copy = Path(tmp)
        copy_project(copy)
        for mutation in chosen:
            outcome = run_one(copy, mutation, options.focus_only, options.timeout)
            outcomes.append(outcome)
            print(
                f"{outcome.status:8} {outcome.seconds:6.1f} s  {mutation.name:36} {outcome.by}",
                flush=True,
            )
    counts = {s: sum(o.status == s for o in outcomes) for s in ("killed", "survived", "stale")}
    print(
        f"\n{len(outcomes)} mutations: {counts['killed']} killed, "
        f"{counts['survived']} survived, {counts['stale']} stale"
    )
    for o in outcomes:
        if o.status == "survived":
            print(f"SURVIVED {o.mutation.name}: {o.mutation.file}: {o.mutation.why}")
    return 1 if counts["survived"] else 0


if __name__ == "__main__":
    sys.exit(main())
