"""The ``minisamp`` command: its subcommands, exit codes and signals.

``main`` is the entry (parser, logging, errors → exit codes), ``commands`` the
subcommands, ``exit_codes`` the numbers both use.  The only place that configures
logging or writes to the terminal for the user.  May import anything in minisamp.
Must never import it: any other module of minisamp (``__main__`` apart); the library
never depends on its command line.
"""

from .main import main

__all__ = ["main"]
