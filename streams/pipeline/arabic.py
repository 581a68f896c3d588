"""Arabic-aware text normalization that keeps a map back to the original offsets.

Written by hand because matching needs a one-to-one-or-dropped character mapping
(so mention offsets point into the original text), which no normalization library offers.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

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


# Arabic presentation forms (Forms-A U+FB50-U+FDFF, Forms-B U+FE70-U+FEFF: the contextual shapes and ligatures old
# encodings and some PDFs and sites write, e.g. ﻻﻓﺮﻭﻑ) fold to the base letters their NFKC decomposition gives (ﺃ -> ا):
# a shape that is one letter goes in _FOLD, a harakat form (ﹰ, a space or tatweel and marks under NFKC) in _DROP, and
# a ligature of several letters (ﻻ -> لا, ﷲ -> الله) in _EXPAND; the normalized text then has more characters than
# the original there, each mapped to the ligature's offset.
_PRESENTATION_FORMS = (range(0xFB50, 0xFE00), range(0xFE70, 0xFF00))
_EXPAND: dict[str, str] = {}


def _presentation_forms() -> None:
    for code in (c for forms in _PRESENTATION_FORMS for c in forms):
        ch = chr(code)
        decomposed = unicodedata.normalize("NFKC", ch)
        if decomposed == ch:
            continue
        folded = "".join(map(_fold_char, decomposed))
        if not "".join(map(_fold_char, decomposed.lstrip(" \u0640"))):  # a vowel mark's isolated or medial form
            _DROP.add(code)
        elif len(folded) == 1:
            _FOLD[ch] = folded
        else:
            _EXPAND[ch] = folded


# Characters the one-character fold does not cover, so a text with one takes the character-by-character way: other
# combining marks (kept, their lowercase may depend on them) and the presentation-form ligatures (several letters).
def _slow_characters() -> re.Pattern:
    return re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
                      + "".join(sorted(_EXPAND)) + "]")


def _fold_char(ch: str) -> str:
    if ord(ch) in _DROP:
        return ""
    expanded = _EXPAND.get(ch)
    if expanded is not None:
        return expanded
    folded = _FOLD.get(ch)
    if folded is not None:
        return folded
    if "A" <= ch <= "Z" or ord(ch) > 0x7F and ch.isupper():
        low = ch.lower()
        ch = low if len(low) == 1 else ch
    if ord(ch) > 0x7F and unicodedata.combining(ch):
        return ""
    return ch


_presentation_forms()
_OTHER_MARKS = _slow_characters()

_REPLACE = {chr(code): "" for code in _DROP} | _FOLD
# One regex pass calling back only where a character changes: half the time of str.translate, which
# looks every character of non-ASCII text up in a dict (a few in ten Arabic characters change).
_CHANGED = re.compile("[" + "".join(re.escape(ch) for ch in _REPLACE) + "]")


def _replace(match: re.Match, _get=_REPLACE.__getitem__) -> str:
    return _get(match.group())


_DROPPED_CODE = 0xFFFFFFFF
_ARRAY_FROM = 256  # characters; shorter texts take the regex (numpy's fixed cost per call is larger)


@lru_cache(maxsize=1)
def _fold_table() -> np.ndarray:
    """_REPLACE as an array over the Basic Multilingual Plane: code point -> folded code point or _DROPPED_CODE."""
    table = np.arange(0x10000, dtype=np.uint32)
    for ch, to in _REPLACE.items():
        table[ord(ch)] = ord(to) if to else _DROPPED_CODE
    return table


def code_points(text: str) -> np.ndarray:
    """The text's code points as an array (lone surrogates too: they pass through normalization unchanged)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _fold_array(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """_CHANGED.sub(_replace, text) by one array gather (every _REPLACE key is in the BMP, every value one
    character or none), the positions of the dropped characters and those of the kept ones (the offset map)."""
    codes = code_points(text)
    mapped = _fold_table().take(codes, mode="clip")  # a code point past the BMP reads the table's last entry
    if codes.size and int(codes.max()) > 0xFFFF:
        mapped = np.where(codes > 0xFFFF, codes, mapped)
    kept = mapped != _DROPPED_CODE
    kept_at = np.flatnonzero(kept)
    if len(kept_at) == len(codes):  # nothing dropped (a page without vowel marks or tatweel)
        return mapped.tobytes().decode("utf-32-le", "surrogatepass"), kept_at[:0], kept_at
    return mapped[kept_at].tobytes().decode("utf-32-le", "surrogatepass"), np.flatnonzero(~kept), kept_at


_SPECIAL_CODE = 0xFFFFFFFE  # in _lowered_fold_table: a character the table cannot lower alone (see there)


@lru_cache(maxsize=1)
def _lowered_fold_table() -> np.ndarray:
    """_fold_table, lowered: code point -> its folded character's lowercase, _DROPPED_CODE, or _SPECIAL_CODE for a
    character whose lowercase is not one character alone (İ), depends on its neighbours (Σ, final sigma), or that
    _OTHER_MARKS finds: a text with one takes the fold-then-lower way."""
    table = _fold_table().copy()
    at = np.flatnonzero(table != _DROPPED_CODE)
    folded = "".join(map(chr, table[at].tolist()))  # each kept character, folded
    lowered = list(map(str.lower, folded))  # one by one (a whole-string lower would shift at İ), in C
    longer = np.flatnonzero(np.fromiter(map(len, lowered), dtype=np.intp, count=len(lowered)) != 1)
    for n in longer.tolist():
        lowered[n] = "\0"  # a placeholder, marked special below
    table[at] = code_points("".join(lowered))
    table[at[[*longer.tolist(), *(m.start() for m in _OTHER_MARKS.finditer(folded))]]] = _SPECIAL_CODE
    table[ord("\u03a3")] = _SPECIAL_CODE  # Σ (nothing else folds to it): str.lower makes it ς at a word's end
    return table


def _fold_lower_array(text: str) -> tuple[str, np.ndarray, np.ndarray | None] | None:
    """_fast of a long text: (normalized text, dropped positions, kept positions) by one gather from
    _lowered_fold_table (no regex scan for other marks, no str.lower), or by folding then lowering when a character
    needs it; None when lowering would change the length. The kept positions are None when nothing was dropped."""
    codes = code_points(text)
    if int(codes.max()) <= 0xFFFF:
        mapped = _lowered_fold_table().take(codes)
        if not (mapped >= _SPECIAL_CODE).any():  # nothing dropped, nothing special: most pages
            return mapped.tobytes().decode("utf-32-le", "surrogatepass"), _NONE, None
        if not (mapped == _SPECIAL_CODE).any():
            kept = mapped != _DROPPED_CODE
            kept_at = np.flatnonzero(kept)
            return mapped[kept_at].tobytes().decode("utf-32-le", "surrogatepass"), np.flatnonzero(~kept), kept_at
    folded, dropped, kept_at = _fold_array(text)
    if _OTHER_MARKS.search(folded):
        return None
    lowered = folded.lower()
    return (lowered, dropped, kept_at) if len(lowered) == len(folded) else None


_NONE = np.zeros(0, dtype=np.intp)


def _fast(text: str, drops: list | None = None, kept: list | None = None) -> str | None:
    """Fold and drop, then lower; None when lowering would change the length (e.g. 'İ'). `drops`, `kept`: lists to
    receive the positions of the dropped characters and the array of the kept ones, None when none was dropped
    (long texts only; else left empty)."""
    if len(text) >= _ARRAY_FROM:
        done = _fold_lower_array(text)
        if done is None:
            return None
        if drops is not None:
            drops.extend(done[1].tolist())
        if kept is not None:
            kept.append(done[2])
        return done[0]
    folded = _CHANGED.sub(_replace, text)
    if _OTHER_MARKS.search(folded):
        return None
    lowered = folded.lower()
    return lowered if len(lowered) == len(folded) else None


_DROPPED = re.compile("[" + "".join(chr(c) for c in sorted(_DROP)) + "]")


class OffsetMap(Sequence[int]):
    """Normalized index -> original index, from the positions of dropped characters only: building a
    per-character list cost more than the Aho-Corasick pass itself, and a page has few dropped marks."""

    __slots__ = ("_shifts", "_len", "kept")

    def __init__(self, text: str, drops: list[int] | None = None, kept: np.ndarray | None = None):
        """`drops`: the positions of the dropped characters, when the caller found them already; `kept`: the map's
        values as an int64 array, when the caller has them (offsets.original_index passes them on)."""
        self.kept = kept
        if drops is None:
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
    drops: list[int] = []
    kept: list[np.ndarray] = []
    fast = _fast(text, drops, kept)
    if fast is not None:
        if kept:
            return fast, OffsetMap(text, drops, kept[0])
        return fast, OffsetMap(text)
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        if folded:
            out.append(folded)
            if len(folded) == 1:
                index.append(i)
            else:  # a ligature (ﻻ -> لا): each of its letters maps to it
                index.extend([i] * len(folded))
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


MARKS = frozenset(map(chr, _DROP))  # the characters is_mark is true of


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ord(ch) in _DROP


@lru_cache(maxsize=1)
def _word_table() -> np.ndarray:
    """is_word_char of every BMP code point. isalnum is exactly the regex's \\w less "_", so the table is filled from
    the ~400 runs of \\w+ over the plane (a few ms) instead of 65,536 calls (tests/test_startup.py compares them)."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for run in re.finditer(r"\w+", "".join(map(chr, range(0x10000)))):
        table[run.start():run.end()] = 1
    table[ord("_")] = 0
    table[sorted(_DROP)] = 1
    return table


def word_chars(text: str) -> bytes:
    """is_word_char of every character as one byte (1/0), in one array gather: a matcher tests a hit's
    boundaries by index instead of calling is_word_char per hit (most dictionary hits fall inside words)."""
    codes = code_points(text)
    if codes.size and int(codes.max()) > 0xFFFF:  # outside the Basic Multilingual Plane: rare, per character
        return bytes(is_word_char(ch) for ch in text)
    return _word_table()[codes].tobytes()
