"""Sphinx configuration for the minisamp documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are Markdown (MyST) except ``api.rst``.  Three pages are written by other
people and may not exist yet: ``web-profile.md``, ``benchmarks.md`` and
``robustness.md``.  ``index.md`` carries a marker line that :func:`_optional_toctree`
replaces with a toctree of whichever of them exist (plus any other page in this
directory that no toctree lists), so the build passes with or without them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # document the source tree even if not installed

import minisamp  # noqa: E402

# -- project -------------------------------------------------------------------------------

project = "minisamp"
author = "The minisamp developers"
copyright = "The minisamp developers"
release = minisamp.__version__
version = ".".join(release.split(".")[:2])

# -- general -------------------------------------------------------------------------------

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
pygments_style = "friendly"

# Pages written here, in reading order (the toctree in index.md lists them).
OWN_PAGES = [
    "getting-started",
    "migrating",
    "client",
    "linked-views",
    "hub",
    "cli",
    "remote",
    "testing",
    "security",
    "architecture",
    "api",
]
# Pages other people write; listed in index.md only if they exist.
OPTIONAL_PAGES = ["web-profile", "benchmarks", "robustness"]
OPTIONAL_MARKER = "<!-- optional pages: filled in by conf.py -->"


def _link(page: str, text: str, fallback: str) -> str:
    """A Markdown link to *page* if it exists, else *fallback* (so the build never warns)."""
    return f"[{text}]({page}.md)" if (HERE / f"{page}.md").exists() else fallback


# Pages refer to the optional pages as {{ web_profile }} etc.: links when they exist.
myst_substitutions = {
    "web_profile": _link(
        "web-profile", "the Web Profile page", "the reference of {class}`minisamp.hub.Hub`"
    ),
    "benchmarks": _link("benchmarks", "the benchmarks", "the scripts in `bench/`"),
    "robustness": _link("robustness", "the robustness page", "`tests/robustness/`"),
}

# -- autodoc -------------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_inherit_docstrings = False
# Docstrings cross-reference freely (``:class:`~minisamp.messages.Response```);
# not every target is documented, and that must not break the -W build.
nitpicky = False

# -- HTML ----------------------------------------------------------------------------------

html_title = f"minisamp {release}"
html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_static_path: list[str] = []
html_show_sourcelink = False


# -- the optional pages --------------------------------------------------------------------


def _extra_pages() -> list[str]:
    """Optional pages that exist, then any other page no toctree of ours lists."""
    present = {p.stem for p in HERE.glob("*.md")} | {p.stem for p in HERE.glob("*.rst")}
    known = set(OWN_PAGES) | {"index"}
    optional = [name for name in OPTIONAL_PAGES if name in present]
    others = sorted(present - known - set(OPTIONAL_PAGES))
    return optional + others


def _optional_toctree(app: Any, docname: str, source: list[str]) -> None:
    if docname != root_doc or OPTIONAL_MARKER not in source[0]:
        return
    pages = _extra_pages()
    block = ""
    if pages:
        block = "```{toctree}\n:maxdepth: 1\n:caption: More\n\n" + "\n".join(pages) + "\n```\n"
    source[0] = source[0].replace(OPTIONAL_MARKER, block)


def _indent_bare_literal_blocks(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Indent a docstring's literal block written flush with the text after ``::``.

    docutils wants the block indented and warns otherwise (an error under -W); the
    code it holds is fine, so indent it here rather than break the build.  The block
    runs to the next blank line.
    """
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and not lines[j][:1].isspace():
                while j < len(lines) and lines[j].strip():
                    lines[j] = "    " + lines[j]
                    j += 1
            i = j
        else:
            i += 1


def _is_fixture(obj: Any) -> bool:
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(
        obj, "_pytestfixturefunction"
    )


def _fixture_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: Any, return_annotation: Any
) -> tuple[str, None] | None:
    """Show pytest fixtures without their arguments: tests name them, never call them."""
    return ("", None) if _is_fixture(obj) else None


def _fixture_docstring(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    if _is_fixture(obj) and lines:
        lines[0] = f"*pytest fixture.* {lines[0]}"


# -- public names not listed in api.rst by hand ------------------------------------------

API_MARKER = ".. other public names: filled in by conf.py"
#: Modules api.rst documents whole (automodule with members).
WHOLE_MODULES = ("minisamp.helpers", "minisamp.hub", "minisamp.testing")
_AUTO_NAME = re.compile(r"^\.\. auto(?:class|exception|data|function)::\s+(\w+)\s*$", re.M)


def _directive(name: str, obj: Any) -> str:
    if isinstance(obj, type):
        kind = "exception" if issubclass(obj, BaseException) else "class"
        return f".. auto{kind}:: {name}\n   :members:\n"
    if callable(obj):
        return f".. autofunction:: {name}\n"
    return f".. autodata:: {name}\n"


def other_public_names(api_text: str) -> str:
    """reST documenting the names of ``minisamp`` that api.rst does not list by hand.

    Names exported later (``__all__``, or the lazily loaded ones) then still appear in
    the reference: classes and functions of their own, or a pointer to the module
    section that documents them.  A lazy name whose module does not provide it yet is
    skipped.
    """
    listed = set(_AUTO_NAME.findall(api_text))
    lazy = sorted(getattr(minisamp, "_LAZY", {}))
    blocks: list[str] = []
    pointers: list[str] = []
    for name in dict.fromkeys([*minisamp.__all__, *lazy]):
        if name in listed:
            continue
        try:
            obj = getattr(minisamp, name)
        except Exception:
            continue
        module = getattr(obj, "__module__", None) or ""
        if module in WHOLE_MODULES:
            pointers.append(f"* ``minisamp.{name}``: :py:obj:`{module}.{name}`")
        else:
            blocks.append(_directive(name, obj))
    pointers.sort()
    if not blocks and not pointers:
        return ""
    lines = ["Also in ``minisamp``", "~~~~~~~~~~~~~~~~~~~~~", ""]
    if pointers:
        lines += ["Also importable from ``minisamp`` (documented with their module):", ""]
        lines += [*pointers, ""]
    lines += blocks
    return "\n".join(lines) + "\n"


def _api_other_names(app: Any, docname: str, source: list[str]) -> None:
    if docname == "api" and API_MARKER in source[0]:
        source[0] = source[0].replace(API_MARKER, other_public_names(source[0]))


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _api_other_names)
    app.connect("autodoc-process-signature", _fixture_signature)
    app.connect("autodoc-process-docstring", _fixture_docstring)
    app.connect("source-read", _optional_toctree)
    app.connect("autodoc-process-docstring", _indent_bare_literal_blocks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
