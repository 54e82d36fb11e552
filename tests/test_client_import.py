"""``import minisamp`` is cheap and side-effect free; the public namespace is pinned."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import minisamp

PROBE = textwrap.dedent(
    """
    import json, os, sys, threading
    events = []
    def hook(event, args):
        if event == "open" and not str(args[0]).endswith((".py", ".pyc", ".so")):
            if not os.path.isdir(str(args[0])):
                events.append(f"open {args[0]}")
        elif event.startswith("socket.") or event == "os.mkdir":
            events.append(event)
    sys.addaudithook(hook)
    import minisamp
    heavy = [m for m in ("astropy", "numpy", "pytest", "pyvo") if m in sys.modules]
    print(json.dumps({"heavy": heavy, "threads": threading.active_count(), "events": events}))
    """
)


def test_import_loads_no_heavy_module_starts_no_thread_and_touches_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(result.stdout)
    assert report == {"heavy": [], "threads": 1, "events": []}


def _isort_key(name: str) -> tuple[bool, bool, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions
    return (not name.isupper(), not name[:1].isupper(), name)


def test_all_is_sorted_and_every_name_exists() -> None:
    assert minisamp.__all__ == sorted(minisamp.__all__, key=_isort_key)
    for name in minisamp.__all__:
        assert getattr(minisamp, name) is not None


def test_pyvo_names_are_exported() -> None:
    from minisamp import compat

    for name in compat.__all__:
        assert getattr(minisamp, name) is getattr(compat, name)
    assert minisamp.SAMP_STATUS_OK == "samp.ok"
    assert issubclass(minisamp.SAMPProxyTimeoutError, minisamp.SAMPProxyError)
    assert issubclass(minisamp.SAMPWarning, UserWarning)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        minisamp.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_lazy_hub_name_loads_on_first_use() -> None:
    probe = (
        "import sys, minisamp; assert 'minisamp.hub' not in sys.modules; minisamp.Hub; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr
