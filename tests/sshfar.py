"""A real far machine for the bridge tests: sshd on 127.0.0.1 and a second Unix user.

:func:`setup_far_user` (root only) makes, idempotently: the user ``sampfar``
(``useradd -m``, then ``usermod -p '*'`` since sshd refuses a locked account), a
venv in its home made from Debian's ``/usr/bin/python3`` (this user cannot read
``/root``, so a pyenv Python is no use to it) with pyvo and astropy installed by pip,
and this checkout's ``minisamp`` copied into it afresh (never ``pip install -e``).
:class:`Sshd` runs ``/usr/sbin/sshd`` on a free loopback port with a throwaway host
key, and a throwaway key pair lets us in as ``sampfar``.  The far user has its own
HOME and ``~/.samp`` and cannot read ours, so URLs must really cross.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER = "sampfar"
FAR_PYTHON = "/usr/bin/python3"
SSHD = "/usr/sbin/sshd"
#: What the far venv gets from PyPI: the versions this environment runs, when it has them.
FAR_PACKAGES = ("defusedxml", "pyvo", "astropy", "numpy")


#: Python source defining ``write_votable(path, rows)``: a TABLEDATA VOTable of *rows*
#: rows (about 62 bytes each), written line by line, for far-side scripts to prepend.
VOTABLE_WRITER = """
def write_votable(path, rows):
    with open(path, "w") as out:
        out.write('<?xml version="1.0"?>\\n<VOTABLE version="1.4"><RESOURCE><TABLE>'
                  '<FIELD name="i" datatype="int"/><FIELD name="x" datatype="double"/>'
                  '<FIELD name="s" datatype="char" arraysize="*"/><DATA><TABLEDATA>\\n')
        for i in range(rows):
            out.write(f"<TR><TD>{i}</TD><TD>{i * 0.001:.6f}</TD><TD>row{i}</TD></TR>\\n")
        out.write("</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>\\n")
"""


def missing_reason() -> str | None:
    """Why the real-sshd tests cannot run here, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root (to add a Unix user and run sshd): CI runs as root"
    for path, package in ((SSHD, "openssh-server"), (FAR_PYTHON, "python3-venv")):
        if not Path(path).exists():
            return f"{path} is missing: apt-get install -y {package}"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "ssh is missing: apt-get install -y openssh-client"
    return None


def _run(*command: str, user: str | None = None, **kwargs: object) -> str:
    if user is not None:
        command = ("runuser", "-u", user, "--", *command)
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return str(out.stdout)


def _pinned() -> list[str]:
    from importlib import metadata

    pins = []
    for name in FAR_PACKAGES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def setup_far_user() -> Path:
    """The far user, its key-less account unlocked, its venv; returns its home."""
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        _run("useradd", "-m", "-s", "/bin/sh", USER)
    _run("usermod", "-p", "*", USER)
    home = Path(os.path.expanduser(f"~{USER}"))
    venv = home / "venv"
    pins = _pinned()
    stamp = venv / ("ready-" + hashlib.sha256(" ".join(pins).encode()).hexdigest()[:12])
    if not stamp.exists():
        shutil.rmtree(venv, ignore_errors=True)
        _run(FAR_PYTHON, "-m", "venv", str(venv), user=USER)
        _run(str(venv / "bin/python"), "-m", "pip", "install", "-q", *pins, user=USER, cwd="/")
        stamp.touch()
    site = Path(
        _run(
            str(venv / "bin/python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
            user=USER,
            cwd="/",
        ).strip()
    )
    target = site / "minisamp"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "minisamp", target, ignore=shutil.ignore_patterns("__pycache__"))
    _run("chown", "-R", f"{USER}:{USER}", str(target))
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sshd:
    """sshd on 127.0.0.1 letting the far user in with a throwaway key; ``stop()`` ends it."""

    def __init__(self, workdir: Path, home: Path) -> None:
        workdir.mkdir(mode=0o700, exist_ok=True)
        self.host_key = workdir / "host_key"
        self.key = workdir / "user_key"
        for key in (self.host_key, self.key):
            if not key.exists():
                _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        authorized = ssh_dir / "authorized_keys"
        authorized.write_text(Path(f"{self.key}.pub").read_text())
        authorized.chmod(0o600)
        _run("chown", "-R", f"{USER}:{USER}", str(ssh_dir))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.port = free_port()
        command = [SSHD, "-D", "-e", "-p", str(self.port), "-h", str(self.host_key)]
        for option in (
            "ListenAddress=127.0.0.1",
            f"PidFile={workdir / 'sshd.pid'}",
            "PasswordAuthentication=no",
            "KbdInteractiveAuthentication=no",
            "UsePAM=no",
            f"AllowUsers={USER}",
            "AuthorizedKeysFile=.ssh/authorized_keys",
        ):
            command += ["-o", option]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        assert self.process.stderr is not None
        for line in self.process.stderr:  # sshd -e says when it listens
            if "Server listening" in line:
                break
        else:
            raise RuntimeError(f"sshd did not start (exit {self.process.wait(10)})")
        self.log: list[str] = []
        self._drain = threading.Thread(target=self._read_log, name="sshd-log", daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # read on, or sshd blocks on a full pipe
            self.log.append(line.rstrip())

    @property
    def via(self) -> str:
        """The ``--via`` command reaching the far user (the bridge appends its command)."""
        options = (
            f"-p {self.port} -i {self.key} -o BatchMode=yes -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        )
        return f"ssh {options} {USER}@127.0.0.1"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._drain.join(5)
