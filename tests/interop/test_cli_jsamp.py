"""The ``minisamp`` command with JSAMP's tools: listen hears messagesender, snooper hears send."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import stop_process

from minisamp.hub import Hub

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        shutil.which("jsamp") is None or shutil.which("minisamp") is None,
        reason="needs JSAMP (apt-get install jsamp) and the minisamp console script",
    ),
]


class Lines:
    """A process's merged output, read on a thread; wait for a line containing text."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(
            target=lambda: [self._queue.put(line) for line in stream],
            name="test-output",
            daemon=True,
        ).start()

    def wait_for(self, text: str, timeout: float = 60) -> str:
        while True:
            line = self._queue.get(timeout=timeout)
            self.seen.append(line)
            if text in line:
                return line


@contextmanager
def background(*command: str) -> Iterator[Lines]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy()
    )
    try:
        yield Lines(process)
    finally:
        stop_process(process, signal.SIGINT)


def test_listen_hears_what_jsamp_messagesender_sends(samp_hub: Hub) -> None:
    # no space in the name: /usr/bin/jsamp does not keep arguments with spaces whole
    with background("minisamp", "listen", "--json", "--client-name", "listener") as listen:
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
    with background("jsamp", "snooper", "-mtype", "table.load.votable") as snooper:
        for _ in range(600):  # JSAMP takes a moment to register and subscribe
            listed = subprocess.run(
                ["minisamp", "clients"], capture_output=True, text=True, timeout=30
            )
            if "table.load.votable" in listed.stdout:
                break
        else:
            pytest.fail("the snooper never subscribed")
        sent = subprocess.run(
            ["minisamp", "send", str(table)], capture_output=True, text=True, timeout=60
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        snooper.wait_for(table.resolve().as_uri())
