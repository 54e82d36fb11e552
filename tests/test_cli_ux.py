"""The ``minisamp`` command as a new user meets it (issue 12): errors, exits, what it prints."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from samp_raw import RawClient
from test_cli import MINISAMP, read_line_with, run, start

from minisamp.client import Client
from minisamp.hub import Hub
from minisamp.testing import Recorder

pytestmark = [
    pytest.mark.timeout(120),
]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("minisamp: error: ")
    return lines[0]


def test_sending_a_file_that_is_not_a_table_is_one_error_line(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path
) -> None:
    pytest.importorskip("astropy")
    notes = tmp_path / "notes.txt"
    notes.write_text("Meeting notes, Tuesday\n\nBring: coffee, charts, and the M31 plates.\nOK?\n")
    result = run("send", str(notes), "--to", "samp_receiver")
    assert result.returncode == 1  # "any other error", docs/cli.md
    assert "notes.txt" in one_error_line(result)
    assert not samp_receiver.received("table.load.votable")


def test_sending_a_malformed_csv_is_one_error_line(samp_hub: Hub, tmp_path: Path) -> None:
    pytest.importorskip("astropy")
    bad = tmp_path / "bad.csv"
    bad.write_text("ra,dec\n10.5,20.1,7\n11\n")
    result = run("send", str(bad))
    assert result.returncode == 1
    assert "bad.csv" in one_error_line(result)


def test_nobody_subscribed_says_what_to_do_with_the_cli_option(
    samp_hub: Hub, tmp_path: Path
) -> None:
    table = tmp_path / "t.vot"
    table.write_text("<VOTABLE/>")
    result = run("send", str(table))
    assert result.returncode == 6
    assert "table.load.votable" in result.stderr and "--to" in result.stderr
    assert "client_name" not in result.stderr + result.stdout
    point = run("point", "10", "20")
    assert point.returncode == 6 and "--to" in point.stderr and "client_name" not in point.stderr


def test_to_finds_an_application_by_part_of_its_name(
    samp_hub: Hub, samp_receiver_factory: Callable[[str], Recorder]
) -> None:
    ds9 = samp_receiver_factory("SAOImageDS9")
    result = run("point", "10", "20", "--to", "ds9")
    assert result.returncode == 0, result.stderr
    assert float(ds9.wait_for("coord.pointAt.sky").params["ra"]) == 10
    assert run("ping", "ds9").returncode == 0


def test_a_recipient_that_unregisters_is_still_named(samp_hub: Hub, tmp_path: Path) -> None:
    table = tmp_path / "t.vot"
    table.write_text("<VOTABLE/>")
    script = RawClient(samp_hub, subscriptions={"table.load.votable": {}}, auto_reply=False)
    script.hub("declareMetadata", {"samp.name": "my script"})
    try:
        sender = start("send", str(table), "--to", "my script")
        while script.next(30)[0] != "samp.client.receiveCall":
            pass  # hub events before the call
        script.hub("unregister")  # gone without answering
        out, err = sender.communicate(timeout=60)
    finally:
        if script.server is not None:
            script.server.close()
    assert sender.returncode == 6, err
    line = out.strip().splitlines()[-1]
    assert line.startswith(f"my script ({script.id}): FAILED"), out


def test_listen_with_an_mtype_exits_3_when_the_hub_goes(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "lock").start()
    env_hub = hub.environ["SAMP_HUB"]
    listener = subprocess.Popen(
        [*MINISAMP, "listen", "--mtype", "table.*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SAMP_HUB": env_hub},
    )
    try:
        assert listener.stderr is not None
        assert "listening as" in listener.stderr.readline()
    finally:
        hub.stop()
    assert listener.wait(30) == 3


def test_ctrl_c_on_listen_exits_130(samp_hub: Hub) -> None:
    listener = start("listen", "--mtype", "coord.*")
    assert listener.stderr is not None
    assert "listening as" in listener.stderr.readline()
    listener.send_signal(signal.SIGINT)
    assert listener.wait(30) == 130


def test_demo_prints_no_astropy_warning() -> None:
    pytest.importorskip("astropy")
    result = run("demo")
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert "W03" not in text and "UnitsWarning" not in text, text
    # astropy's warnings come as "WARNING: ..." lines and again through logging
    assert not any(line.startswith("WARNING") for line in text.splitlines()), text
    assert "astropy WARNING" not in text, text


def test_demo_on_the_running_hub_leaves_it_running(samp_hub: Hub) -> None:
    pytest.importorskip("astropy")
    result = run("demo", "--use-running-hub")
    assert result.returncode == 0, result.stderr
    assert "hub stopped" not in result.stdout and "hub left running" in result.stdout
    assert samp_hub.is_running


def test_verbose_hub_logs_mtype_sender_recipient_and_timeout(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    hub = start("hub", "--lockfile", str(lockfile), "-v")
    environ = {**os.environ, "SAMP_HUB": f"std-lockurl:{lockfile.as_uri()}"}
    try:
        read_line_with(hub, "press Ctrl-C")
        with Client("echo receiver", lockfile=lockfile.as_uri()) as receiver:
            receiver.on("test.echo", lambda m: {})
            sent = subprocess.run(
                [*MINISAMP, "message", "test.echo", "a=1", "--to", "echo receiver", "--wait", "7"],
                capture_output=True,
                text=True,
                timeout=60,
                env=environ,
            )
            assert sent.returncode == 0, sent.stderr
    finally:
        hub.send_signal(signal.SIGINT)
        _, log = hub.communicate(timeout=30)
    calls = [line for line in log.splitlines() if "callAndWait test.echo" in line]
    assert calls, log
    assert "(minisamp message) -> " in calls[0] and "(echo receiver)" in calls[0], calls
    assert "timeout 7 s" in calls[0]
    assert any("reply" in line and "samp.ok" in line for line in log.splitlines()), log


def test_the_hub_declares_and_serves_an_icon(samp_hub: Hub) -> None:
    with Client("looker", callable=False, lockfile=samp_hub.lock_url) as client:
        url = client.get_metadata(client.hub_id)["samp.icon.url"]
    assert isinstance(url, str) and url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "image/png"
        png = response.read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (32, 32)
