"""Skip marks that name exactly what is missing and how to install it."""

from __future__ import annotations

import os
import shutil

import pytest

#: How to get each external command the tests use (Debian/Ubuntu package names).
INSTALL = {
    "jsamp": "apt-get install jsamp",
    "java": "apt-get install default-jre-headless",
    "stilts": "apt-get install stilts",
    "chromium": "apt-get install chromium",
    "chromedriver": "apt-get install chromium-driver",
}


def found(command: str, fallback: str | None = None) -> str | None:
    """The path of *command* on PATH (or *fallback* if that is executable), else None."""
    path = shutil.which(command)
    if path is None and fallback is not None and os.access(fallback, os.X_OK):
        path = fallback
    return path


def missing_reason(*commands: str, fallbacks: dict[str, str] | None = None) -> str | None:
    """Why a test cannot run: each missing command with its install hint; None if all found."""
    fallbacks = fallbacks or {}
    missing = [c for c in commands if found(c, fallbacks.get(c)) is None]
    if not missing:
        return None
    return "; ".join(f"{c} is not on PATH ({INSTALL.get(c, 'install it')})" for c in missing)


def needs(*commands: str, fallbacks: dict[str, str] | None = None) -> pytest.MarkDecorator:
    """``skipif`` mark for tests that run *commands*, naming those missing."""
    reason = missing_reason(*commands, fallbacks=fallbacks)
    return pytest.mark.skipif(reason is not None, reason=reason or "")
