"""The package's layout is its architecture: roles in subpackages, imports one way.

These tests read the source (no imports run), so they fail the moment a module imports
upward, grows past the size where one job per module holds, or a subpackage loses its
charter.  The rules are those of docs/architecture.md; change both together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minisamp"
MAX_LINES = 450

#: Role of every module: the first rule whose prefix matches its dotted name wins.
ROLES = [
    ("minisamp.cli", "cli"),
    ("minisamp.xmlrpc", "xmlrpc"),
    ("minisamp.client", "client"),
    ("minisamp.hub.web", "web"),
    ("minisamp.hub", "hub"),
    ("minisamp.tables", "tables"),
    ("minisamp.bridge", "bridge"),
    ("minisamp.errors", "shared"),
    ("minisamp.datatypes", "shared"),
    ("minisamp.messages", "shared"),
    ("minisamp.lockfile", "shared"),
    ("minisamp.liveness", "shared"),
    ("minisamp.version", "shared"),
    ("minisamp.helpers", "user"),
    ("minisamp.table_formats", "user"),
    ("minisamp.recipients", "user"),
    ("minisamp.acknowledgements", "user"),
    ("minisamp.linked", "user"),
    ("minisamp.table_ids", "user"),
    ("minisamp.coverage", "user"),
    ("minisamp.compat", "user"),
    ("minisamp.testing", "user"),
    ("minisamp.demo", "user"),
    ("minisamp.__main__", "cli"),
    ("minisamp", "root"),
]

#: Which roles each role may import (itself always).  Downward only.
MAY_IMPORT = {
    "shared": {"shared"},
    "xmlrpc": {"shared"},
    "client": {"shared", "xmlrpc"},
    "hub": {"shared", "xmlrpc", "web"},  # Hub starts a Web Profile when asked, lazily
    "web": {"shared", "xmlrpc", "hub"},  # the routing service only: see the test below
    "tables": {"shared"},
    "bridge": {"shared", "xmlrpc", "client", "hub"},
    "user": {"shared", "xmlrpc", "client", "hub", "web", "tables", "root"},
    "root": {"shared", "client", "user"},
    "cli": {"shared", "xmlrpc", "client", "hub", "web", "tables", "user", "root", "bridge"},
}

#: Deliberate exceptions, each with its reason (also in docs/architecture.md).
ALLOWED_EXTRA = {
    # Both roles must tell a live hub from a stale lockfile, which takes one XML-RPC
    # ping; the import sits inside is_hub_alive, so reading a lockfile loads no wire.
    ("minisamp.liveness", "minisamp.xmlrpc.transport"),
    # An http: lockfile is fetched with the wire layer's overall deadline (inside
    # read_lockfile, only for http: URLs): reading a file: lockfile loads no wire.
    ("minisamp.lockfile", "minisamp.xmlrpc.transport"),
}

#: Third-party packages that no module may import at import time (only inside a
#: function, or under TYPE_CHECKING): ``import minisamp`` stays light.
HEAVY = {"astropy", "numpy", "pyvo", "pytest"}
#: Where a heavy import at module level is the point.
HEAVY_AT_IMPORT_OK = {("minisamp.testing", "pytest")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path


def role_of(name: str) -> str:
    for prefix, role in ROLES:
        if name == prefix or name.startswith(prefix + "."):
            return role
    raise AssertionError(f"{name} has no role: add it to ROLES and docs/architecture.md")


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, name: str | None = None) -> Iterator[tuple[str, bool]]:
    """(imported module, at import time?) for every import in *path*, lazy ones too.

    ``from . import x`` yields the submodule ``pkg.x`` when *x* is one.
    """
    name = name or module_name(path)
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, eager: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, eager
            elif isinstance(child, ast.ImportFrom):
                source = _resolve(child, name, is_package)
                for alias in child.names:
                    candidate = f"{source}.{alias.name}"
                    sub = PACKAGE.parent / candidate.replace(".", "/")
                    is_module = sub.with_suffix(".py").exists() or (sub / "__init__.py").exists()
                    yield (candidate if is_module else source), eager
            else:
                deferred = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                deferred |= isinstance(child, ast.If) and _is_type_checking(child)
                yield from visit(child, eager and not deferred)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), True)


def test_no_module_is_longer_than_one_job_allows() -> None:
    long = {
        name: n
        for name, path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concern (over {MAX_LINES} lines): {long}"


def test_every_subpackage_opens_with_its_charter() -> None:
    packages = [path for path in PACKAGE.rglob("__init__.py") if path.parent != PACKAGE]
    assert len(packages) >= 4, "the roles are subpackages"
    for init in packages:
        doc = " ".join(
            (ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "").split()
        )
        assert "May import" in doc and "Must never import" in doc, (
            f"{module_name(init)}: its docstring must say its job, what it may import "
            "and what must never import it"
        )


def test_every_module_has_a_role() -> None:
    for name, _ in modules():
        assert role_of(name)


@pytest.mark.parametrize("name, path", list(modules()), ids=[name for name, _ in modules()])
def test_imports_run_one_way(name: str, path: Path) -> None:
    role = role_of(name)
    wrong = sorted(
        target
        for target, _eager in imports(path)
        if target.split(".")[0] == "minisamp"
        and (own := role_of(target)) != role
        and own not in MAY_IMPORT[role]
        and (name, target) not in ALLOWED_EXTRA
    )
    assert not wrong, f"{name} ({role}) may import only {sorted(MAY_IMPORT[role])}: {wrong}"


def test_the_routing_service_knows_no_transport() -> None:
    """The hub's service and every hub module it relies on import no wire at all."""
    seen: set[str] = set()
    todo = ["minisamp.hub.service"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = PACKAGE.parent / (name.replace(".", "/") + ".py")
        for target, _eager in imports(path):
            assert not target.startswith("minisamp.xmlrpc"), f"{name} imports {target}"
            if target.startswith("minisamp.hub.") and target != "minisamp.hub":
                todo.append(target)
    assert "minisamp.hub.service" in seen


def test_the_web_profile_plugs_into_the_service_not_into_the_hub() -> None:
    """hub/web uses the routing service; the Hub that composes them imports it, not back."""
    for name, path in modules():
        if role_of(name) == "web":
            for target, _eager in imports(path):
                assert target not in ("minisamp.hub", "minisamp.hub.hub"), (
                    f"{name} imports {target}"
                )


def test_nothing_heavy_is_imported_at_import_time() -> None:
    heavy = sorted(
        (name, target)
        for name, path in modules()
        for target, eager in imports(path)
        if eager
        and target.split(".")[0] in HEAVY
        and (name, target.split(".")[0]) not in HEAVY_AT_IMPORT_OK
    )
    assert not heavy, f"import these inside the functions that need them: {heavy}"


def test_the_rules_catch_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a wire module importing the client is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ..client import Client\n", encoding="utf-8")
    found = [target for target, eager in imports(bad, "minisamp.xmlrpc.bad") if not eager]
    assert found == ["minisamp.client"]
    assert role_of(found[0]) not in MAY_IMPORT["xmlrpc"]
