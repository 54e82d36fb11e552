"""Standard Profile hub discovery: where the lockfile is, what it says, writing it safely.

The rules (SAMP 1.3 §4.3, and JSAMP's ``LockInfo``):

* ``SAMP_HUB=std-lockurl:<url>`` names the lockfile by URL (``file:`` or ``http:``);
  ``SAMP_HUB`` with another prefix belongs to another profile and is ignored; without
  it the lockfile is ``.samp`` in the home directory (``USERPROFILE`` on Windows).
* Each line is ``name=value`` (split on the *first* ``=``), a ``#`` comment, or empty;
  lines end with CR, LF or CRLF.  ``samp.secret`` and ``samp.hub.xmlrpc.url`` are
  required; ``samp.profile.version`` is never grounds for refusal.
* "Is the hub alive" means ``samp.hub.ping()`` answers.
* A hub creates its lockfile with ``O_EXCL`` and mode 0600, refuses to start while a
  live hub owns it, overwrites a dead hub's with a warning, and on stop deletes it
  only if it still carries its own secret.
* Not in the standard: astropy's and pyvo's ``mode="multiple"`` hubs write
  ``~/.samp-1/samp-hub-<id>`` instead (:func:`multiple_mode_lockfile`); clients find
  them only by listing that directory (:func:`running_hubs`) and connecting with
  ``hub_params=``.
"""

from __future__ import annotations

import datetime
import http.client
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

__all__ = [
    "LOCKFILE_NAME",
    "MULTIPLE_MODE_DIR",
    "LockInfo",
    "claim_lockfile",
    "default_lockfile_path",
    "file_url_to_path",
    "find_lockfile",
    "hub_lockfile_path",
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
    try:
        import urllib.error
        import urllib.request  # only for http: lockfiles (it loads ssl and email)

        with urllib.request.urlopen(url, timeout=timeout) as reply:
            data = reply.read(_MAX_LOCKFILE_BYTES)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # ValueError: not a URL urllib knows; HTTPException: the server does not speak HTTP
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the response's socket open
        raise HubNotFoundError(f"cannot read the SAMP lockfile at {url}: {exc}") from exc
    return parse_lockfile(data.decode("latin-1"), url)


def _read_path(path: Path, *, warn: bool = True) -> LockInfo:
    # O_NONBLOCK: opening a named pipe for reading would wait for a writer, for ever.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise HubNotFoundError(
                f"the SAMP lockfile {path} is not a regular file: delete it and restart your "
                "SAMP hub"
            )
        data = handle.read(_MAX_LOCKFILE_BYTES)
    if warn and sys.platform != "win32" and mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(
            f"the SAMP lockfile {path} is readable by other users, who can then use your hub: "
            f"chmod 600 {path}",
            SAMPWarning,
            stacklevel=3,
        )
    return parse_lockfile(data.decode("latin-1"), str(path))


def is_hub_alive(xmlrpc_url: str, *, timeout: float = 2.0) -> bool:
    """True if ``samp.hub.ping()`` at *xmlrpc_url* answers within *timeout* seconds."""
    from .xmlrpc.transport import XmlRpcProxy  # the wire layer; imported only when pinging

    proxy = XmlRpcProxy(xmlrpc_url, timeout=timeout)
    try:
        proxy.call("samp.hub.ping")
    except TransportError:
        return False
    except Exception:  # a fault or garbage: something answers, but not a working hub
        logger.debug("hub at %s answered ping badly", xmlrpc_url, exc_info=True)
        return False
    finally:
        proxy.close()
    return True


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii", newline="\n") as handle:
        handle.write(text)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        _write_new(tmp, text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
            if not mine and is_hub_alive(other.xmlrpc_url, timeout=ping_timeout):
                raise SAMPHubError(
                    f"a SAMP hub is already running at {other.xmlrpc_url} (lockfile {path}): "
                    "use it, stop it first, or give this hub another lockfile"
                )
        if attempt == 0:
            time.sleep(0.5)  # as JSAMP: a hub may be half-way through starting
    logger.warning("overwriting lockfile %s of an apparently dead hub", path)
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
