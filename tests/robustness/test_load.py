"""Load: many clients, many messages, every one delivered exactly once; nothing leaks.

The mixed load is ``bench/load.py``'s :func:`run_load` (20 clients × 500 messages
through our hub: sync callAndWait, async call, notify, notifyAll, callAll in turn,
each delivery counted).  Through our hub it runs at full size (some 40 s on 2 cores);
through JSAMP's hub, about three times slower, at 20 × 50 (``python bench/load.py``
runs it at full size).  ``jsamp calcstorm`` runs at full size against our hub.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from clientutil import connected
from conftest import RunningHub
from needs import needs
from procutil import HubProcess, hub_process

import minisamp
from minisamp import ReceivedMessage
from minisamp.hub import Hub

REPO_ROOT = Path(__file__).resolve().parents[2]
needs_jsamp = needs("jsamp")


def _bench_load() -> ModuleType:
    """``bench/load.py``, loaded by path: it is a standalone script, not a package module."""
    name = "minisamp_bench_load"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def our_hub(isolated_samp_env: Path) -> Iterator[HubProcess]:
    """Our hub in its own process (so that the clients here do not share its GIL)."""
    with hub_process(isolated_samp_env) as running:
        yield running


def assert_everything_delivered_once(result: Any, nclient: int, nquery: int) -> None:
    per_cycle = {"sync": 1, "async": 1, "notify": 1, "notify_all": nclient - 1}
    per_cycle["call_all"] = nclient - 1
    kinds = _bench_load().KINDS
    calls = [kinds[seq % len(kinds)] for seq in range(nquery)]
    delivered = nclient * sum(per_cycle[kind] for kind in calls)
    responses = nclient * sum({"async": 1, "call_all": nclient - 1}.get(kind, 0) for kind in calls)
    summary = result.summary()
    assert result.ok, summary
    assert (result.sent, result.delivered, result.responses) == (
        nclient * nquery,
        delivered,
        responses,
    ), summary


@pytest.mark.slow
@pytest.mark.timeout(180)  # ~45 s on a loaded 2-core machine
def test_mixed_load_through_our_hub_delivers_every_message_exactly_once(
    our_hub: HubProcess,
) -> None:
    result = _bench_load().run_load(our_hub.lockfile.as_uri(), nclient=20, nquery=500)
    assert_everything_delivered_once(result, 20, 500)


@needs_jsamp
@pytest.mark.slow
@pytest.mark.timeout(90)  # ~19 s
def test_mixed_load_through_jsamp_hub_delivers_every_message_exactly_once(
    samp_hub_factory: Callable[[str], RunningHub],
) -> None:
    hub = samp_hub_factory("jsamp")
    result = _bench_load().run_load(hub.lock_url, nclient=20, nquery=50)
    assert_everything_delivered_once(result, 20, 50)


@needs_jsamp
@pytest.mark.slow
@pytest.mark.timeout(90)  # ~20 s; calcstorm itself is stopped at 75 s
def test_jsamp_calcstorm_20_clients_500_queries_passes_against_our_hub(
    our_hub: HubProcess,
) -> None:
    env = {**os.environ, "SAMP_HUB": f"std-lockurl:{our_hub.lockfile.as_uri()}"}
    done = subprocess.run(
        ["jsamp", "calcstorm", "-nclient", "20", "-nquery", "500"],
        env=env,
        capture_output=True,
        text=True,
        timeout=75,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Elapsed time" in done.stdout + done.stderr


# -- connect and close, a thousand times -----------------------------------------------------


def _fds() -> dict[str, str]:
    """fd number → what it is (a socket, a pipe, a file's path)."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd of the listing itself is gone by now
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return found


def _fd_count() -> int:
    return len(_fds())


def _settles(measure: Callable[[], int], baseline: int, timeout: float = 10.0) -> int:
    """*measure()* once it is back to *baseline*, or its last value after *timeout* s.

    Closing is synchronous, but the hub's side of a closed connection ends on its own
    thread a moment later.
    """
    deadline = time.monotonic() + timeout
    value = measure()
    while value > baseline and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for other threads to notice EOF: there is no event to join
        value = measure()
    return value


@pytest.mark.slow
@pytest.mark.timeout(60)  # ~7 s
@pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count open files (Linux)"
)
def test_thousand_connect_close_cycles_leave_no_thread_fd_or_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pytest.importorskip(
        "astropy.table", reason="astropy is not installed (pip install astropy)"
    ).Table({"a": [1, 2, 3]})
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    loaded: list[str] = []

    def load(message: ReceivedMessage) -> dict[str, Any]:
        loaded.append(str(message.params["url"]))
        return {}

    @contextlib.contextmanager
    def topcat() -> Iterator[None]:
        with connected("TOPCAT") as client:
            client.on("table.load.votable", load)
            yield

    with Hub(tmp_path / "lockfile") as hub:
        monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{hub.lock_url}")
        with topcat(), minisamp.connection() as conn:  # warm-up: imports, caches
            minisamp.send_table_to(conn, table, client_name="TOPCAT")
        threads, fds, open_before = threading.active_count(), _fd_count(), _fds()
        before = {t.name for t in threading.enumerate()}
        with topcat():
            for i in range(1000):
                with minisamp.connection(client_name=f"cycle-{i}") as conn:
                    if i % 50 == 0:
                        minisamp.send_table_to(conn, table, client_name="TOPCAT")
        assert len(loaded) == 21
        extra = sorted({t.name for t in threading.enumerate()} - before)
        # (≤: a connection thread of the warm-up may end only after the baseline is taken)
        assert _settles(threading.active_count, threads) <= threads, extra
        leaked = {fd: what for fd, what in _fds().items() if open_before.get(fd) != what}
        # A leak per cycle (or per table sent) would show as tens to a thousand fds; a
        # few sockets may still be in flight on other threads (the hub's liveness probe,
        # a keep-alive connection being torn down), so allow that many and no more.
        assert _settles(_fd_count, fds) <= fds + 4, leaked
        assert os.listdir(private_tmp) == []
        assert len(hub.service.records()) == 1  # only the hub itself: nobody left behind
