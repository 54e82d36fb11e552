"""Every public name of pyvo.samp 1.9.1 exists in minisamp, with a compatible signature.

"Compatible" means every call that pyvo accepts, minisamp accepts: the same parameters
in the same order with the same kinds and defaults (a parameter pyvo requires may have
a default here), and any extra parameter of ours is optional.  The few deliberate
differences are listed in :data:`DELIBERATE`, each with the migration guide's words
for it; the test checks the guide says so.
"""

from __future__ import annotations

import importlib
import inspect
import xmlrpc.client
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import minisamp

pyvo_samp = pytest.importorskip("pyvo.samp", reason="pyvo is not installed (pip install pyvo)")

MODULES = (
    "client",
    "constants",
    "errors",
    "hub",
    "hub_proxy",
    "integrated_client",
    "utils",
    "vo_helpers",
)
MIGRATING = (Path(__file__).parents[1] / "docs" / "migrating.md").read_text(encoding="utf-8")

#: (name, member, parameter) → text docs/migrating.md must contain about it.
DELIBERATE = {
    ("SAMPHubServer", "__init__", "web_profile"): "`web_profile=False`",
}


def pyvo_public_names() -> list[str]:
    """pyvo.samp's ``*`` imports (it has no ``__all__`` of its own) plus ``Conf``/``conf``."""
    names = {"Conf", "conf"}
    for module in MODULES:
        names.update(importlib.import_module(f"pyvo.samp.{module}").__all__)
    return sorted(names)


def incompatibilities(
    where: str, theirs: Callable[..., Any], ours: Callable[..., Any]
) -> Iterator[str]:
    """What a call valid for *theirs* could find wrong with *ours*."""
    pyvo_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    for index, theirs_p in enumerate(pyvo_params):
        if index >= len(our_params):
            yield f"{where}: no parameter {theirs_p.name!r}"
            continue
        ours_p = our_params[index]
        key = (*where.split("."), theirs_p.name)
        if (ours_p.name, ours_p.kind) != (theirs_p.name, theirs_p.kind):
            yield f"{where}: parameter {index} is {ours_p}, pyvo's is {theirs_p}"
        elif (
            theirs_p.default is not inspect.Parameter.empty
            and ours_p.default != theirs_p.default
            and key not in DELIBERATE
        ):
            yield f"{where}: {theirs_p.name}={ours_p.default!r}, pyvo's ={theirs_p.default!r}"
    for extra in our_params[len(pyvo_params) :]:
        optional = extra.default is not inspect.Parameter.empty or extra.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        if not optional:
            yield f"{where}: our extra parameter {extra.name!r} is required"


def pyvo_members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public members pyvo's own classes define (not object's, astropy's or stdlib's)."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("pyvo."):
            continue
        for name, value in vars(klass).items():
            if (name == "__init__" or not name.startswith("_")) and name not in seen:
                seen.add(name)
                yield name, value


@pytest.mark.parametrize("name", pyvo_public_names())
def test_every_pyvo_name_exists_with_a_compatible_signature(name: str) -> None:
    theirs = getattr(pyvo_samp, name)
    assert hasattr(minisamp, name), f"minisamp has no {name}"
    ours = getattr(minisamp, name)
    problems: list[str] = []
    if inspect.isclass(theirs):
        assert inspect.isclass(ours), f"{name} is a class in pyvo"
        for member, value in pyvo_members(theirs):
            if not hasattr(ours, member):
                problems.append(f"{name}.{member} is missing")
                continue
            mine = inspect.getattr_static(ours, member)
            if isinstance(value, property):
                if not isinstance(mine, property):
                    problems.append(f"{name}.{member} is a property in pyvo")
            elif isinstance(value, staticmethod | classmethod) or inspect.isfunction(value):
                problems += incompatibilities(
                    f"{name}.{member}", getattr(theirs, member), getattr(ours, member)
                )
            elif not callable(value):
                assert getattr(ours, member) == value, f"{name}.{member}"
    elif callable(theirs):
        assert callable(ours)
        problems += incompatibilities(name, theirs, ours)
    assert not problems, "\n".join(problems)


def test_the_exceptions_and_constants_are_pyvos() -> None:
    assert issubclass(minisamp.SAMPProxyError, xmlrpc.client.Fault)
    assert issubclass(minisamp.SAMPWarning, UserWarning)
    for name in ("SAMPClientError", "SAMPHubError"):
        assert issubclass(getattr(minisamp, name), Exception)
    for name in ("SAMP_STATUS_OK", "SAMP_STATUS_WARNING", "SAMP_STATUS_ERROR", "SAFE_MTYPES"):
        assert getattr(minisamp, name) == getattr(pyvo_samp, name)
    assert minisamp.SAMP_ICON.startswith(b"\x89PNG") and pyvo_samp.SAMP_ICON.startswith(b"\x89PNG")
    assert (minisamp.conf.use_internet, minisamp.conf.n_retries) == (True, 10)


def test_every_deliberate_difference_is_in_the_migration_guide() -> None:
    for where, text in DELIBERATE.items():
        assert text in MIGRATING, f"{where}: docs/migrating.md must explain it ({text})"


def test_the_checker_catches_a_changed_default_and_a_required_extra() -> None:
    def theirs(a: int, b: int = 1) -> None: ...

    def changed(a: int, b: int = 2) -> None: ...

    def required_extra(a: int, b: int = 1, *, c: int) -> None: ...

    def fine(a: int = 0, b: int = 1, *, c: int = 3) -> None: ...

    assert len(list(incompatibilities("f", theirs, changed))) == 1
    assert len(list(incompatibilities("f", theirs, required_extra))) == 1
    assert list(incompatibilities("f", theirs, fine)) == []
