"""JSAMP's conformance tools against our hub: hubtester and calcstorm."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs import needs

from minisamp.hub import Hub

pytestmark = [
    pytest.mark.interop,
    needs("jsamp", "java"),
]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with Hub(tmp_path / "lockfile") as running:
        yield running


def jsamp(hub: Hub, *args: str, timeout: float = 50) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **hub.environ}
    return subprocess.run(
        ["jsamp", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
@pytest.mark.timeout(60)  # ~7 s on a loaded 2-core machine; jsamp itself is stopped at 50 s
def test_hubtester_passes_without_warnings(hub: Hub) -> None:
    result = jsamp(hub, "hubtester")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output


@pytest.mark.timeout(60)  # ~3 s each; jsamp itself is stopped at 50 s
@pytest.mark.parametrize("mode", ["random", "sync", "async", "notify"])
def test_calcstorm_passes(hub: Hub, mode: str) -> None:
    result = jsamp(hub, "calcstorm", "-nclient", "10", "-nquery", "50", "-mode", mode)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"Elapsed time: \d+ ms", output), output
