"""Errors a person caused and can fix: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (bad SQL, missing path, busy port, bad setting): one readable line.

    Raise it with the whole message; the CLI dispatcher prints `newsstream: <message>` to stderr and
    exits with `exit_code` (2 by default, like argparse's usage errors). No traceback unless --verbose.
    """

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
