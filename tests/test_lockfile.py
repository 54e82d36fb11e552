"""Hub discovery (SAMP 1.3 §4.3): minisamp.lockfile.

Every test works in ``tmp_path`` with explicit environ dicts (or a monkeypatched
environment): the real ``~/.samp`` is never read or written.
"""

from __future__ import annotations

import http.server
import logging
import os
import re
import socket
import stat
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httputil import serving

from minisamp.errors import HubNotFoundError, SAMPHubError, SAMPProxyError, SAMPWarning
from minisamp.lockfile import (
    LockInfo,
    claim_lockfile,
    default_lockfile_path,
    file_url_to_path,
    find_lockfile,
    hub_lockfile_path,
    is_hub_alive,
    parse_lockfile,
    read_lockfile,
    release_lockfile,
)
from minisamp.xmlrpc.server import XmlRpcServer

GOOD = (
    "samp.secret=s3cret\nsamp.hub.xmlrpc.url=http://127.0.0.1:1/xmlrpc\nsamp.profile.version=1.3\n"
)


# -- helpers -------------------------------------------------------------------------------


def _hub_dispatcher(method: str, params: tuple[Any, ...], client: tuple[str, int]) -> Any:
    if method == "samp.hub.ping":
        return None
    raise SAMPProxyError(1, f"no such method {method}")


@pytest.fixture
def live_hub() -> Iterator[XmlRpcServer]:
    """A minimal "hub": an XML-RPC server that answers samp.hub.ping."""
    server = XmlRpcServer(_hub_dispatcher, name="fake-hub")
    server.start()
    yield server
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that completes TCP connections but never says anything."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.fixture
def web_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A plain HTTP server (not XML-RPC) serving ``pages``; yields (base URL, pages)."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self) -> None:
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _reply
        do_POST = _reply

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler, thread_name="test-web", poll=0.05) as base:
        yield base, pages


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_bytes(text.encode("ascii"))
    path.chmod(mode)
    return path


# -- grammar -------------------------------------------------------------------------------


def test_parse_reads_the_required_keys() -> None:
    info = parse_lockfile(GOOD)
    assert info.secret == "s3cret"
    assert info.xmlrpc_url == "http://127.0.0.1:1/xmlrpc"
    assert info.profile_version == "1.3"
    assert info.extra == {}


def test_values_containing_equals_are_split_on_the_first_only() -> None:
    info = parse_lockfile("samp.secret=a=b==c\nsamp.hub.xmlrpc.url=http://h:1/x?a=1&b=2\n")
    assert info.secret == "a=b==c"
    assert info.xmlrpc_url == "http://h:1/x?a=1&b=2"


def test_values_are_not_trimmed() -> None:
    info = parse_lockfile("samp.secret= two  spaces \nsamp.hub.xmlrpc.url=u\n")
    assert info.secret == " two  spaces "


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"], ids=["CRLF", "CR", "LF"])
def test_any_line_ending_is_accepted(newline: str) -> None:
    info = parse_lockfile(GOOD.replace("\n", newline))
    assert info.secret == "s3cret"
    assert info.xmlrpc_url == "http://127.0.0.1:1/xmlrpc"
    assert info.profile_version == "1.3"


def test_comments_blank_lines_and_junk_lines_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    text = (
        "# SAMP lockfile\n\n#samp.secret=commented-out\n"
        "this line is junk\n  samp.secret=indented\n=no-name\nbad name=x\n"
        "samp.secret=real\n\nsamp.hub.xmlrpc.url=http://h:2/\n"
    )
    with caplog.at_level(logging.WARNING, logger="minisamp.lockfile"):
        info = parse_lockfile(text)
    assert info.secret == "real"
    assert info.xmlrpc_url == "http://h:2/"
    assert info.extra == {}
    assert "junk" in caplog.text


@pytest.mark.parametrize("missing", ["samp.secret", "samp.hub.xmlrpc.url"])
def test_missing_required_key_raises_naming_the_key_and_file(missing: str) -> None:
    text = "".join(line + "\n" for line in GOOD.splitlines() if not line.startswith(missing))
    with pytest.raises(HubNotFoundError, match=re.escape(missing)) as info:
        parse_lockfile(text, "/some/where/.samp")
    assert "/some/where/.samp" in str(info.value)


def test_empty_lockfile_is_incomplete() -> None:
    with pytest.raises(HubNotFoundError):
        parse_lockfile("")


@pytest.mark.parametrize("version_line", ["", "samp.profile.version=0.9-odd\n"])
def test_absent_or_odd_profile_version_is_accepted(version_line: str) -> None:
    info = parse_lockfile(f"samp.secret=s\nsamp.hub.xmlrpc.url=u\n{version_line}")
    assert info.secret == "s"
    assert info.profile_version in ("", "0.9-odd")


def test_extra_keys_are_kept() -> None:
    info = parse_lockfile(GOOD + "com.yoyodyne.hubid=c-1848\nhub.impl=org.x.Hub$1\n")
    assert info.extra == {"com.yoyodyne.hubid": "c-1848", "hub.impl": "org.x.Hub$1"}


