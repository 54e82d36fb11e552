"""pytest fixtures for projects that test their own SAMP code (a ``pytest11`` plugin).

Installed with minisamp, so any test can ask for them::

    def test_my_tool_sends_a_table(samp_hub, samp_receiver):
        my_tool.broadcast_results()            # finds the hub through SAMP_HUB
        message = samp_receiver.wait_for("table.load.votable")
        assert message.params["name"] == "results"

* ``samp_hub``: a :class:`minisamp.hub.Hub` running in this process on a private
  lockfile, with ``SAMP_HUB`` pointing at it for the test's duration (the real
  ``~/.samp`` is never touched).
* ``samp_receiver``: a client on that hub (named ``"samp_receiver"``) subscribed to
  every MType, which records what it receives and answers every call ``samp.ok``.
* ``samp_receiver_factory``: makes more such clients, with names of your choice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .client.client import Client
from .client.handlers import ReceivedMessage
from .hub.hub import Hub

__all__ = ["Recorder", "samp_hub", "samp_receiver", "samp_receiver_factory"]


class Recorder:
    """A client that records every message it gets (``.messages``) and answers ok."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.messages: list[ReceivedMessage] = []
        self._changed = threading.Condition()
        client.on("*", self._record)

    @property
    def id(self) -> str:
        """The recorder's public client id."""
        return self.client.get_public_id()

    def _record(self, message: ReceivedMessage) -> dict[str, Any]:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return {}

    def received(self, mtype: str) -> list[ReceivedMessage]:
        """The messages of *mtype* received so far."""
        with self._changed:
            return [m for m in self.messages if m.mtype == mtype]

    def wait_for(self, mtype: str, count: int = 1, timeout: float = 10.0) -> ReceivedMessage:
        """Wait until *count* messages of *mtype* have arrived; return the last of them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [m for m in self.messages if m.mtype == mtype]
                if len(matching) >= count:
                    return matching[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    got = sorted({m.mtype for m in self.messages})
                    raise TimeoutError(
                        f"{len(matching)} of {count} {mtype} messages arrived in {timeout} s "
                        f"(received: {', '.join(got) or 'nothing'})"
                    )
                self._changed.wait(left)


@pytest.fixture
def samp_hub(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hub]:
    """An isolated in-process SAMP hub; ``SAMP_HUB`` points at it during the test."""
    directory = tmp_path_factory.mktemp("samp-hub")
    with Hub(directory / "lockfile") as hub:
        monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{hub.lock_url}")
        yield hub


@pytest.fixture
def samp_receiver_factory(samp_hub: Hub) -> Iterator[Callable[[str], Recorder]]:
    """Make recording clients on ``samp_hub``: ``samp_receiver_factory("TOPCAT")``."""
    made: list[Client] = []

    def make(name: str = "samp_receiver") -> Recorder:
        client = Client(
            name, "records every SAMP message (minisamp.testing)", lockfile=samp_hub.lock_url
        )
        client.connect()
        made.append(client)
        return Recorder(client)

    yield make
    for client in made:
        client.close()


@pytest.fixture
def samp_receiver(samp_receiver_factory: Callable[[str], Recorder]) -> Recorder:
    """A client on ``samp_hub`` that records every message and answers calls ok."""
    return samp_receiver_factory("samp_receiver")
