"""pyvo/astropy's SAMPHubServer name, backed by our hub."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import minisamp
from minisamp.errors import SAMPHubError, SAMPWarning


def test_samp_hub_server_starts_serves_and_stops_like_pyvos(tmp_path: Path) -> None:
    hub = minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"), label="mine")
    hub.start()
    try:
        assert hub.is_running and hub.params["hub.label"] == "mine"
        client = minisamp.SAMPIntegratedClient("t")
        client.connect(hub_params=hub.params)
        assert "hub" in client.get_registered_clients()
        client.disconnect()
        with pytest.raises(SAMPHubError, match="already running"):
            hub.start()
    finally:
        hub.stop()
    assert not hub.is_running and not (tmp_path / "lock").exists()


def test_start_wait_blocks_until_stop(tmp_path: Path) -> None:
    hub = minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"))
    runner = threading.Thread(target=hub.start, kwargs={"wait": True})
    runner.start()
    deadline = time.monotonic() + 30
    while not hub.is_running:  # start(wait=True) gives no other sign that it is up
        assert runner.is_alive(), "start(wait=True) returned before the hub ran"
        assert time.monotonic() < deadline, "the hub did not start within 30 s"
        runner.join(0.01)
    assert runner.is_alive()
    hub.stop()
    runner.join(5)
    assert not runner.is_alive()


def test_unsupported_keywords_warn(tmp_path: Path) -> None:
    with pytest.warns(SAMPWarning, match="client_timeout"):
        minisamp.SAMPHubServer(lockfile=str(tmp_path / "lock"), client_timeout=10)
