"""The stories stage's MinHash scheme (`oph1`) written plainly, one shingle and one bin at a time, with its constants
spelled out: streams.pipeline.stages.stories.signature computes the same values in array operations. Stored
signatures are compared across workers and releases, so a change of these values needs a new scheme name."""

from __future__ import annotations

import numpy as np

from streams.pipeline.arabic import fingerprint_text

MASK = (1 << 64) - 1
BASE = 0x100000001B3
MIX_WORDS = 0x9E3779B97F4A7C15
C1, C2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
SEED = 1


def word_hash(word: str) -> int:
    """The word's code points as a polynomial in BASE, mod 2**64."""
    return sum(ord(ch) * pow(BASE, i, 1 << 64) for i, ch in enumerate(word)) & MASK


def shingle_hash(word_hashes: list[int]) -> int:
    """The words' hashes as a polynomial in MIX_WORDS, then the top 32 bits of MurmurHash3's fmix64."""
    h = 0
    for w in word_hashes:
        h = (h * MIX_WORDS + w) & MASK
    h ^= h >> 33
    h = (h * C1) & MASK
    h ^= h >> 33
    h = (h * C2) & MASK
    h ^= h >> 33
    return h >> 32


def reference_signature(text: str, num_perm: int = 126, shingle_words: int = 3) -> list[int]:
    words = [word_hash(w) for w in fingerprint_text(text).split()]
    k = shingle_words
    grams = [words] if len(words) <= k else [words[i:i + k] for i in range(len(words) - k + 1)]
    bins: list[int | None] = [None] * num_perm
    for value in {shingle_hash(g) for g in grams}:
        j = value * num_perm >> 32  # the bins are num_perm equal ranges of [0, 2**32)
        current = bins[j]
        bins[j] = value if current is None else min(current, value)
    gen = np.random.RandomState(SEED)
    probes = [gen.permutation(num_perm).tolist() for _ in range(num_perm)]
    filled = [v is not None for v in bins]
    # an empty bin takes the value of the first filled bin in its own probe order (optimal densification)
    return [v if v is not None else bins[next(p for p in probes[j] if filled[p])]  # type: ignore[misc]
            for j, v in enumerate(bins)]
