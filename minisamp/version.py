"""minisamp's version, in one place: the package, the hub's metadata and the build read it."""

__version__ = "0.1.0"
