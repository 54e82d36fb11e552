"""Standard Profile hub discovery: where the lockfile is, what it says, writing it safely.

The rules (SAMP 1.3 §4.3, and JSAMP's ``LockInfo``):

* ``SAMP_HUB=std-lockurl:<url>`` names the lockfile by URL (``file:`` or ``http:``);
  ``SAMP_HUB`` with another prefix belongs to another profile and is ignored; without
  it the lockfile is ``.samp`` in the home directory (``USERPROFILE`` on Windows).
* Each line is ``name=value`` (split on the *first* ``=``), a ``#`` comment, or empty;
  lines end with CR, LF or CRLF.  ``samp.secret`` and ``samp.hub.xmlrpc.url`` are
  required; ``samp.profile.version`` is never grounds for refusal.
* "Is the hub alive" means ``samp.hub.ping()`` answers; "is it dead" means more: its
  port refuses connections (:func:`hub_may_be_alive`).  A hub that does not answer
  while its port accepts (busy, flooded, stopped in a debugger) is never taken for
  dead, neither by a client nor by a starting hub.
* A hub creates its lockfile with ``O_EXCL`` and mode 0600 (the temp file of a
  replacement too, under a fresh random name), refuses to start while a hub that may
  be alive owns it, overwrites a dead hub's with a warning, warns when the lockfile
  there belongs to another user, and on stop deletes it only if it still carries its
  own secret.
* Not in the standard: astropy's and pyvo's ``mode="multiple"`` hubs write
  ``~/.samp-1/samp-hub-<id>`` instead (:func:`multiple_mode_lockfile`); clients find
  them only by listing that directory (:func:`running_hubs`) and connecting with
  ``hub_params=``.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import stat
import sys
import time
import urllib.parse
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HubNotFoundError, SAMPHubError, SAMPWarning, TransportError
from .liveness import hub_may_be_alive, is_hub_alive

__all__ = [
    "LOCKFILE_NAME",
    "MULTIPLE_MODE_DIR",
    "LockInfo",
    "claim_lockfile",
    "default_lockfile_path",
    "file_url_to_path",
    "find_lockfile",
    "hub_lockfile_path",
    "hub_may_be_alive",
    "is_hub_alive",
    "multiple_mode_lockfile",
    "parse_lockfile",
    "read_lockfile",
    "release_lockfile",
    "running_hubs",
]

logger = logging.getLogger(__name__)

LOCKFILE_NAME = ".samp"
#: The directory of astropy's and pyvo's non-standard ``mode="multiple"`` lockfiles.
MULTIPLE_MODE_DIR = ".samp-1"
_STD_PREFIX = "std-lockurl:"
_ASSIGNMENT = re.compile(r"([a-zA-Z0-9\-_.]+)=(.*)\Z")
_MAX_LOCKFILE_BYTES = 64 * 1024
_TEMP_ATTEMPTS = 5


@dataclass(frozen=True)
class LockInfo:
    """What a lockfile says: the hub's secret and XML-RPC URL, and every other key."""

    secret: str
    xmlrpc_url: str
    profile_version: str = "1.3"
    extra: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def to_text(self) -> str:
        """The lockfile's text, JSAMP-style, with a comment line saying when it was written."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines = [
            f"# SAMP Standard Profile lockfile written by minisamp {now}",
            f"samp.secret={self.secret}",
            f"samp.hub.xmlrpc.url={self.xmlrpc_url}",
            f"samp.profile.version={self.profile_version}",
        ]
        lines += [f"{key}={value}" for key, value in self.extra.items()]
        return "\n".join(lines) + "\n"

    def to_params(self) -> dict[str, str]:
        """The lockfile's keys and values as a map (pyvo's ``hub_params``)."""
        return {
            "samp.secret": self.secret,
            "samp.hub.xmlrpc.url": self.xmlrpc_url,
            "samp.profile.version": self.profile_version,
            **self.extra,
        }


def default_lockfile_path(environ: Mapping[str, str] | None = None) -> Path:
    """``.samp`` in the user's home: ``$HOME``, or ``%USERPROFILE%`` on Windows."""
    env = os.environ if environ is None else environ
    home = env.get("USERPROFILE") if sys.platform == "win32" else env.get("HOME")
    return Path(home or Path.home()) / LOCKFILE_NAME


def find_lockfile(environ: Mapping[str, str] | None = None) -> str:
    """The URL of the lockfile a client should read (honours ``SAMP_HUB``)."""
    env = os.environ if environ is None else environ
    hub = env.get("SAMP_HUB", "")
    if hub.startswith(_STD_PREFIX):
        return hub[len(_STD_PREFIX) :]
    if hub:
        logger.info("ignoring SAMP_HUB=%s: not a Standard Profile (std-lockurl:) value", hub)
    return default_lockfile_path(env).as_uri()


