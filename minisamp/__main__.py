"""``python -m minisamp``: the ``minisamp`` command."""

import sys

from .cli import main

sys.exit(main())
