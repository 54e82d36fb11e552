"""The ``minisamp`` command's exit codes: the numbers scripts test, shared by entry and commands.

The table of what each means is :mod:`minisamp.cli.main`'s docstring (and ``docs/cli.md``);
they live here, apart from the entry, because the subcommands return them too.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_NO_HUB",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_HUB, EXIT_NOT_FOUND, EXIT_TIMEOUT, EXIT_REFUSED = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
)
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    "ok": EXIT_OK,
    "error": EXIT_ERROR,
    "usage": EXIT_USAGE,
    "no-hub": EXIT_NO_HUB,
    "not-found": EXIT_NOT_FOUND,
    "timeout": EXIT_TIMEOUT,
    "refused": EXIT_REFUSED,
    "interrupted": EXIT_INTERRUPTED,
}
