"""The benchmark suite runs end to end at tiny sizes (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TITLES = ["Import", "Connect", "Round trip", "Hub throughput", "Tables", "Bridge"]


def _section(report: str, title: str) -> str:
    """The text of ``## title`` up to the next ``## `` heading."""
    _, _, rest = report.partition(f"\n## {title}\n")
    return rest.split("\n## ", 1)[0]


@pytest.mark.slow
@pytest.mark.timeout(120)  # ~23 s on a loaded 2-core machine; the run is stopped at 100 s
def test_quick_suite_prints_every_metric_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for title in TITLES:
        assert f"== {title} ==" in result.stdout, f"{title} missing from:\n{result.stdout}"
    text = report.read_text(encoding="utf-8")
    assert "## Machine" in text
    assert "## Hub throughput" in text
    roundtrip, tables = _section(text, "Round trip"), _section(text, "Tables")
    assert "### ping round trip, minisamp hub" in roundtrip
    assert "| minisamp | " in roundtrip, roundtrip
    assert "### send_table_to wall time" in tables
    assert "| minisamp | " in tables, tables


@pytest.mark.parametrize(
    "script", ["roundtrip.py", "table_send.py", "topcat_send.py", "bridge.py", "burst.py"]
)
def test_metric_scripts_run_as_plain_files(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / script), "--help"],
        cwd=REPO_ROOT.parent,  # not the repo root: the script must find `bench` itself
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