def hub_lockfile_path(environ: Mapping[str, str] | None = None) -> Path:
    """The path a hub should write its lockfile to (honours ``SAMP_HUB``)."""
    url = find_lockfile(environ)
    if not url.startswith("file:"):
        raise SAMPHubError(
            f"SAMP_HUB names a lockfile at {url}, which a hub cannot write: "
            "point SAMP_HUB at a std-lockurl:file:/// URL, or unset it"
        )
    return file_url_to_path(url)


def _url2pathname(path: str) -> str:
    """``urllib.request.url2pathname`` without importing urllib.request."""
    if os.name == "nt":
        from nturl2path import url2pathname

        return str(url2pathname(path))
    return urllib.parse.unquote(path)


def file_url_to_path(url: str) -> Path:
    """The local path of a ``file:`` URL (``file:/p``, ``file:///p``, ``file://localhost/p``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file":
        raise ValueError(f"not a file: URL: {url}")
    if parts.netloc not in ("", "localhost", "127.0.0.1"):
        raise ValueError(f"file URL on another host: {url}")
    return Path(_url2pathname(parts.path))


def parse_lockfile(text: str, source: str = "") -> LockInfo:
    """Parse lockfile text; raise :class:`HubNotFoundError` if a required key is missing."""
    values: dict[str, str] = {}
    for line in re.split(r"\r\n|\r|\n", text):
        if not line or line.startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            logger.warning("ignoring lockfile line that is not name=value: %.60r", line)
            continue
        values[match.group(1)] = match.group(2)
    secret = values.pop("samp.secret", None)
    url = values.pop("samp.hub.xmlrpc.url", None)
    if secret is None or url is None:
        missing = "samp.secret" if secret is None else "samp.hub.xmlrpc.url"
        where = f" {source}" if source else ""
        raise HubNotFoundError(
            f"the SAMP lockfile{where} is incomplete (no {missing}): "
            "delete it and restart your SAMP hub"
        )
    version = values.pop("samp.profile.version", "")
    return LockInfo(secret, url, version, values, source)


def read_lockfile(url: str | None = None, *, timeout: float = 5.0) -> LockInfo | None:
    """Read the lockfile at *url* (default: :func:`find_lockfile`); None if there is none."""
    url = find_lockfile() if url is None else url
    if url.startswith("file:"):
        try:
            path = file_url_to_path(url)
        except ValueError as exc:
            raise HubNotFoundError(f"cannot read the SAMP lockfile at {url}: {exc}") from None
        try:
            return _read_path(path)
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise HubNotFoundError(f"the SAMP lockfile {path} is a directory, not a file") from None
        except OSError as exc:  # permissions, a file where a directory should be, loops
            raise HubNotFoundError(
                f"cannot read the SAMP lockfile {path}: {exc.strerror or exc}"
            ) from exc
    from .xmlrpc.transport import http_get  # the wire layer: only for http: lockfiles

    try:
        data = http_get(url, timeout=timeout)  # one deadline for the whole answer
    except TransportError as exc:
        raise HubNotFoundError(f"cannot read the SAMP lockfile at {url}: {exc}") from exc
    if len(data) > _MAX_LOCKFILE_BYTES:
        raise HubNotFoundError(f"the SAMP lockfile at {url} is over {_MAX_LOCKFILE_BYTES} bytes")
    return parse_lockfile(data.decode("latin-1"), url)


def _read_path(path: Path, *, warn: bool = True) -> LockInfo:
    # O_NONBLOCK: opening a named pipe for reading would wait for a writer, for ever.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as handle:
        status = os.fstat(fd)
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise HubNotFoundError(
                f"the SAMP lockfile {path} is not a regular file: delete it and restart your "
                "SAMP hub"
            )
        data = handle.read(_MAX_LOCKFILE_BYTES)
    if warn:
        _warn_if_foreign(path, status.st_uid)
    if warn and sys.platform != "win32" and mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(
            f"the SAMP lockfile {path} is readable by other users, who can then use your hub: "
            f"chmod 600 {path}",
            SAMPWarning,
            stacklevel=3,
        )
    return parse_lockfile(data.decode("latin-1"), str(path))


def _write_new(path: Path, text: str) -> None:
    # O_EXCL never follows a symlink planted at *path*; O_NOFOLLOW says so twice.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii", newline="\n") as handle:
        handle.write(text)


def _replace(path: Path, text: str) -> None:
    """Write *text* to a new private temp file beside *path*, then rename it over *path*.

    The temp name is random (and created with ``O_EXCL``), so nobody can plant a file or
    a symlink there in advance; a name taken anyway is skipped for another.
    """
    import secrets

    for _ in range(_TEMP_ATTEMPTS):
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        try:
            _write_new(tmp, text)
        except FileExistsError:
            logger.warning("lockfile temp name %s is taken (planted?): trying another", tmp)
            continue
        try:
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return
    raise SAMPHubError(
        f"cannot write the lockfile {path}: {_TEMP_ATTEMPTS} fresh temp names beside it were "
        f"all taken; someone may be interfering with {path.parent}: check it, or use a private "
        "directory (SAMP_HUB=std-lockurl:file:///private/dir/lock)"
    )


def _warn_if_foreign(path: Path, uid: int) -> None:
    """Warn if the lockfile at *path* (owned by *uid*) is not ours."""
    getuid = getattr(os, "getuid", None)
    if getuid is None or uid == getuid():
        return
    warnings.warn(
        f"the SAMP lockfile {path} belongs to another user (uid {uid}): the hub it names is "
        "theirs, and whatever you send it goes to them; delete the file if that is wrong",
        SAMPWarning,
        stacklevel=4,
    )


def _check_directory(directory: Path) -> None:
    if sys.platform == "win32":
        return
    mode = directory.stat().st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        warnings.warn(
            f"the lockfile directory {directory} is writable by everyone: "
            "others could replace your lockfile; use a private directory",
            SAMPWarning,
            stacklevel=3,
        )


def claim_lockfile(path: Path, info: LockInfo, *, ping_timeout: float = 2.0) -> None:
    """Write *info* to *path* for a starting hub.

    Raises :class:`SAMPHubError` if a live hub owns the lockfile; overwrites the
    lockfile of a dead hub with a warning.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_directory(path.parent)
    text = info.to_text()
    try:
        _write_new(path, text)
        return
    except FileExistsError:
        pass
    for attempt in range(2):
        try:
            other = _read_path(path, warn=False)
        except FileNotFoundError:
            try:
                _write_new(path, text)
                return
            except FileExistsError:
                continue
        except (OSError, SAMPHubError):
            pass  # unreadable or incomplete: maybe being written right now
        else:
            # A lockfile naming our own URL is a dead hub's: we hold its port now (and
            # pinging ourselves, not yet serving, would only wait out the timeout).
            mine = other.xmlrpc_url == info.xmlrpc_url
            if not mine and hub_may_be_alive(other.xmlrpc_url, timeout=ping_timeout):
                raise SAMPHubError(
                    f"a SAMP hub is already running at {other.xmlrpc_url} (lockfile {path}; "
                    "it answers, or at least its port accepts connections): "
                    "use it, stop it first, or give this hub another lockfile"
                )
        if attempt == 0:
            time.sleep(0.5)  # as JSAMP: a hub may be half-way through starting
    logger.warning("overwriting lockfile %s of an apparently dead hub", path)
    with contextlib.suppress(OSError):
        _warn_if_foreign(path, os.lstat(path).st_uid)
    _replace(path, text)


