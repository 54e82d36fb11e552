"""Drop-in: one script written against pyvo.samp runs unchanged on minisamp.

The same file runs twice against a receiver on our hub, once importing ``pyvo.samp``
and once ``minisamp``; the receiver must get the same messages.  Broadcasting a table
is expected to fail under pyvo.samp (its helper calls every registered client, the
hub included) and to work under minisamp.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from minisamp.testing import Recorder

pytestmark = pytest.mark.interop
pytest.importorskip("pyvo.samp", reason="pyvo is not installed (pip install pyvo)")
pytest.importorskip("astropy", reason="astropy is not installed (pip install astropy)")

Factory = Callable[[str], Recorder]
SCRIPT = Path(__file__).parent / "scripts" / "pyvo_user_script.py"
SENT = [
    ("table.load.votable", "targeted table"),
    ("image.load.fits", "img"),
    ("spectrum.load.ssa-generic", "spec"),
    ("coverage.load.moc.fits", "moc"),
    ("table.load.votable", "accessible"),
    ("x.test.note", None),
    ("x.test.call", None),
]


def run_script(module: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "ignore", str(SCRIPT), module, *extra],
        capture_output=True,
        text=True,
        timeout=45,
        env=os.environ.copy(),
    )


def received(recorder: Recorder) -> list[tuple[str, object]]:
    return [
        (m.mtype, m.params.get("name"))
        for m in recorder.messages
        if not m.mtype.startswith("samp.hub.")
    ]


@pytest.mark.timeout(60)  # ~3 s
@pytest.mark.parametrize("module", ["pyvo.samp", "minisamp"])
def test_pyvo_script_delivers_the_same_messages(
    module: str, samp_receiver_factory: Factory
) -> None:
    receiver = samp_receiver_factory("receiver")
    result = run_script(module)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "script done" in result.stdout
    for mtype, _ in SENT:
        receiver.wait_for(mtype, count=sum(m == mtype for m, _ in SENT))
    # Handlers run on a worker pool, so compare as sets of (mtype, name), with counts.
    assert sorted(received(receiver), key=repr) == sorted(SENT, key=repr)


@pytest.mark.timeout(60)  # ~3 s
def test_table_broadcast_fails_under_pyvo_and_works_under_minisamp(
    samp_receiver_factory: Factory,
) -> None:
    receiver = samp_receiver_factory("receiver")
    pyvo_run = run_script("pyvo.samp", "broadcast")
    assert pyvo_run.returncode != 0 and "not subscribed" in pyvo_run.stderr
    ours = run_script("minisamp", "broadcast")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    broadcasts = [
        m for m in receiver.received("table.load.votable") if m.params["name"] == "broadcast table"
    ]
    assert len(broadcasts) == 1
