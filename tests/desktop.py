"""The desktop apps our users run — TOPCAT, Aladin, DS9 — headless under Xvfb, isolated.

Each starter returns a :class:`DesktopApp` once the app is *usable* (registered and
subscribed to the MType the test will send, and for Aladin its console prompt shown),
polling for that state, never sleeping a fixed time.  Every app gets its own
``user.home``/``HOME`` in the test's directory, binds loopback only, and is stopped
at teardown by the fixture that started it.  See ``shared/desktop-apps.md`` for the
quirks this encodes.

Fixtures: ``xvfb_display`` (a private X display) and ``desktop`` (a factory:
``desktop("topcat")``, ``desktop("aladin")``, ``desktop("ds9")``).  Tests that need an
app skip, naming the Debian package to install, when it is absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from minisamp.client import Client

JAVA = "/usr/bin/java"
TOPCAT_JAR = Path("/usr/share/java/starlink-topcat.jar")
ALADIN_JAR = Path("/usr/share/java/aladin.jar")
DS9_TCL = Path("/usr/share/saods9/library/ds9.tcl")

#: What each app registers as (``samp.name``).
SAMP_NAMES = {"topcat": "topcat", "aladin": "Aladin", "ds9": "SAOImageDS9"}

# DS9 serves XML-RPC on its host name unless told otherwise; keep it on loopback.
_DS9_PREFS = (
    "proc xmlrpc::serve {port} { variable acceptfd; set acceptfd [socket -server "
    "xmlrpc::serveOnce -myaddr [info hostname] $port]; return $acceptfd }\n"
)


@dataclass
class DesktopApp:
    """A running app: its process, SAMP client id, and where its output goes."""

    kind: str
    process: subprocess.Popen[bytes]
    client_id: str
    log: Path
    home: Path
    output: list[str] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop the app; DS9 is asked to exit over SAMP first (SIGTERM skips unregistering)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def require(kind: str) -> None:
    """Skip the test, saying what to install, unless the app *kind* can run here."""
    needs = {
        "topcat": (TOPCAT_JAR, "apt-get install topcat"),
        "aladin": (ALADIN_JAR, "apt-get install aladin"),
        "ds9": (DS9_TCL, "apt-get install saods9"),
    }
    path, hint = needs[kind]
    if not path.exists():
        pytest.skip(f"{kind} is not installed ({path} is missing): {hint}")
    if kind != "ds9" and not Path(JAVA).exists():
        pytest.skip(f"{kind} needs a Java runtime: apt-get install default-jre-headless")
    if kind == "ds9" and shutil.which("wish") is None:
        pytest.skip("DS9 needs Tk's wish: apt-get install saods9")
    if shutil.which("Xvfb") is None:
        pytest.skip(f"{kind} needs a display and Xvfb is not installed: apt-get install xvfb")


@contextlib.contextmanager
def running_xvfb(directory: Path, timeout: float = 30.0) -> Iterator[str]:
    """A private Xvfb display (``:N``, chosen by Xvfb itself), stopped on exit."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed: apt-get install xvfb")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=(directory / "xvfb.log").open("wb"),
    )
    os.close(write_end)
    try:
        number = _read_line(read_end, timeout)
        if not number:
            raise RuntimeError(f"Xvfb did not start: see {directory / 'xvfb.log'}")
        yield f":{number}"
    finally:
        os.close(read_end)
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _read_line(fd: int, timeout: float) -> str:
    """The first line written to *fd*, or "" if none comes within *timeout* s."""
    import select

    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def _command(kind: str, home: Path) -> list[str]:
    java = [JAVA, f"-Duser.home={home}", "-Djava.awt.headless=false"]
    jsamp = ["-Djsamp.localhost=127.0.0.1", "-Djsamp.server.port=0"]
    if kind == "topcat":
        main = ["uk.ac.starlink.topcat.Driver", "-samp", "-nohub"]
        return [*java, *jsamp, "-classpath", str(TOPCAT_JAR), *main]
    if kind == "aladin":
        flags = ["-local", "-noreleasetest", "-nolog", "-nobeta", "-noplugin"]
        return [*java, "-Xmx1024m", "-jar", str(ALADIN_JAR), *flags]
    servers = ["-xpa", "no", "-port", "0", "-unix", "none", "-fifo", "none"]
    return ["wish", "-f", str(DS9_TCL), *servers]


