"""The ``minisamp`` command, run as ``python -m minisamp`` in a subprocess.

``[sys.executable, "-m", "minisamp"]`` runs the package under test whether or not a
virtual environment is activated (a console script found on PATH may be another copy).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from proclines import Lines

from minisamp.hub import Hub
from minisamp.lockfile import read_lockfile
from minisamp.testing import Recorder

MINISAMP = [sys.executable, "-m", "minisamp"]
pytestmark = pytest.mark.timeout(60)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINISAMP, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MINISAMP, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def read_line_with(process: subprocess.Popen[str], text: str, timeout: float = 20) -> str:
    """The first line of *process*'s stdout holding *text*, within *timeout* seconds."""
    return Lines(process.stdout).wait_for(text, timeout)


@pytest.mark.parametrize(
    "command", ["", "hub", "clients", "send", "ping", "point", "message", "listen", "demo"]
)
def test_every_subcommand_has_help(command: str) -> None:
    result = run(*([command] if command else []), "--help")
    assert result.returncode == 0
    assert "usage: minisamp" in result.stdout


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "minisamp", "--version"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and result.stdout.startswith("minisamp ")


def test_without_a_hub_commands_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'none').as_uri()}")
    result = run("clients")
    assert result.returncode == 3
    assert "no SAMP hub is running" in result.stderr and "minisamp hub" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_clients_json_lists_hub_and_receiver(samp_hub: Hub, samp_receiver: Recorder) -> None:
    result = run("clients", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["Hub"]["id"] == samp_hub.hub_id
    assert (
        rows["samp_receiver"]["id"] == samp_receiver.id
        and "*" in rows["samp_receiver"]["subscriptions"]
    )


def test_ping_hub_and_client(samp_hub: Hub, samp_receiver: Recorder) -> None:
    assert "answered in" in run("ping").stdout
    result = run("ping", "samp_receiver")
    assert result.returncode == 0 and "samp_receiver" in result.stdout


def test_unknown_client_name_exits_4_listing_who_is_there(
    samp_hub: Hub, samp_receiver: Recorder
) -> None:
    result = run("ping", "nobody-here")
    assert result.returncode == 4
    assert "samp_receiver" in result.stderr


def test_send_votable_file_reaches_the_receiver(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path
) -> None:
    table = tmp_path / "my table.vot"
    table.write_text(
        '<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="a" '
        'datatype="int"/><DATA><TABLEDATA><TR><TD>1</TD></TR></TABLEDATA></DATA></TABLE>'
        "</RESOURCE></VOTABLE>"
    )
    result = run("send", str(table), "--to", "samp_receiver", "--name", "mine")
    assert result.returncode == 0, result.stderr
    assert "samp_receiver" in result.stdout and "ok" in result.stdout
    message = samp_receiver.wait_for("table.load.votable")
    assert message.params["url"] == table.resolve().as_uri()
    assert message.params["name"] == "mine"


def test_send_csv_is_converted_to_votable(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path
) -> None:
    pytest.importorskip("astropy", reason="astropy is not installed (pip install astropy)")
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    result = run("send", str(csv), "--to", "samp_receiver")
    assert result.returncode == 0, result.stderr
    assert samp_receiver.wait_for("table.load.votable").params["name"] == "t.csv"


@pytest.mark.parametrize("mtype", [None, "table.load.votable"])
def test_send_large_csv_goes_as_fits_unless_mtype_names_votable(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path, mtype: str | None
) -> None:
    pytest.importorskip("astropy")
    csv = tmp_path / "big.csv"  # 50,000 rows × 3 numbers: 1.2 MB of values, above 1 MB
    csv.write_text("a,b,c\n" + "".join(f"{i}.5,{i}.25,{i}\n" for i in range(50_000)))
    result = run("send", str(csv), "--to", "samp_receiver", *(["--mtype", mtype] if mtype else []))
    assert result.returncode == 0, result.stderr
    expected = mtype or "table.load.fits"  # samp_receiver takes every MType (a wildcard)
    assert samp_receiver.wait_for(expected).params["name"] == "big.csv"


def test_send_fits_image_uses_image_mtype(
    samp_hub: Hub, samp_receiver: Recorder, tmp_path: Path
) -> None:
    image = tmp_path / "img.fits"
    header = "".join(
        card.ljust(80)
        for card in (
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
            "NAXIS   =                    2",
            "NAXIS1  =                    2",
            "NAXIS2  =                    2",
            "END",
        )
    )
    image.write_bytes(header.encode().ljust(2880) + bytes(2880))
    result = run("send", str(image))
    assert result.returncode == 0, result.stderr
    assert samp_receiver.wait_for("image.load.fits").params["url"].endswith("img.fits")


def test_send_url_needs_an_mtype_it_cannot_guess(samp_hub: Hub, samp_receiver: Recorder) -> None:
    result = run("send", "https://example.org/thing")
    assert result.returncode == 1 and "--mtype" in result.stderr
    result = run("send", "https://example.org/thing", "--mtype", "x.custom.load")
    assert result.returncode == 0, result.stderr
    assert samp_receiver.wait_for("x.custom.load").params["url"] == "https://example.org/thing"


def test_point_sends_sky_position(samp_hub: Hub, samp_receiver: Recorder) -> None:
    result = run("point", "10.5", "-20", "--to", "samp_receiver")
    assert result.returncode == 0, result.stderr
    params = samp_receiver.wait_for("coord.pointAt.sky").params
    assert float(params["ra"]) == 10.5 and float(params["dec"]) == -20


def test_message_with_wait_prints_responses(samp_hub: Hub, samp_receiver: Recorder) -> None:
    result = run(
        "message", "test.echo", "a=1", 'b=["x", "y"]', "--to", "samp_receiver", "--wait", "5"
    )
    assert result.returncode == 0, result.stderr
    assert "samp_receiver" in result.stdout and "ok" in result.stdout
    assert samp_receiver.wait_for("test.echo").params == {"a": "1", "b": ["x", "y"]}


def test_listen_shows_what_send_sends_and_stops_on_ctrl_c(samp_hub: Hub, tmp_path: Path) -> None:
    listener = start("listen", "--json", "--mtype", "table.*")
    try:
        Lines(listener.stderr, "test-stderr").wait_for("listening as", 20)
        table = tmp_path / "t.vot"
        table.write_text("<VOTABLE/>")
        sent = run("send", str(table), "--to", "minisamp listen")
        assert sent.returncode == 0, sent.stderr
        line = read_line_with(listener, "table.load.votable")
        assert json.loads(line)["params"]["url"] == table.resolve().as_uri()
    finally:
        listener.send_signal(signal.SIGINT)
        assert listener.wait(20) == 130  # interrupted, as docs/cli.md says


def test_hub_command_runs_until_sigint_and_removes_its_lockfile(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    for stop in (signal.SIGINT, signal.SIGTERM):
        hub = start("hub", "--lockfile", str(lockfile))
        try:
            read_line_with(hub, "press Ctrl-C")
            info = read_lockfile(lockfile.as_uri())
            assert info is not None and info.xmlrpc_url.startswith("http://127.0.0.1:")
        finally:
            hub.send_signal(stop)
            assert hub.wait(20) == 0
        assert not lockfile.exists()


def test_demo_sends_and_receives_a_table() -> None:
    pytest.importorskip("astropy", reason="astropy is not installed (pip install astropy)")
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "5 rows x 4 columns" in result.stdout and "Bételgeuse" in result.stdout


def test_hub_command_serves_the_web_profile_when_asked(tmp_path: Path) -> None:
    import socket

    from minisamp.xmlrpc.transport import XmlRpcProxy

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hub = start(
        "hub",
        "--lockfile",
        str(tmp_path / "lock"),
        "--web",
        "--web-port",
        str(port),
        "--web-auth",
        "allow",
    )
    try:
        read_line_with(hub, "press Ctrl-C")
        web = XmlRpcProxy(f"http://127.0.0.1:{port}/", timeout=10)
        reg = web.call("samp.webhub.register", {"samp.name": "a page"})
        assert isinstance(reg, dict) and "samp.url-translator" in reg
        web.close()
    finally:
        hub.send_signal(signal.SIGINT)
        assert hub.wait(20) == 0


def test_hub_verbose_logs_registrations_without_keys(tmp_path: Path) -> None:
    lockfile = tmp_path / "lockfile"
    hub = start("hub", "--lockfile", str(lockfile), "--verbose")
    log = Lines(hub.stderr, "test-stderr")
    try:
        read_line_with(hub, "press Ctrl-C")
        environ = {**os.environ, "SAMP_HUB": f"std-lockurl:{lockfile.as_uri()}"}
        listed = subprocess.run(
            [*MINISAMP, "clients"], capture_output=True, text=True, timeout=30, env=environ
        )
        assert listed.returncode == 0, listed.stderr
        secret = read_lockfile(lockfile.as_uri()).secret  # type: ignore[union-attr]
    finally:
        hub.send_signal(signal.SIGINT)
        assert hub.wait(20) == 0
    text = log.until_end(20)
    assert "registered c1" in text and "INFO" in text
    assert secret not in text
