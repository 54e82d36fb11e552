"""A client given a bad lockfile fails at once, saying what is wrong; it never hangs.

``tests/test_lockfile.py`` checks the parser and reader one function at a time; here a
whole ``Client.connect()`` meets each bad lockfile, and must raise
:class:`~minisamp.errors.HubNotFoundError` (or another :class:`SAMPHubError` when a hub
answers but misbehaves) whose message names the problem, within a bounded time.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_lockfile

from minisamp import Client, HubNotFoundError, SAMPHubError, SAMPWarning
from minisamp.errors import SAMPProxyError
from minisamp.hub import Hub
from minisamp.xmlrpc.server import XmlRpcServer

pytestmark = pytest.mark.timeout(30)

# The servers that are not hubs, shared with tests/test_lockfile.py.
closed_port = test_lockfile.closed_port
silent_port = test_lockfile.silent_port
web_server = test_lockfile.web_server

#: Connect attempts here use this client timeout; each must fail within it plus this slack,
#: which is generous for a loaded machine yet far below the 30 s default a client that
#: ignored its timeout would wait.
TIMEOUT = 1.0
SLACK = 10.0


def lockfile(path: Path, text: str | bytes, mode: int = 0o600) -> Path:
    path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    path.chmod(mode)
    return path


def lock_text(url: str, secret: str = "s3cret") -> str:
    return f"samp.secret={secret}\nsamp.hub.xmlrpc.url={url}\nsamp.profile.version=1.3\n"


def connect_fails(
    where: str | Path, error: type[Exception] = HubNotFoundError, timeout: float = TIMEOUT
) -> Exception:
    """Connect with the lockfile at *where*; return the error, checking its type and speed."""
    client = Client("x", lockfile=str(where), timeout=timeout)
    started = time.monotonic()
    with pytest.raises(error) as info:
        client.connect()
    elapsed = time.monotonic() - started
    assert elapsed < timeout + SLACK, f"took {elapsed:.1f} s"
    assert not client.is_connected
    return info.value


def connect_fails_env() -> Exception:
    """Connect as discovery finds the hub (SAMP_HUB, ~/.samp); return the error."""
    client = Client("x", timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(HubNotFoundError) as info:
        client.connect()
    assert time.monotonic() - started < TIMEOUT + SLACK
    return info.value


# -- unreadable or incomplete ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"", "no samp.secret"),
        (bytes(range(256)) * 64, "no samp.secret"),
        (b"\x00" * 100_000, "no samp.secret"),
        (b"samp.hub.xmlrpc.url=http://127.0.0.1:1/\n", "no samp.secret"),
        (b"samp.secret=abc\n", "no samp.hub.xmlrpc.url"),
        (b"samp.secret abc\nsamp.hub.xmlrpc.url: http://x/\n", "no samp.secret"),
        (b"#samp.secret=abc\n#samp.hub.xmlrpc.url=http://127.0.0.1:1/\n", "no samp.secret"),
        (b"x=" + b"y" * 200_000 + b"\nsamp.secret=a\nsamp.hub.xmlrpc.url=http://h/", "no samp"),
    ],
    ids=[
        "empty",
        "binary-garbage",
        "nul-bytes",
        "no-secret",
        "no-url",
        "wrong-separators",
        "commented-out",
        "keys-beyond-64k",
    ],
)
def test_unusable_lockfile_names_the_file_and_what_is_missing(
    tmp_path: Path, content: bytes, named: str
) -> None:
    path = lockfile(tmp_path / "lock", content)
    error = connect_fails(path)
    assert named in str(error) and str(path) in str(error)
    assert "delete it" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/xmlrpc",
        "http://127.0.0.1:99999/xmlrpc",
        "http://127.0.0.1:port/xmlrpc",
        "http:///xmlrpc",
        "http://[::1/xmlrpc",
        "",
    ],
    ids=["ftp", "port-out-of-range", "port-not-a-number", "no-host", "bad-ipv6", "empty"],
)
def test_lockfile_naming_an_unusable_hub_url_says_so(tmp_path: Path, url: str) -> None:
    path = lockfile(tmp_path / "lock", lock_text(url))
    error = connect_fails(path)
    assert "samp.hub.xmlrpc.url" in str(error) and str(path) in str(error)


def test_lockfile_that_is_a_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "lock").mkdir()
    assert "directory" in str(connect_fails(tmp_path / "lock"))


@pytest.mark.skipif(
    not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX named pipes; not on Windows)"
)
def test_lockfile_that_is_a_named_pipe_fails_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "lock")  # opening it for reading would wait for a writer for ever
    assert "not a regular file" in str(connect_fails(tmp_path / "lock"))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero (a POSIX system)")
def test_lockfile_that_is_a_device_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "lock").symlink_to("/dev/zero")
    assert "not a regular file" in str(connect_fails(tmp_path / "lock"))


def test_lockfile_under_a_regular_file_says_why(tmp_path: Path) -> None:
    lockfile(tmp_path / "file", "x")
    assert "Not a directory" in str(connect_fails(tmp_path / "file" / "lock"))


def test_lockfile_that_is_a_symlink_loop_says_why(tmp_path: Path) -> None:
    (tmp_path / "lock").symlink_to(tmp_path / "lock")
    assert "symbolic links" in str(connect_fails(tmp_path / "lock"))


def test_unreadable_lockfile_says_why(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("runs as root, which reads any file: run as an ordinary user to check this")
    path = lockfile(tmp_path / "lock", lock_text("http://127.0.0.1:1/"), mode=0o000)
    assert "ermission" in str(connect_fails(path))


# -- a URL that leads nowhere useful --------------------------------------------------------


def test_hub_url_on_a_closed_port_says_the_hub_died(tmp_path: Path, closed_port: int) -> None:
    path = lockfile(tmp_path / "lock", lock_text(f"http://127.0.0.1:{closed_port}/xmlrpc"))
    error = connect_fails(path)
    assert "died" in str(error) and str(closed_port) in str(error) and str(path) in str(error)


def test_hub_that_never_answers_fails_within_the_client_timeout(
    tmp_path: Path, silent_port: int
) -> None:
    path = lockfile(tmp_path / "lock", lock_text(f"http://127.0.0.1:{silent_port}/xmlrpc"))
    error = connect_fails(path, SAMPHubError)
    # Its port accepts: a hub busy or stuck, never reported as dead (issue 13).
    assert not isinstance(error, HubNotFoundError)
    assert "within" in str(error) and "running" in str(error) and "died" not in str(error)


@pytest.mark.slow
def test_hub_that_never_answers_fails_within_five_seconds_by_default(
    tmp_path: Path, silent_port: int
) -> None:
    path = lockfile(tmp_path / "lock", lock_text(f"http://127.0.0.1:{silent_port}/xmlrpc"))
    client = Client("x", lockfile=str(path))  # the default timeout (30 s) for hub calls
    started = time.monotonic()
    with pytest.raises(SAMPHubError, match="busy or stuck"):
        client.connect()
    assert time.monotonic() - started < 5 + SLACK


@pytest.mark.parametrize("page", [b"<html>hello</html>", b""], ids=["html", "empty"])
def test_http_server_that_is_not_a_hub_says_so(
    tmp_path: Path, web_server: tuple[str, dict[str, bytes]], page: bytes
) -> None:
    base, pages = web_server
    pages["/xmlrpc"] = page
    path = lockfile(tmp_path / "lock", lock_text(f"{base}/xmlrpc"))
    error = connect_fails(path)
    assert base in str(error)


def test_http_server_answering_404_says_so(
    tmp_path: Path, web_server: tuple[str, dict[str, bytes]]
) -> None:
    base, _ = web_server
    path = lockfile(tmp_path / "lock", lock_text(f"{base}/xmlrpc"))
    error = connect_fails(path)
    assert "404" in str(error) and base in str(error)


def _fake_hub(register: Any) -> XmlRpcServer:
    """An XML-RPC server that answers ping, and register with *register* (or its fault)."""

    def dispatch(method: str, params: tuple[Any, ...], client: Any) -> Any:
        if method == "samp.hub.ping":
            return ""
        if isinstance(register, Exception):
            raise register
        if method == "samp.hub.register":
            return register
        raise SAMPProxyError(1, "no")

    server = XmlRpcServer(dispatch, name="fake-hub")
    server.start()
    return server


@pytest.mark.parametrize(
    "register",
    [
        "a string",
        {"samp.self-id": "c1"},
        {"samp.self-id": ["c1"], "samp.private-key": "k", "samp.hub-id": "hub"},
    ],
    ids=["string", "missing-keys", "list-id"],
)
def test_server_that_answers_register_with_nonsense_is_a_hub_error(
    tmp_path: Path, register: Any
) -> None:
    server = _fake_hub(register)
    try:
        path = lockfile(tmp_path / "lock", lock_text(server.url))
        error = connect_fails(path, SAMPHubError)
        assert "malformed reg-info" in str(error)
    finally:
        server.close()


def test_hub_that_answers_ping_but_never_registers_fails_within_the_timeout(
    tmp_path: Path,
) -> None:
    stop = threading.Event()

    def dispatch(method: str, params: tuple[Any, ...], client: Any) -> Any:
        if method == "samp.hub.register":
            stop.wait(30)
        return ""

    server = XmlRpcServer(dispatch, name="stuck-hub")
    server.start()
    try:
        path = lockfile(tmp_path / "lock", lock_text(server.url))
        error = connect_fails(path, SAMPHubError)
        assert "register" in str(error) and server.url in str(error)
    finally:
        stop.set()
        server.close()


# -- permissions and discovery --------------------------------------------------------------


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with Hub(tmp_path / "hub" / "lockfile") as running:
        yield running


def test_world_readable_lockfile_warns_and_still_connects(tmp_path: Path, hub: Hub) -> None:
    path = lockfile(tmp_path / "lock", hub.lockfile.read_bytes(), mode=0o644)
    with pytest.warns(SAMPWarning, match="readable by other users") as record:
        client = Client("x", lockfile=str(path))
        client.connect()
    client.close()
    assert "chmod 600" in str(record[0].message) and str(path) in str(record[0].message)


def test_private_lockfile_gives_no_warning(hub: Hub) -> None:
    client = Client("x", lockfile=hub.lock_url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            client.connect()
        assert client.is_connected
        assert client.hub_id in client.clients  # it talked to the hub
    finally:
        client.close()


@pytest.mark.parametrize("value", ["web-appname:foo", "jsamp-class:x.Y", "http://x/", "garbage"])
def test_samp_hub_with_an_unknown_prefix_is_ignored_for_dot_samp_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    home = tmp_path / "isolated-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SAMP_HUB", value)
    error = connect_fails_env()
    assert "no SAMP hub is running" in str(error) and str(home / ".samp") in str(error)
    with Hub(home / ".samp"), Client("x") as connected:
        assert connected.is_connected


def test_std_lockurl_over_http_that_404s_says_so(
    monkeypatch: pytest.MonkeyPatch, web_server: tuple[str, dict[str, bytes]]
) -> None:
    base, _ = web_server
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{base}/no-such-lockfile")
    error = connect_fails_env()
    assert "404" in str(error) and f"{base}/no-such-lockfile" in str(error)


def test_std_lockurl_over_http_that_never_answers_fails_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch, silent_port: int
) -> None:
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:http://127.0.0.1:{silent_port}/lock")
    assert "cannot read the SAMP lockfile" in str(connect_fails_env())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/lock", "nonsense", "file://otherhost/lock"])
def test_std_lockurl_that_cannot_be_read_says_so(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{url}")
    error = connect_fails_env()
    assert url in str(error)
