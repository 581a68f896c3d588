"""Every occurrence of many patterns in a text, overlapping ones included: the dictionary's and the titles' pass.

ahocorasick_rs (Rust) walks a text ~2.4x faster than pyahocorasick on the dictionary's ~30,000 keys, and ~2x faster
again over bytes with one byte per character: a text that Windows-1256 encodes (Arabic letters, Latin and
Latin-1's French letters, common punctuation: every article of the sample corpus and of the real pages) is
scanned as those bytes, whose offsets are then the text's own. Any other text (a Cyrillic name, an emoji) is
scanned as a str by a second automaton of all the patterns, built the first time one comes.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections.abc import Sequence
from typing import Generic, TypeVar

import ahocorasick_rs

V = TypeVar("V")
# One byte per character, Arabic letters and Latin-1's French letters included: byte offsets are str offsets.
ENCODING = "cp1256"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class PatternScanner(Generic[V]):
    """patterns[i] with its value values[i]. hits(text) -> ((pattern number, start, end) of every occurrence, in no
    particular order; the values those numbers index)."""

    def __init__(self, patterns: Sequence[str], values: Sequence[V], *, dfa: bool = False):
        """`dfa`: compile to a DFA, the fastest walk, for a small pattern set (a large one takes long to build)."""
        if len(patterns) != len(values):
            raise ValueError("PatternScanner: one value per pattern")
        self._patterns, self._values = list(patterns), list(values)
        encoded: list[bytes] = []
        self._encoded_values: list[V] = []
        for pattern, value in zip(self._patterns, self._values, strict=True):
            try:
                encoded.append(pattern.encode(ENCODING))
            except UnicodeEncodeError:  # a pattern with another character matches no text that encodes
                continue
            self._encoded_values.append(value)
        implementation = ahocorasick_rs.Implementation.DFA if dfa else None
        self._bytes = ahocorasick_rs.BytesAhoCorasick(encoded, implementation=implementation) if encoded else None
        self._text: ahocorasick_rs.AhoCorasick | None = None  # all patterns, for texts that do not encode

    def hits(self, text: str) -> tuple[list[tuple[int, int, int]], Sequence[V]]:
        data = encoded(text)
        if data is None:
            return self._text_hits(text), self._values
        if self._bytes is None:
            return [], self._encoded_values
        return self._bytes.find_matches_as_indexes(data, overlapping=True), self._encoded_values

    def _text_hits(self, text: str) -> list[tuple[int, int, int]]:
        if not self._patterns:
            return []
        if self._text is None:
            self._text = ahocorasick_rs.AhoCorasick(self._patterns)
        try:
            return self._text.find_matches_as_indexes(text, overlapping=True)
        except UnicodeEncodeError:  # a lone surrogate (a broken page): the Rust side cannot take it
            pass
        # Scanned with U+FFFD in its place, then without the hits over it (a pattern may hold U+FFFD; none can hold
        # a lone surrogate: it does not encode).
        surrogates = [m.start() for m in _LONE_SURROGATE.finditer(text)]
        hits = self._text.find_matches_as_indexes(_LONE_SURROGATE.sub("\ufffd", text), overlapping=True)
        return [hit for hit in hits if bisect_left(surrogates, hit[1]) == bisect_left(surrogates, hit[2])]


_ENCODED_LOCK = threading.Lock()  # the count of characters kept (a worker's stages run in threads too)
_ENCODED: dict[str, bytes | None] = {}  # text -> its bytes: the dictionary's and the titles' pass encode it once
_ENCODED_KEPT = 256  # texts kept: a batch's (64 by default), each met once per pass; then it starts over
_ENCODED_CHARS_KEPT = 2_000_000  # ... and characters kept (~6 MB with the texts): a batch of long texts starts over
_encoded_chars = 0


def encoded(text: str) -> bytes | None:
    """text in ENCODING, None when it has a character ENCODING lacks; the last texts' bytes are kept."""
    global _encoded_chars
    try:
        return _ENCODED[text]
    except KeyError:
        pass
    try:
        data: bytes | None = text.encode(ENCODING)
    except UnicodeEncodeError:
        data = None
    with _ENCODED_LOCK:
        if len(_ENCODED) >= _ENCODED_KEPT or _encoded_chars + len(text) > _ENCODED_CHARS_KEPT:
            _ENCODED.clear()
            _encoded_chars = 0
        if len(text) <= _ENCODED_CHARS_KEPT and text not in _ENCODED:
            _ENCODED[text] = data
            _encoded_chars += len(text)
    return data
