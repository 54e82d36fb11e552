"""pytest fixtures for projects that test their own SAMP code (a ``pytest11`` plugin).

Installed with minisamp, so any test can ask for them::

    def test_my_tool_sends_a_table(samp_hub):
        ...  # SAMP_HUB points at an isolated in-process hub for this test

* ``samp_hub``: a :class:`minisamp.Hub` running in this process on a private
  lockfile, with ``SAMP_HUB`` pointing at it for the test's duration (the real
  ``~/.samp`` is never touched).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .hub import Hub

__all__ = ["samp_hub"]


@pytest.fixture
def samp_hub(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hub]:
    """An isolated in-process SAMP hub; ``SAMP_HUB`` points at it during the test."""
    directory = tmp_path_factory.mktemp("samp-hub")
    with Hub(directory / "lockfile") as hub:
        monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{hub.lock_url}")
        yield hub
