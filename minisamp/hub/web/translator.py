"""The Web Profile's URL translator: which URLs a page may fetch through the hub, and fetching them.

A browser page cannot read ``file:`` URLs, nor most other sites, so the hub offers
each web client a translator URL (``samp.url-translator`` in its registration) that
serves a URL's content on its behalf.  Two parts, both used by
:class:`minisamp.hub.web.profile.WebProfile`:

* :class:`UrlTracker`, one per hub, follows JSAMP's URL-tracker rule: a URL becomes
  translatable for a page only when a client that is *not* a web page (nor the hub)
  sent it to that page, in a message or a response; a URL that *any* page has
  mentioned itself, in any call, is never translatable.  Both records are bounded and
  refuse rather than forget: past :data:`MAX_MENTIONED_URLS` mentions no URL becomes
  translatable any more, past :data:`MAX_TRACKED_URLS` per page no new one for that page
  (an attacker cannot flood a URL out of the record of what pages said).
* :func:`serve_url` answers a translator request for an allowed URL: a local regular
  ``file:`` (never the hub's lockfile nor its siblings, never a FIFO or a device) or an
  ``http(s):`` one, streamed in chunks; anything else is refused.

Looking up the page by the private key in the translator path is
:mod:`minisamp.hub.web.plain_http`'s job.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import re
import stat
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ...datatypes import SampValue
from ...lockfile import file_url_to_path

__all__ = ["FETCH_TIMEOUT", "MAX_MENTIONED_URLS", "MAX_TRACKED_URLS", "UrlTracker", "serve_url"]

logger = logging.getLogger(__name__)

#: URLs one page may have translated; past this, no new URL becomes translatable for it.
MAX_TRACKED_URLS = 10_000
#: URLs pages mentioned (never translatable); past this, no new URL becomes translatable.
MAX_MENTIONED_URLS = 200_000
#: Seconds allowed to the remote server of an ``http(s):`` URL being translated.
FETCH_TIMEOUT = 30.0

_CHUNK = 64 * 1024
_URL = re.compile(r"(?i)(https?://|ftp://|file:)\S+\Z")
_TYPES = {".vot": "application/x-votable+xml", ".votable": "application/x-votable+xml"}
_TYPES.update(dict.fromkeys((".fits", ".fit", ".fts"), "application/fits"))


# -- which URLs a page may have translated ------------------------------------------------


def _digest(url: str) -> bytes:
    # Fixed size per URL, however long the string a page sends.
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).digest()


class UrlTracker:
    """What pages said and what trusted clients sent them: who may have which URL translated.

    Thread-safe.  URLs are compared as sent (stripped of surrounding white space) and
    stored as SHA-256 digests, so each record costs the same whatever its URL's length.
    """

    def __init__(
        self, max_mentioned: int = MAX_MENTIONED_URLS, max_per_page: int = MAX_TRACKED_URLS
    ) -> None:
        self._lock = threading.Lock()
        self._mentioned: set[bytes] = set()
        self._permitted: dict[str, set[bytes]] = {}
        self._max_mentioned = max_mentioned
        self._max_per_page = max_per_page
        self._saturated = False

    def note_mentioned(self, value: SampValue) -> None:
        """A page sent *value* (in any call): its URLs are never translatable, for anyone."""
        digests = [_digest(url) for url in _urls_in(value)]
        with self._lock:
            for digest in digests:
                if digest in self._mentioned:
                    continue
                if len(self._mentioned) >= self._max_mentioned:
                    if not self._saturated:
                        logger.warning(
                            "web pages mentioned over %d URLs: the translator will allow "
                            "no new URL until the hub restarts",
                            self._max_mentioned,
                        )
                    self._saturated = True
                    return
                self._mentioned.add(digest)

    def note_delivered(self, page_id: str, value: SampValue) -> None:
        """A trusted (non-web) client sent *value* to page *page_id*: it may translate them."""
        digests = [_digest(url) for url in _urls_in(value)]
        with self._lock:
            if self._saturated:
                return
            permitted = self._permitted.setdefault(page_id, set())
            for digest in digests:
                if digest in self._mentioned or digest in permitted:
                    continue
                if len(permitted) >= self._max_per_page:
                    logger.warning(
                        "page %s was sent over %d URLs: no new one becomes translatable for it",
                        page_id,
                        self._max_per_page,
                    )
                    return
                permitted.add(digest)

    def may_translate(self, page_id: str, url: str) -> bool:
        """True if a trusted client sent *url* to *page_id* and no page ever mentioned it."""
        digest = _digest(url.strip())
        with self._lock:
            return digest in self._permitted.get(page_id, ()) and digest not in self._mentioned

    def forget_page(self, page_id: str) -> None:
        """Page *page_id* is gone: drop what it may translate (what it said stays)."""
        with self._lock:
            self._permitted.pop(page_id, None)


def _urls_in(value: SampValue) -> Iterator[str]:
    stack: list[SampValue] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _URL.match(item.strip()):
                yield item.strip()
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())


# -- serving one URL ----------------------------------------------------------------------


def serve_url(
    handler: Any, url: str, headers: Mapping[str, str], protected: Iterable[Path] = ()
) -> None:
    """Answer *handler*'s request with the content of *url*, plus *headers* (e.g. CORS).

    *url* must already be allowed (:meth:`UrlTracker.may_translate`).  Local ``file:``
    and ``http(s):`` URLs are served; other schemes get 403, a missing file 404, a
    remote failure 502.  A file that is not a regular file, or is one of the
    *protected* files (the hub's lockfile) or a sibling named after one, gets 403.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file":
        _serve_file(handler, url, headers, tuple(protected))
    elif scheme in ("http", "https"):
        _serve_remote(handler, url, headers)
    else:
        handler.send_error_text(403, f"the translator does not serve {scheme}: URLs")


def _is_protected(path: Path, status: os.stat_result, protected: tuple[Path, ...]) -> bool:
    """True if *path* (opened, with *status*) is a protected file, a link to one, or inside
    a sibling named after one (``<lockfile>.<pid>.tmp``, a ``.samp-1/`` directory...)."""
    real = Path(os.path.realpath(path))
    for guarded in protected:
        guarded_real = Path(os.path.realpath(guarded))
        name = guarded_real.name
        for part in (real, *real.parents):
            if part.parent == guarded_real.parent and (
                part.name == name or part.name[: len(name) + 1] in (f"{name}.", f"{name}-")
            ):
                return True
        try:
            other = os.stat(guarded_real)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino):
            return True  # a hard link to it
    return False


