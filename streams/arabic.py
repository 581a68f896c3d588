"""Arabic-aware text normalization that keeps a map back to the original offsets.

Written by hand because matching needs a one-to-one-or-dropped character mapping
(so mention offsets point into the original text), which no normalization library offers.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence

_DROP = set(range(0x064B, 0x0660)) | {0x0670, 0x0640} | set(range(0x06D6, 0x06EE)) | {0x200C, 0x200D, 0x200E, 0x200F}

_FOLD = {
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
    "ى": "ي", "ی": "ي", "ې": "ي", "ئ": "ي",
    "ة": "ه", "ۀ": "ه", "ہ": "ه", "ھ": "ه",
    "ؤ": "و",
    "ک": "ك", "ڪ": "ك",
    "گ": "ك",
    "“": '"', "”": '"', "«": '"', "»": '"', "„": '"', "″": '"',
    "‘": "'", "’": "'", "‚": "'", "‹": "'", "›": "'", "`": "'", "´": "'",
    "،": ",", "؛": ";", "؟": "?", "٪": "%", "٫": ".", "٬": ",", "۔": ".",
    "\u00a0": " ",
}
_FOLD.update({chr(0x0660 + i): str(i) for i in range(10)})  # Arabic-Indic digits
_FOLD.update({chr(0x06F0 + i): str(i) for i in range(10)})  # Extended (Persian) digits


_OTHER_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _fold_char(ch: str) -> str:
    if ord(ch) in _DROP:
        return ""
    folded = _FOLD.get(ch)
    if folded is not None:
        return folded
    if "A" <= ch <= "Z" or ord(ch) > 0x7F and ch.isupper():
        low = ch.lower()
        ch = low if len(low) == 1 else ch
    if ord(ch) > 0x7F and unicodedata.combining(ch):
        return ""
    return ch


_REPLACE = {chr(code): "" for code in _DROP} | _FOLD
# One regex pass calling back only where a character changes: half the time of str.translate, which
# looks every character of non-ASCII text up in a dict (a few in ten Arabic characters change).
_CHANGED = re.compile("[" + "".join(re.escape(ch) for ch in _REPLACE) + "]")


def _replace(match: re.Match, _get=_REPLACE.__getitem__) -> str:
    return _get(match.group())


def _fast(text: str) -> str | None:
    """Fold and drop, then lower; None when lowering would change the length (e.g. 'İ')."""
    folded = _CHANGED.sub(_replace, text)
    if _OTHER_MARKS.search(folded):
        return None
    lowered = folded.lower()
    return lowered if len(lowered) == len(folded) else None


_DROPPED = re.compile("[" + "".join(chr(c) for c in sorted(_DROP)) + "]")


class OffsetMap(Sequence[int]):
    """Normalized index -> original index, from the positions of dropped characters only: building a
    per-character list cost more than the Aho-Corasick pass itself, and a page has few dropped marks."""

    __slots__ = ("_shifts", "_len")

    def __init__(self, text: str):
        drops = [m.start() for m in _DROPPED.finditer(text)]
        # The i-th dropped character sits before normalized position drops[i] - i.
        self._shifts = [d - i for i, d in enumerate(drops)]
        self._len = len(text) - len(drops)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, pos):
        if isinstance(pos, slice):
            return [self[i] for i in range(*pos.indices(self._len))]
        if pos < 0:
            pos += self._len
        if not 0 <= pos < self._len:
            raise IndexError(pos)
        return pos + bisect_right(self._shifts, pos) if self._shifts else pos


def normalize_with_map(text: str) -> tuple[str, Sequence[int]]:
    """Normalized text and, for each of its characters, the index of the original character."""
    fast = _fast(text)
    if fast is not None:
        return fast, OffsetMap(text)
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        if folded:
            out.append(folded)
            index.append(i)
    return "".join(out), index


def normalize(text: str) -> str:
    fast = _fast(text)
    return fast if fast is not None else "".join(_fold_char(ch) for ch in text)


_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fingerprint_text(text: str) -> str:
    """Normalized words only: what two copies of one article have in common, byte for byte."""
    return " ".join(_NON_WORD.sub(" ", normalize(text)).split())


def is_mark(ch: str) -> bool:
    """A diacritic or other dropped mark: it belongs to the letter before it."""
    return ord(ch) in _DROP


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ord(ch) in _DROP
