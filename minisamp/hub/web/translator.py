"""The Web Profile's URL translator: which URLs a page may fetch through the hub, and fetching them.

A browser page cannot read ``file:`` URLs, nor most other sites, so the hub offers
each web client a translator URL (``samp.url-translator`` in its registration) that
serves a URL's content on its behalf.  Two parts, both used by
:class:`minisamp.hub.web.profile.WebProfile`:

* :class:`UrlTracker`, one per page, remembers the URLs that reached the page in SAMP
  traffic and the ones the page sent itself: only the first kind may be translated,
  so a page cannot have the hub read arbitrary local files.
* :func:`serve_url` answers a translator request for an allowed URL: a local
  ``file:`` URL or an ``http(s):`` one, streamed in chunks; anything else is refused.

Looking up the page by the private key in the translator path is
:mod:`minisamp.hub.web.plain_http`'s job.
"""

from __future__ import annotations

import collections
import mimetypes
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from ...datatypes import SampValue
from ...lockfile import file_url_to_path

__all__ = ["FETCH_TIMEOUT", "MAX_TRACKED_URLS", "UrlTracker", "serve_url"]

#: URLs remembered per page for the translator (oldest forgotten first).
MAX_TRACKED_URLS = 10_000
#: Seconds allowed to the remote server of an ``http(s):`` URL being translated.
FETCH_TIMEOUT = 30.0

_CHUNK = 64 * 1024
_URL = re.compile(r"(?i)(https?://|ftp://|file:)\S+\Z")
_TYPES = {".vot": "application/x-votable+xml", ".votable": "application/x-votable+xml"}
_TYPES.update(dict.fromkeys((".fits", ".fit", ".fts"), "application/fits"))


# -- which URLs a page may have translated ------------------------------------------------


@dataclass
class UrlTracker:
    """The URLs one page may have translated: those that reached it, not those it sent."""

    permitted: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)
    blocked: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_incoming(self, value: SampValue) -> None:
        """URLs in *value* reached the page: it may have them translated."""
        with self.lock:
            for url in _urls_in(value):
                if url not in self.blocked:
                    _remember(self.permitted, url)

    def note_outgoing(self, value: SampValue) -> None:
        """URLs in *value* come from the page: never translate them unless already allowed."""
        with self.lock:
            for url in _urls_in(value):
                if url not in self.permitted:
                    _remember(self.blocked, url)

    def may_translate(self, url: str) -> bool:
        with self.lock:
            return url in self.permitted


def _remember(urls: collections.OrderedDict[str, None], url: str) -> None:
    urls[url] = None
    urls.move_to_end(url)
    while len(urls) > MAX_TRACKED_URLS:
        urls.popitem(last=False)


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


# -- serving one URL ----------------------------------------------------------------------


def serve_url(handler: Any, url: str, headers: Mapping[str, str]) -> None:
    """Answer *handler*'s request with the content of *url*, plus *headers* (e.g. CORS).

    *url* must already be allowed (:meth:`UrlTracker.may_translate`).  Local ``file:``
    and ``http(s):`` URLs are served; other schemes get 403, a missing file 404, a
    remote failure 502.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file":
        _serve_file(handler, url, headers)
    elif scheme in ("http", "https"):
        _serve_remote(handler, url, headers)
    else:
        handler.send_error_text(403, f"the translator does not serve {scheme}: URLs")


def _serve_file(handler: Any, url: str, headers: Mapping[str, str]) -> None:
    try:
        path = file_url_to_path(url)
        stream = open(path, "rb")  # noqa: SIM115 (_stream closes it)
    except ValueError:
        handler.send_error_text(403, "only local file: URLs are served")
        return
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        handler.send_error_text(404, "no such file")
        return
    except OSError:
        handler.send_error_text(403, "the hub cannot read this file")
        return
    suffix = path.suffix.lower()
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    size = os.fstat(stream.fileno()).st_size
    _stream(handler, stream, content_type or "application/octet-stream", size, headers)


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
