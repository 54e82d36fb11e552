"""The ``minisamp`` command: its subcommands, exit codes and signals.

``main`` is the entry (parser, logging, errors → exit codes), ``commands`` the
subcommands, ``exit_codes`` the numbers both use.  The only place that configures
logging or writes to the terminal for the user.  May import anything in minisamp;
nothing in minisamp imports it (``__main__`` apart).
"""

from .main import main

__all__ = ["main"]