def test_to_text_parses_back_to_the_same_info() -> None:
    info = LockInfo("abc", "http://127.0.0.1:5/xmlrpc", "1.3", {"hub.label": "a b=c"})
    back = parse_lockfile(info.to_text())
    assert (back.secret, back.xmlrpc_url, back.profile_version, back.extra) == (
        "abc",
        "http://127.0.0.1:5/xmlrpc",
        "1.3",
        {"hub.label": "a b=c"},
    )


# -- finding the lockfile ----------------------------------------------------------------------


def test_default_lockfile_is_dot_samp_in_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert default_lockfile_path(env) == tmp_path / ".samp"
    assert file_url_to_path(find_lockfile(env)) == tmp_path / ".samp"


@pytest.mark.parametrize(
    "url",
    ["file:///tmp/x/lock", "file://localhost/tmp/x/lock", "http://127.0.0.1:8080/samp/lock"],
)
def test_samp_hub_std_lockurl_names_the_lockfile(url: str, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SAMP_HUB": f"std-lockurl:{url}"}
    assert find_lockfile(env) == url


@pytest.mark.parametrize("value", ["web-appname:topcat", "jsamp-class:a.B", "file:///tmp/x", ""])
def test_samp_hub_with_another_prefix_is_ignored(value: str, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SAMP_HUB": value}
    assert file_url_to_path(find_lockfile(env)) == tmp_path / ".samp"


def test_hub_writes_where_samp_hub_says(tmp_path: Path) -> None:
    target = tmp_path / "alt lock"
    env = {"HOME": str(tmp_path), "SAMP_HUB": f"std-lockurl:{target.as_uri()}"}
    assert hub_lockfile_path(env) == target


def test_hub_refuses_an_http_lockurl(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SAMP_HUB": "std-lockurl:http://127.0.0.1:1/lock"}
    with pytest.raises(SAMPHubError, match="std-lockurl:file"):
        hub_lockfile_path(env)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:/tmp/a/.samp", "/tmp/a/.samp"),
        ("file:///tmp/a/.samp", "/tmp/a/.samp"),
        ("file://localhost/tmp/a/.samp", "/tmp/a/.samp"),
        ("file:///tmp/with%20space/c%25d", "/tmp/with space/c%d"),
        ("file:///tmp/with space/x", "/tmp/with space/x"),
        ("file:///tmp/caf%C3%A9", "/tmp/caf\u00e9"),
    ],
)
def test_file_url_to_path_accepts_the_usual_forms(url: str, path: str) -> None:
    assert file_url_to_path(url) == Path(path)


def test_file_url_to_path_inverts_as_uri(tmp_path: Path) -> None:
    path = tmp_path / "dir with space" / "50% done" / ".samp"
    assert file_url_to_path(path.as_uri()) == path


@pytest.mark.parametrize("url", ["http://h/x", "file://otherhost/tmp/x", "/tmp/x"])
def test_file_url_to_path_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError):
        file_url_to_path(url)


# -- reading -------------------------------------------------------------------------------------


def test_read_missing_lockfile_gives_none(tmp_path: Path) -> None:
    assert read_lockfile((tmp_path / "nothing").as_uri()) is None


def test_read_lockfile_that_is_a_directory_raises(tmp_path: Path) -> None:
    (tmp_path / ".samp").mkdir()
    with pytest.raises(HubNotFoundError, match="directory"):
        read_lockfile((tmp_path / ".samp").as_uri())


def test_read_private_lockfile_gives_info_without_warning(tmp_path: Path) -> None:
    path = write(tmp_path / ".samp", GOOD)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = read_lockfile(path.as_uri())
    assert info is not None
    assert info.secret == "s3cret"
    assert info.source == str(path)


def test_read_incomplete_lockfile_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "broken lock", "samp.secret=x\n")
    with pytest.raises(HubNotFoundError, match=r"samp\.hub\.xmlrpc\.url") as info:
        read_lockfile(path.as_uri())
    assert str(path) in str(info.value)


def test_world_readable_lockfile_gives_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / ".samp", GOOD, mode=0o644)
    with pytest.warns(SAMPWarning, match="chmod 600"):
        info = read_lockfile(path.as_uri())
    assert info is not None
    assert info.secret == "s3cret"


def test_read_lockfile_defaults_to_samp_hub_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "lock", GOOD)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{path.as_uri()}")
    info = read_lockfile()
    assert info is not None
    assert info.secret == "s3cret"


def test_read_lockfile_over_http(web_server: tuple[str, dict[str, bytes]]) -> None:
    base, pages = web_server
    pages["/samp/lock"] = GOOD.replace("\n", "\r\n").encode()
    info = read_lockfile(f"{base}/samp/lock")
    assert info is not None
    assert info.secret == "s3cret"
    assert info.source == f"{base}/samp/lock"


def test_read_lockfile_over_http_404_raises(web_server: tuple[str, dict[str, bytes]]) -> None:
    base, _ = web_server
    with pytest.raises(HubNotFoundError, match="404"):
        read_lockfile(f"{base}/missing")


