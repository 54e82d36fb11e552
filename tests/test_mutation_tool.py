"""tools/mutate.py: a mutation whose snippet has gone is reported stale, never a crash."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load_mutate() -> ModuleType:
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location("mutate_tool", TOOLS / "mutate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(TOOLS))


def test_missing_or_repeated_snippets_and_files_are_stale(tmp_path: Path) -> None:
    mutate = load_mutate()
    source = tmp_path / "minisamp" / "x.py"
    source.parent.mkdir()
    source.write_text("a = 1\nb = 2\nb = 2\n")
    cases = {
        "gone": ("minisamp/x.py", "c = 3"),
        "twice": ("minisamp/x.py", "b = 2"),
        "no-file": ("minisamp/y.py", "a = 1"),
    }
    for name, (file, old) in cases.items():
        outcome = mutate.run_one(
            tmp_path, mutate.Mutation(name, file, old, "pass", "test"), True, 10.0
        )
        assert outcome.status == "stale", name
    assert source.read_text() == "a = 1\nb = 2\nb = 2\n"  # left as it was


def test_mutations_have_unique_names_and_change_something() -> None:
    # (a file or snippet that other work removed is not checked here: the tool reports
    # it as stale, and the list is brought up to date when the tool is next run)
    mutate = load_mutate()
    names = [m.name for m in mutate.MUTATIONS]
    assert len(names) == len(set(names))
    assert all(m.old != m.new and m.old for m in mutate.MUTATIONS)
