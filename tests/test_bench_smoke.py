"""The benchmark suite runs end to end at tiny sizes (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TITLES = ["Import", "Connect", "Round trip", "Hub throughput", "Tables"]


@pytest.mark.slow
@pytest.mark.timeout(660)
def test_quick_suite_prints_every_metric_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for title in TITLES:
        assert f"== {title} ==" in result.stdout, f"{title} missing from:\n{result.stdout}"
    text = report.read_text(encoding="utf-8")
    assert "## Machine" in text
    assert "## Hub throughput" in text
