"""Normalized-text offsets back to the original text, as a plain list or range: the entities step looks up ~100
offsets per article, and each lookup in normalize_with_map's OffsetMap is a Python call with a bisection."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from streams.pipeline.arabic import code_points, is_mark


@lru_cache(maxsize=1)
def _mark_table() -> np.ndarray:
    """is_mark of every character of the Basic Multilingual Plane: the characters normalization drops."""
    return np.array([is_mark(chr(c)) for c in range(0x10000)], dtype=bool)


def original_index(text: str, index: Sequence[int]) -> Sequence[int]:
    """`index` (normalize_with_map(text)[1]: normalized position -> original position) with the same values,
    indexed in C: a list stays as it is; the map is strictly increasing into range(len(text)), so as long as the
    text it is the identity (a range); else it skips exactly the dropped marks, found here by one array gather
    (an int64 array; checked by count, and anything unexpected keeps `index`)."""
    if isinstance(index, list | range | array):
        return index
    if len(index) == len(text):
        return range(len(text))
    kept = getattr(index, "kept", None)  # normalize_with_map's OffsetMap of a long text carries its values
    if kept is not None and len(kept) == len(index):
        return array("q", kept.astype(np.int64, copy=False).tobytes())
    codes = code_points(text)
    if codes.size and int(codes.max()) > 0xFFFF:  # outside the Basic Multilingual Plane: rare, keep the map
        return index
    kept = np.flatnonzero(~_mark_table()[codes]).astype(np.int64, copy=False)
    return array("q", kept.tobytes()) if len(kept) == len(index) else index  # a list would cost ~40 ns per character
