"""``minisamp select`` and how ``minisamp listen`` shows selections, run as
``python -m minisamp`` in a subprocess on the test's hub."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from minisamp import Client
from minisamp.hub import Hub
from minisamp.testing import Recorder

COMMAND = [sys.executable, "-m", "minisamp"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def test_select_sends_rows_and_ranges_as_index_strings(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    result = run("select", "bright-stars", "0,3,10-12", "--to", "samp_receiver")
    assert result.returncode == 0, result.stderr
    assert "samp_receiver" in result.stdout and "ok" in result.stdout
    params = samp_receiver.wait_for("table.select.rowList").params
    assert params == {"table-id": "bright-stars", "row-list": ["0", "3", "10", "11", "12"]}


def test_select_highlight_sends_one_row(samp_hub: Hub, samp_receiver: Recorder) -> None:
    result = run("select", "t", "7", "--highlight", "--url", "file:///tmp/t.xml")
    assert result.returncode == 0, result.stderr
    params = samp_receiver.wait_for("table.highlight.row").params
    assert params == {"table-id": "t", "row": "7", "url": "file:///tmp/t.xml"}


def test_select_refused_exits_6_with_the_reason(samp_hub: Hub) -> None:
    def unknown(msg: Any) -> None:
        raise RuntimeError(f"No table table-id={msg.params['table-id']} is loaded")

    with Client("topcat") as topcat:
        topcat.on("table.select.rowList", unknown)
        result = run("select", "nope", "1", "--to", "topcat")
    assert result.returncode == 6
    assert "No table table-id=nope" in result.stdout + result.stderr


@pytest.mark.parametrize("rows", ["", "3-1", "a,b", "-2"])
def test_select_explains_bad_rows(samp_hub: Hub, rows: str) -> None:
    result = run("select", "t", rows)
    assert result.returncode == 1
    assert "ROWS like 0,3,10-12" in result.stderr or "0-based" in result.stderr


def test_listen_prints_selections_and_highlights_readably(samp_hub: Hub) -> None:
    listener = subprocess.Popen(
        [*COMMAND, "listen", "--mtype", "table.*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert listener.stderr is not None and listener.stdout is not None
        assert "listening as" in listener.stderr.readline()
        assert run("select", "cat", "4,0,5,6", "--to", "minisamp listen").returncode == 0
        assert run("select", "cat", "9", "--highlight").returncode == 0
        lines = [listener.stdout.readline() for _ in range(2)]
    finally:
        listener.send_signal(signal.SIGINT)
        assert listener.wait(20) == 130  # Ctrl-C, as docs/cli.md says
    assert "table.select.rowList select 4 rows of table cat: 0, 4-6" in lines[0]
    assert "table.highlight.row highlight row 9 of table cat" in lines[1]
