"""`newsstream`: a thin command line over the library."""

from streams.cli.commands import main

__all__ = ["main"]
