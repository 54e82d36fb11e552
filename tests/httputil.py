"""Plain HTTP servers for tests that fetch URLs: on 127.0.0.1, run by a thread, quiet.

:func:`serving` runs any request handler for a ``with`` block; :func:`serving_directory`
serves the files of a directory.  The thread is joined when the block ends, and a
server thread that does not end fails the test.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves files, as ``python -m http.server`` does, without logging each request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(
    handler: Callable[..., http.server.BaseHTTPRequestHandler],
    *,
    thread_name: str = "test-http",
    poll: float = 0.5,
) -> Iterator[str]:
    """Serve with *handler* for the block; yields the base URL ``http://127.0.0.1:<port>``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, args=(poll,), name=thread_name, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


def serving_directory(
    directory: Path, *, thread_name: str = "test-http"
) -> contextlib.AbstractContextManager[str]:
    """Serve the files in *directory* for the block; yields the base URL (no final slash)."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    return serving(handler, thread_name=thread_name)
