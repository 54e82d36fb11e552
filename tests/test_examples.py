"""Every script in examples/ runs, against its own in-process hub (``--demo-hub``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    pytest.importorskip("astropy", reason="astropy is not installed (pip install astropy)")
    result = subprocess.run(
        [sys.executable, str(script), "--demo-hub"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_there_is_an_example_per_helper() -> None:
    text = "\n".join(p.read_text() for p in EXAMPLES)
    helpers = ("send_table_to", "send_image_to", "point_at", "receive_table", "selected_rows")
    for helper in (*helpers, "select_rows", "highlight_row"):
        assert f"samp.{helper}(" in text
