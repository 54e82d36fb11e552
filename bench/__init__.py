"""minisamp's benchmarks against pyvo.samp and JSAMP: ``python -m bench`` (see README.md)."""