def release_lockfile(path: Path, secret: str) -> bool:
    """Delete the lockfile at *path* if it still carries *secret*; True if deleted."""
    try:
        current = _read_path(path, warn=False)
    except (OSError, SAMPHubError):
        return False
    if current.secret != secret:
        logger.warning("lockfile %s has been overwritten by another hub: not deleting it", path)
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def multiple_mode_lockfile(hub_id: str, environ: Mapping[str, str] | None = None) -> Path:
    """Where a ``mode="multiple"`` hub writes its lockfile: ``~/.samp-1/samp-hub-<hub_id>``.

    Creates ``~/.samp-1`` (mode 0700) if needed, as astropy and pyvo do.
    """
    directory = default_lockfile_path(environ).parent / MULTIPLE_MODE_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory / f"samp-hub-{hub_id}"


def running_hubs(
    environ: Mapping[str, str] | None = None, *, timeout: float = 2.0
) -> dict[str, dict[str, str]]:
    """Every hub that answers: lockfile → its keys (pyvo's ``get_running_hubs``).

    The standard lockfile (``SAMP_HUB`` or ``~/.samp``) first, then each
    ``~/.samp-1/samp-hub*`` of a ``mode="multiple"`` hub.  Pass a map's value as
    ``hub_params=`` to connect to that hub.
    """
    found: dict[str, dict[str, str]] = {}
    main = find_lockfile(environ)
    candidates = [(str(file_url_to_path(main)) if main.startswith("file:") else main, main)]
    directory = default_lockfile_path(environ).parent / MULTIPLE_MODE_DIR
    if directory.is_dir():
        for path in sorted(directory.glob("samp-hub*")):
            if not path.name.endswith(".tmp"):
                candidates.append((str(path), path.as_uri()))
    for key, url in candidates:
        try:
            info = read_lockfile(url, timeout=timeout)
        except (HubNotFoundError, ValueError):
            continue
        if info is not None and is_hub_alive(info.xmlrpc_url, timeout=timeout):
            found[key] = info.to_params()
    return found
