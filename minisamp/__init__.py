"""minisamp: a small, fast, pure-Python SAMP client, hub and pyvo.samp drop-in."""

__version__ = "0.1.0"
