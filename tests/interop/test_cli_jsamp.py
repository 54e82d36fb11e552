"""The ``minisamp`` command with JSAMP's tools: listen hears messagesender, snooper hears send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clientutil import connected, wait_for_directory
from conftest import stop_process
from needs import needs
from proclines import Lines

from minisamp.hub import Hub

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(120),
    needs("jsamp"),
]

MINISAMP = (sys.executable, "-m", "minisamp")


@contextmanager
def background(*command: str) -> Iterator[Lines]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy()
    )
    try:
        yield Lines(process.stdout)
    finally:
        stop_process(process, signal.SIGINT)


def test_listen_hears_what_jsamp_messagesender_sends(samp_hub: Hub) -> None:
    # no space in the name: /usr/bin/jsamp does not keep arguments with spaces whole
    with background(*MINISAMP, "listen", "--json", "--client-name", "listener") as listen:
        listen.wait_for("listening as")
        sender = subprocess.run(
            ["jsamp", "messagesender", "-mtype", "x.test.hello", "-param", "greeting", "bonjour",
             "-targetname", "listener", "-mode", "sync"],
            capture_output=True, text=True, timeout=90, env=os.environ.copy(),
        )  # fmt: skip
        assert sender.returncode == 0, sender.stdout + sender.stderr
        line = listen.wait_for("x.test.hello")
        assert '"greeting": "bonjour"' in line
        assert "samp.ok" in sender.stdout  # listen's reply reached JSAMP


def test_jsamp_snooper_hears_what_minisamp_send_sends(samp_hub: Hub, tmp_path: Path) -> None:
    table = tmp_path / "t.vot"
    table.write_text("<VOTABLE/>")
    with (
        connected("watcher") as watcher,
        background("jsamp", "snooper", "-mtype", "table.load.votable") as snooper,
    ):
        wait_for_directory(  # JSAMP takes a moment to register and subscribe
            watcher,
            lambda c: any("table.load.votable" in info.subscriptions for info in c.values()),
            timeout=60,
        )
        sent = subprocess.run(
            [*MINISAMP, "send", str(table)], capture_output=True, text=True, timeout=60
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        snooper.wait_for(table.resolve().as_uri())
