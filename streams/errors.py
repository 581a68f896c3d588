"""Errors a person caused and can fix: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

import re
from pathlib import Path


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


def make_directory(path: Path, setting: str) -> Path:
    """`path` created if missing, or a UserError naming the setting to fix (a file there, a read-only place)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{setting}: {path} is a file, not a folder") from None
    except OSError as exc:
        raise UserError(f"{setting}: cannot create the folder {path}: {exc.strerror or exc}") from None
    return path


_NOISE = (
    re.compile(r"\s+SETTINGS readonly = '?1'?"),  # added by the read-only analyst path
    re.compile(r"\s+FORMAT \w+"),
    re.compile(r"\.? Expected one of: .*?(?=\(\w+\)$|$)"),  # a parser's list of every token it would accept
    re.compile(r"\s*Stack trace.*$"),
    re.compile(r"\.? In scope .*?(?=\(\w+\)$|$)"),  # the whole query again
)


def warehouse_error_line(message: str) -> str:
    """A ClickHouse error as one readable line: 'UNKNOWN_TABLE: Unknown table ... nosuch'.

    ClickHouse messages span lines, repeat the query and list every token the parser expected.
    """
    text = re.sub(r"\s*\(version [^()]*(?:\([^()]*\))?\)\s*$", "", " ".join(str(message).split()))
    name = re.search(r"\(([A-Z][A-Z0-9_]+)\)\s*$", text)
    text = re.sub(r"^.*?Code: \d+\. (?:DB::Exception: )?", "", text)
    for pattern in _NOISE:
        text = pattern.sub("", text)
    if name:
        text = text[: text.rfind(f"({name.group(1)})")].rstrip(" .") if f"({name.group(1)})" in text else text
        text = f"{name.group(1)}: {text}"
    return text.strip()