def start_app(
    kind: str,
    display: str,
    lockfile: Path,
    directory: Path,
    ready_mtype: str,
    timeout: float = 90.0,
) -> DesktopApp:
    """Start *kind* on the hub of *lockfile*; return once it is subscribed to *ready_mtype*.

    Aladin reads only ``~/.samp``: the lockfile is copied there (its home is private).
    """
    require(kind)
    home = directory / f"{kind}-home"
    home.mkdir(parents=True, exist_ok=True)
    if kind == "aladin":
        (home / ".samp").write_bytes(lockfile.read_bytes())
        os.chmod(home / ".samp", 0o600)
    if kind == "ds9":
        (home / ".ds9").mkdir(exist_ok=True)
        (home / ".ds9" / "ds9.8.4.prf").write_text(_DS9_PREFS)
    env = {
        **os.environ,
        "DISPLAY": display,
        "HOME": str(home),
        "TEMP": str(home),
        "SAMP_HUB": f"std-lockurl:{lockfile.as_uri()}",
    }
    log = directory / f"{kind}.log"
    process = subprocess.Popen(
        _command(kind, home),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    output: list[str] = []
    prompt = threading.Event()
    threading.Thread(
        target=_copy_output, args=(process, log, output, prompt), name=f"{kind}-log", daemon=True
    ).start()
    try:
        client_id = _wait_usable(kind, process, lockfile, ready_mtype, prompt, timeout, log)
    except BaseException:
        process.kill()
        process.wait(5)
        raise
    return DesktopApp(kind, process, client_id, log, home, output)


def _copy_output(
    process: subprocess.Popen[bytes], log: Path, output: list[str], prompt: threading.Event
) -> None:
    assert process.stdout is not None
    seen = ""  # the end of what came so far: Aladin's prompt "Command> " ends no line
    with log.open("w") as sink:
        while chunk := process.stdout.read1(65536):  # type: ignore[attr-defined]
            text = chunk.decode(errors="replace")
            output.append(text)
            sink.write(text)
            sink.flush()
            seen = (seen + text)[-64:]
            if "Command>" in seen:
                prompt.set()
        prompt.set()  # the app ended: stop waiting for its prompt


def _wait_usable(
    kind: str,
    process: subprocess.Popen[bytes],
    lockfile: Path,
    mtype: str,
    prompt: threading.Event,
    timeout: float,
    log: Path,
) -> str:
    deadline = time.monotonic() + timeout
    name = SAMP_NAMES[kind]
    with Client("desktop-test-probe", callable=False, lockfile=lockfile.as_uri()) as probe:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} exited with {process.returncode}: see {log}")
            for client_id in probe.get_subscribed_clients(mtype):
                named = probe.get_metadata(client_id).get("samp.name") == name
                # Aladin registers before its GUI exists: its console prompt says it is ready.
                left = max(0.0, deadline - time.monotonic())
                if named and (kind != "aladin" or prompt.wait(left)):
                    return client_id
            time.sleep(0.1)  # polling another process's registration: there is no event
        seen = {
            cid: (probe.get_metadata(cid).get("samp.name"), len(probe.get_subscriptions(cid)))
            for cid in probe.get_registered_clients()
        }
    raise TimeoutError(
        f"{kind} did not subscribe to {mtype} within {timeout} s (registered: {seen}, "
        f"prompt seen: {prompt.is_set()}): see {log}"
    )


@pytest.fixture
def xvfb_display(tmp_path: Path) -> Iterator[str]:
    """A private X display for the test, stopped at teardown."""
    with running_xvfb(tmp_path) as display:
        yield display


@pytest.fixture
def desktop(
    xvfb_display: str, isolated_samp_env: Path, tmp_path: Path
) -> Iterator[Callable[..., DesktopApp]]:
    """``desktop(kind, ready_mtype=…)`` starts an app on the test's hub; all stopped at the end."""
    started: list[DesktopApp] = []
    defaults = {"topcat": "table.load.votable", "aladin": "image.load.fits", "ds9": "ds9.set"}

    def start(kind: str, ready_mtype: str | None = None, timeout: float = 90.0) -> DesktopApp:
        app = start_app(
            kind,
            xvfb_display,
            isolated_samp_env,
            tmp_path,
            ready_mtype or defaults[kind],
            timeout,
        )
        started.append(app)
        return app

    yield start
    for app in reversed(started):
        app.stop()
