"""Aladin on our hub (issue 12): it loads an image, follows a pointing, and the hub stops at once.

Aladin answers ``samp.hub.event.shutdown`` by calling ``samp.hub.unregister`` from
inside its handler: our hub stalled on that for 10-22 s (JSAMP's hub: 0.4 s).  The hub
runs as ``python -m minisamp hub``, so the time measured is SIGTERM to process exit.
Printed with ``-s``.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import start_hub_process, stop_process
from desktop import DesktopApp
from test_desktop_apps import _fits_image

from minisamp.client import Client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

#: A generous bound for a loaded 2-core machine; the figure measured is printed.
STOP_BOUND = 5.0


def test_aladin_loads_points_and_the_hub_stops_at_once(
    isolated_samp_env: Path,
    desktop: Callable[..., DesktopApp],
    tmp_path: Path,
) -> None:
    lockfile = isolated_samp_env
    command = [sys.executable, "-m", "minisamp", "hub", "--lockfile", str(lockfile)]
    hub = start_hub_process(command, lockfile)
    try:
        app = desktop("aladin")
        image = _fits_image(tmp_path / "image.fits")
        with Client("aladin test", lockfile=lockfile.as_uri()) as client:
            load = {
                "samp.mtype": "image.load.fits",
                "samp.params": {"url": image.as_uri(), "image-id": "img", "name": "img"},
            }
            assert client.call_and_wait(app.client_id, load, 60)["samp.status"] == "samp.ok"
            point = {
                "samp.mtype": "coord.pointAt.sky",
                "samp.params": {"ra": "10.0", "dec": "20.0"},
            }
            assert client.call_and_wait(app.client_id, point, 60)["samp.status"] == "samp.ok"
            # a script command as a notification (as a call, Aladin 12 answers a command
            # that prints nothing with a NullPointerException fault)
            script = {"samp.mtype": "script.aladin.send", "samp.params": {"script": "zoom 1x"}}
            client.notify(app.client_id, script)
            assert client.call_and_wait(app.client_id, point, 60)["samp.status"] == "samp.ok"
            started = time.monotonic()
            hub.send_signal(signal.SIGTERM)
            hub.wait(60)
            seconds = time.monotonic() - started
        print(f"hub with Aladin registered: SIGTERM to exit {seconds:.3f} s", file=sys.stderr)
        assert seconds < STOP_BOUND
        assert not lockfile.exists()
        assert app.process.poll() is None, "Aladin died when the hub stopped"
    finally:
        stop_process(hub)