def _serve_file(
    handler: Any, url: str, headers: Mapping[str, str], protected: tuple[Path, ...]
) -> None:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        path = file_url_to_path(url)
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))  # a FIFO must not block us
    except ValueError:
        handler.send_error_text(403, "only local file: URLs are served")
        return
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        handler.send_error_text(404, "no such file")
        return
    except OSError:
        handler.send_error_text(403, "the hub cannot read this file")
        return
    stream = open(fd, "rb")  # noqa: SIM115 (_stream closes it)
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        stream.close()
        handler.send_error_text(403, "the translator serves regular files only")
        return
    if _is_protected(path, status, protected):
        stream.close()
        logger.warning("translator: refused to serve the hub's own file %s", path)
        handler.send_error_text(403, "the translator never serves the hub's own files")
        return
    suffix = path.suffix.lower()
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    _stream(handler, stream, content_type or "application/octet-stream", status.st_size, headers)


def _serve_remote(handler: Any, url: str, headers: Mapping[str, str]) -> None:
    try:
        response = urllib.request.urlopen(url, timeout=FETCH_TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        handler.send_error_text(502, f"the remote server answered HTTP {exc.code}")
        return
    except (OSError, ValueError) as exc:
        handler.send_error_text(502, f"cannot fetch the URL: {exc}")
        return
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isascii() and length.isdigit() else None
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    _stream(handler, response, content_type, size, headers)


def _stream(
    handler: Any,
    stream: IO[bytes],
    content_type: str,
    size: int | None,
    headers: Mapping[str, str],
) -> None:
    with stream:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        if size is None:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        try:
            complete = _copy(stream, handler.wfile, size)
        except OSError:
            complete = False  # the page went away, or the source failed
        if not complete:
            handler.close_connection = True


def _copy(source: IO[bytes], sink: Any, size: int | None) -> bool:
    """Copy *size* bytes (None: all) in chunks; False if *source* ended early."""
    left = size
    while left is None or left > 0:
        chunk = source.read(_CHUNK if left is None else min(_CHUNK, left))
        if not chunk:
            return left is None
        sink.write(chunk)
        if left is not None:
            left -= len(chunk)
    return True