def test_read_lockfile_over_http_from_a_closed_port_raises(closed_port: int) -> None:
    with pytest.raises(HubNotFoundError):
        read_lockfile(f"http://127.0.0.1:{closed_port}/lock", timeout=2)


def test_read_lockfile_from_a_server_that_does_not_speak_http_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)

        def garbage() -> None:
            conn, _ = sock.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"SSH-2.0-not-http\r\n")

        thread = threading.Thread(target=garbage, daemon=True)
        thread.start()
        with pytest.raises(HubNotFoundError):
            read_lockfile(f"http://127.0.0.1:{sock.getsockname()[1]}/lock", timeout=2)
        thread.join(5)


@pytest.mark.parametrize("url", ["no-scheme-at-all", "file://otherhost/tmp/.samp"])
def test_read_lockfile_from_an_unusable_url_raises_hub_not_found(url: str) -> None:
    with pytest.raises(HubNotFoundError):
        read_lockfile(url)


# -- is the hub alive? -------------------------------------------------------------------------


def test_live_hub_is_alive(live_hub: XmlRpcServer) -> None:
    assert is_hub_alive(live_hub.url, timeout=2)


def test_closed_port_is_not_alive(closed_port: int) -> None:
    assert not is_hub_alive(f"http://127.0.0.1:{closed_port}/xmlrpc", timeout=2)


def test_silent_server_is_not_alive_within_the_timeout(silent_port: int) -> None:
    started = time.monotonic()
    assert not is_hub_alive(f"http://127.0.0.1:{silent_port}/xmlrpc", timeout=0.3)
    assert time.monotonic() - started < 30  # the server never answers: the timeout ended it


def test_http_server_that_is_not_xmlrpc_is_not_alive(
    web_server: tuple[str, dict[str, bytes]],
) -> None:
    base, pages = web_server
    pages["/xmlrpc"] = b"<html><body>Hello</body></html>"
    assert not is_hub_alive(f"{base}/xmlrpc", timeout=2)
    assert not is_hub_alive(f"{base}/not-found", timeout=2)


# -- claiming and releasing (hub side) -----------------------------------------------------------


def test_claim_creates_a_private_lockfile(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".samp"
    info = LockInfo("secret-1", "http://127.0.0.1:9/xmlrpc")
    claim_lockfile(path, info)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = read_lockfile(path.as_uri())
    assert back is not None
    assert (back.secret, back.xmlrpc_url) == ("secret-1", "http://127.0.0.1:9/xmlrpc")


def test_claim_creates_the_lockfile_exclusively_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        calls.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    path = tmp_path / ".samp"
    claim_lockfile(path, LockInfo("s", "http://127.0.0.1:9/"))
    (_, flags, mode) = next(call for call in calls if call[0] == str(path))
    assert flags & os.O_EXCL and flags & os.O_CREAT
    assert mode == 0o600


def test_claim_refuses_while_a_live_hub_owns_the_lockfile(
    tmp_path: Path, live_hub: XmlRpcServer
) -> None:
    path = write(tmp_path / ".samp", f"samp.secret=theirs\nsamp.hub.xmlrpc.url={live_hub.url}\n")
    with pytest.raises(SAMPHubError, match="already running"):
        claim_lockfile(path, LockInfo("mine", "http://127.0.0.1:9/"))
    assert "theirs" in path.read_text()


def test_claim_overwrites_a_dead_hubs_lockfile_with_a_warning(
    tmp_path: Path, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{closed_port}/xmlrpc"
    (tmp_path / "hub").mkdir()
    path = write(tmp_path / "hub" / ".samp", f"samp.secret=theirs\nsamp.hub.xmlrpc.url={dead}\n")
    with caplog.at_level(logging.WARNING, logger="minisamp.lockfile"):
        claim_lockfile(path, LockInfo("mine", "http://127.0.0.1:9/"))
    info = read_lockfile(path.as_uri())
    assert info is not None
    assert info.secret == "mine"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "dead hub" in caplog.text
    assert [p.name for p in path.parent.iterdir()] == [".samp"]  # no temp file left


def test_claim_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    path = tmp_path / ".samp"
    path.symlink_to(victim)
    claim_lockfile(path, LockInfo("mine", "http://127.0.0.1:9/"))
    assert not victim.exists()
    assert not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_release_deletes_the_lockfile_carrying_our_secret(tmp_path: Path) -> None:
    path = tmp_path / ".samp"
    claim_lockfile(path, LockInfo("mine", "http://127.0.0.1:9/"))
    assert release_lockfile(path, "mine")
    assert not path.exists()


def test_release_keeps_a_lockfile_another_hub_wrote(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / ".samp", "samp.secret=theirs\nsamp.hub.xmlrpc.url=http://h:1/\n")
    with caplog.at_level(logging.WARNING, logger="minisamp.lockfile"):
        assert not release_lockfile(path, "mine")
    assert path.exists()
    assert "not deleting" in caplog.text


def test_release_of_a_missing_lockfile_is_false(tmp_path: Path) -> None:
    assert not release_lockfile(tmp_path / ".samp", "mine")
