"""Stories stage: article -> story id, grouping copies of one article.

Exact duplicates: the same canonical URL (a re-delivery: same article id, same answer as the first time)
or the same normalized body on another URL. Near duplicates: a MinHash signature over word shingles of the
normalized text (one permutation hashing: `signature`, scheme `SCHEME`), looked up in an LSH index (banding, as
datasketch's MinHashLSH); a candidate counts when its estimated Jaccard similarity reaches `THRESHOLD`. The
signature is computed upstream (`signature`, in the parallel entities stage); this stage only looks up and inserts,
so it stays cheap in its single partition. Parameters are chosen by benchmarks/dedup.py.
The index is explicit state passed in, so the assignment stays a pure function of it.

Second signal, for heavy rewrites that share no LSH band: when LSH finds nothing, the article is compared with
every indexed article that names one of its lead persons and was published within `SECOND_DAYS`; a signature
similarity of `SECOND_THRESHOLD` there is a copy. Measured (benchmarks/dedup.py): different same-day articles
about the same person in the labeled pairs reach 0.08, the bigram-chain texts of the index benchmark (more
phrases in common than real articles) 0.119 at the 99th percentile, 0.135 at most; the heavy rewrites LSH missed
sit at 0.10-0.32, and 41 of 49 reach 0.15.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np

from schemas.records import LEGACY_MINHASH_SCHEME, Article, Mention, StoryAssignment
from streams.pipeline.arabic import normalize
from streams.pipeline.stages import Rejected

# Chosen from the labeled pairs (benchmarks/dedup.py prints the sweep these come from).
SHINGLE_WORDS = 3
BANDS, ROWS = 42, 3
NUM_PERM = BANDS * ROWS
THRESHOLD = 0.2
SECOND_THRESHOLD = 0.15
SECOND_DAYS = 1
LEAD_PERSONS = 2
SEED = 1  # fixed (the densification's probe orders): signatures made by any worker, any day, must compare
# Signatures carry the name of their scheme wherever they are stored or sent (ArticleEntities, StoryArticle,
# articles.minhash_scheme): values of two schemes are never compared; an old one is recomputed from the text.
SCHEME = "oph1-w3-126"
LEGACY_SCHEME = LEGACY_MINHASH_SCHEME  # datasketch MinHash (seed 1, affine32, sha1 per shingle): before 0013


def scheme_name(num_perm: int = NUM_PERM, shingle_words: int = SHINGLE_WORDS) -> str:
    """The scheme of signature(..., num_perm, shingle_words): values of other parameters do not compare either."""
    return f"oph1-w{shingle_words}-{num_perm}"


_WORD = re.compile(r"\w+")  # the words fingerprint_text keeps: the runs between its [^\w]+ separators
_WORD_CHAR = re.compile(r"\w")


def _words(text: str, normalized: str | None = None) -> list[str]:
    """fingerprint_text's words; `normalized`: normalize(text) when the caller already has it."""
    return _WORD.findall(normalize(text) if normalized is None else normalized)


def shingles(text: str, size: int = SHINGLE_WORDS, normalized: str | None = None) -> set[bytes]:
    """Word n-grams of the normalized text (Arabic letter variants, diacritics and punctuation folded): the set
    whose Jaccard similarity two signatures estimate."""
    words = _words(text, normalized)
    if len(words) <= size:
        return {" ".join(words).encode()}
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


# Fixed 64-bit constants (never Python's salted hash()): the same values in every process, on every machine.
_BASE = 0x100000001B3  # odd: a word's hash is its code points as a polynomial in _BASE, mod 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_MIX_WORDS = np.uint64(0x9E3779B97F4A7C15)  # a shingle's hash: its words' hashes as a polynomial in this
_C1, _C2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)  # MurmurHash3's fmix64
_S32, _S33 = np.uint64(32), np.uint64(33)
_LOW32 = np.uint64(0xFFFFFFFF)


@cache
def _word_codes() -> np.ndarray:
    """Each Basic Multilingual Plane code point that `_WORD_CHAR` matches, 0 elsewhere: words are `_WORD`'s runs."""
    plane = "".join(map(chr, range(0x10000)))
    table = np.zeros(0x10000, dtype=np.uint64)  # the width of the hash arithmetic: no conversion per text
    for run in _WORD.finditer(plane):  # the runs of _WORD_CHAR: ~400 matches instead of one per code point
        table[run.start():run.end()] = np.arange(run.start(), run.end(), dtype=np.uint64)
    return table


_POWERS: tuple[np.ndarray, np.ndarray] = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """_BASE**i and _BASE_INVERSE**i mod 2**64 for i < n (at least), grown by doubling and kept."""
    global _POWERS
    powers = _POWERS  # this call's own: another thread may put a shorter table back meanwhile
    if len(powers[0]) < n:
        size = max(n, 2 * len(powers[0]), 4096)
        up, down = np.full(size, _BASE, dtype=np.uint64), np.full(size, _BASE_INVERSE, dtype=np.uint64)
        up[0] = down[0] = 1
        powers = _POWERS = (np.cumprod(up, dtype=np.uint64), np.cumprod(down, dtype=np.uint64))  # wraps: mod 2**64
    return powers


@cache
def _bins(num_perm: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First value of each of `num_perm` equal ranges of [0, 2**32) (and 2**32), and for each bin a fixed random
    order of the bins an empty one borrows from (optimal densification)."""
    bounds = np.array([-(-(j << 32) // num_perm) for j in range(num_perm + 1)], dtype=np.uint64)
    gen = np.random.RandomState(SEED)  # legacy generator: its stream is frozen across numpy versions
    probes = np.array([gen.permutation(num_perm) for _ in range(num_perm)], dtype=np.intp)
    return bounds, probes, np.arange(num_perm)


class _PastThePlane(Exception):
    """A text with a character outside the Basic Multilingual Plane (the word table's range)."""


def _word_hashes(normalized: str) -> np.ndarray:
    """One 64-bit hash per word (`_WORD`) of the text, in order, computed in array operations (no per-word call)."""
    return _hashed_words(normalized, False)[0]


def _hashed_words(normalized: str, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """_word_hashes and each word's start offset in `normalized`. `strict`: a character outside the Basic
    Multilingual Plane raises _PastThePlane instead of taking the slow way (signatures() then goes text by text)."""
    codes = np.frombuffer((" " + normalized + " ").encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    try:
        word = _word_codes().take(codes)  # a word character's code point, 0 for a separator
    except IndexError:  # a character outside the Basic Multilingual Plane: rare, tested one by one
        if strict:
            raise _PastThePlane from None
        word = np.array([c if _WORD_CHAR.match(chr(c)) else 0 for c in codes.tolist()], dtype=np.uint64)
    inside = word != 0
    edges = np.flatnonzero(inside[1:] != inside[:-1])  # a word is word[1:][edges[2i]:edges[2i + 1]]
    if not len(edges):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.intp)
    up, down = _powers(len(codes))
    word[1:] *= up[:len(codes) - 1]  # wraps: mod 2**64
    sums = np.add.reduceat(word[1:], edges)[::2]
    sums *= down[edges[::2]]  # sum of code * _BASE**(offset in the word): the same wherever the word stands
    return sums, edges[::2]


def signature(text: str, num_perm: int = NUM_PERM, shingle_words: int = SHINGLE_WORDS,
              normalized: str | None = None) -> list[int]:
    """MinHash signature of the text's word shingles (`shingles`), scheme `scheme_name(num_perm, shingle_words)`:
    the fraction of equal positions of two signatures estimates the Jaccard similarity of their shingle sets.

    One permutation hashing (Li, Owen and Zhang 2012) with optimal densification (Shrivastava 2017): each shingle
    gets one 32-bit hash, the hash range is cut into `num_perm` equal bins, a bin keeps the smallest hash that
    falls in it, and an empty bin copies the first non-empty bin of its fixed probe order. A shingle's hash is its
    words' 64-bit hashes combined as a polynomial then mixed (MurmurHash3's fmix64), so no call per shingle and
    one pass over the text: datasketch's per-permutation MinHash cost a sha1 per shingle and num_perm products per
    shingle (benchmarks/RESULTS.md). Written here because no library computes it without a call per shingle.
    `normalized`: normalize(text), when the caller already has it."""
    if num_perm < 1 or shingle_words < 1:
        raise ValueError(f"a signature needs num_perm >= 1 and shingle_words >= 1, not {num_perm}, {shingle_words}")
    hashes = _word_hashes(normalize(text) if normalized is None else normalized)
    n, k = len(hashes), shingle_words
    if n <= k:  # the whole text is one shingle (as `shingles`)
        mixed = np.zeros(1, dtype=np.uint64)
        for h in hashes:
            mixed = mixed * _MIX_WORDS + h
    else:
        mixed = hashes[:n - k + 1].copy()
        for i in range(1, k):
            mixed *= _MIX_WORDS
            mixed += hashes[i:n - k + 1 + i]
    mixed ^= mixed >> _S33  # fmix64; its last xor-shift leaves the top 32 bits as they are, so it is left out
    mixed *= _C1
    mixed ^= mixed >> _S33
    mixed *= _C2
    mixed >>= _S32
    values = np.sort(mixed)
    bounds, probes, positions = _bins(num_perm)
    first = np.searchsorted(values, bounds)  # where each bin's values start in the sorted hashes
    filled = first[:-1] < first[1:]
    sig = values.take(first[:-1], mode="clip")  # an empty last bin reads a value it then replaces
    if not filled.all():
        empty = np.flatnonzero(~filled)
        order = probes[empty]
        sig[empty] = sig[order[positions[:len(empty)], filled[order].argmax(axis=1)]]
    return sig.tolist()


def signatures(normalized_texts: Sequence[str], num_perm: int = NUM_PERM,
               shingle_words: int = SHINGLE_WORDS) -> list[list[int]]:
    """[signature(t, num_perm, shingle_words, normalized=t) for t in normalized_texts] (each a normalized text), in
    one set of array operations for the whole batch: a signature's ~20 numpy calls cost about as much as its
    arithmetic, so a batch of articles pays them once. The texts are hashed as one (a space between two, so no word
    crosses), a text's shingles are the windows inside it, and each text's hashes are sorted and binned apart by
    carrying the text's number in the high 32 bits of the 64-bit sort key."""
    if num_perm < 1 or shingle_words < 1:
        raise ValueError(f"a signature needs num_perm >= 1 and shingle_words >= 1, not {num_perm}, {shingle_words}")
    if len(normalized_texts) < 2:
        return [signature(t, num_perm, shingle_words, normalized=t) for t in normalized_texts]
    try:
        hashes, starts = _hashed_words(" ".join(normalized_texts), True)
    except _PastThePlane:  # a character outside the Basic Multilingual Plane: rare, text by text
        return [signature(t, num_perm, shingle_words, normalized=t) for t in normalized_texts]
    # Where each text starts in the joined string, and so the number of its first word.
    offsets = np.cumsum([0] + [len(t) + 1 for t in normalized_texts[:-1]])
    first_word = np.searchsorted(starts, offsets)
    counts = np.diff(first_word, append=len(hashes))
    k, n = shingle_words, len(hashes)
    mixed = hashes[:n - k + 1].copy() if n >= k else np.zeros(0, dtype=np.uint64)
    for i in range(1, k if n >= k else 1):
        mixed *= _MIX_WORDS
        mixed += hashes[i:n - k + 1 + i]
    # Window g (words g..g+k-1) is a shingle of text j when it lies inside the text's words; a text of k words or
    # fewer is one shingle of all its words (none: the empty shingle, hash 0), as in signature().
    window = np.arange(len(mixed))
    owner = np.searchsorted(first_word, window, side="right") - 1  # the text window g starts in
    inside = (window + k <= first_word[owner] + counts[owner]) & (counts[owner] > k)
    whole = np.flatnonzero(counts <= k)
    parts = [mixed[inside]]
    owners = [owner[inside]]
    if len(whole):
        short = []
        for j in whole.tolist():
            one = np.zeros(1, dtype=np.uint64)
            for h in hashes[first_word[j]:first_word[j] + counts[j]]:
                one = one * _MIX_WORDS + h  # array arithmetic: wraps mod 2**64 without a warning
            short.append(one)
        parts.append(np.concatenate(short))
        owners.append(whole)
    mixed = np.concatenate(parts)
    mixed ^= mixed >> _S33  # fmix64, as in signature()
    mixed *= _C1
    mixed ^= mixed >> _S33
    mixed *= _C2
    mixed >>= _S32
    texts = np.arange(len(normalized_texts), dtype=np.uint64)
    keys = np.sort(mixed | (np.concatenate(owners).astype(np.uint64) << _S32))
    bounds, probes, positions = _bins(num_perm)
    first = np.searchsorted(keys, bounds[None, :] + (texts << _S32)[:, None])  # bounds[-1] is 2**32: the next text
    filled = first[:, :-1] < first[:, 1:]
    sig = keys.take(first[:, :-1], mode="clip") & _LOW32  # an empty bin reads a value it then replaces
    rows, empty = np.nonzero(~filled)
    if len(rows):
        # Each empty bin's first filled bin in its probe order: most often the first probe already (a text of a few
        # hundred shingles leaves ~1 bin in 10 empty), so only the others gather their whole probe order.
        first_probe = probes[empty, 0]
        donor = first_probe.copy()
        rest = np.flatnonzero(~filled[rows, first_probe])
        if len(rest):
            order = probes[empty[rest]]
            donor[rest] = order[np.arange(len(rest)), filled[rows[rest, None], order].argmax(axis=1)]
        sig[rows, empty] = sig[rows, donor]
    return sig.tolist()


def valid_signature(values: Sequence[int], num_perm: int = NUM_PERM) -> bool:
    """Exactly `num_perm` values, each a uint32: anything else (a damaged or hand-made record) is not a signature."""
    if len(values) != num_perm:
        return False
    try:
        array = np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        return False
    if array.dtype == np.uint32:
        return True
    return array.dtype.kind in "iu" and bool((array >= 0).all() and (array < 1 << 32).all())


def current_signature(text: str, values: Sequence[int], scheme: str | None) -> list[int]:
    """`values` when they are a signature of `SCHEME`, else the text's signature now: a signature stored or sent by
    another scheme (None: a record from before schemes, `LEGACY_SCHEME`), or values that are no signature at all
    (wrong length, out of range), are recomputed, never compared."""
    if scheme == SCHEME and valid_signature(values):
        return list(values)
    return signature(text) if text else []


def lead_persons(mentions: Sequence[Mention], n: int = LEAD_PERSONS) -> tuple[str, ...]:
    """The persons an article names most (earlier first on ties): a rewrite changes words, not whom it is about."""
    counts = Counter(m.actor_id for m in mentions if m.type == "person")
    first: dict[str, int] = {}
    for m in mentions:
        first.setdefault(m.actor_id, m.start)
    return tuple(sorted(counts, key=lambda a: (-counts[a], first[a]))[:n])


class _Bucket:
    """The articles naming one person on one day, as their rows in the LSH index's signature store (no copy of a
    signature): a lookup is one comparison per block of rows."""

    __slots__ = ("keys", "rows")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.rows = np.empty(1, dtype=np.uint32)

    def add(self, key: str, row: int) -> None:
        if len(self.keys) == len(self.rows):
            self.rows = np.concatenate([self.rows, np.empty_like(self.rows)])
        self.rows[len(self.keys)] = row
        self.keys.append(key)

    def remove(self, key: str) -> None:
        i, last = self.keys.index(key), len(self.keys) - 1
        self.rows[i], self.keys[i] = self.rows[last], self.keys[last]
        self.keys.pop()

    def similarities(self, query: np.ndarray, lsh: BandIndex) -> np.ndarray:
        return np.count_nonzero(lsh.gather(self.rows[:len(self.keys)]) == query, axis=1) / len(query)


class BandIndex:
    """LSH by banding, as datasketch's MinHashLSH with explicit `params=(bands, rows)`: a key is a candidate when one
    band (`rows` consecutive values) of its signature equals the query's. Written here because that is one dict per
    band, while importing datasketch imports scipy at every start (cost: benchmarks/RESULTS.md), for a parameter
    optimizer these fixed parameters never call. Same candidates as datasketch (tests/test_stories.py).

    Held compactly (issue 18: Python objects per band cost ~8 KB an article): signatures are rows of one uint32
    array (grown by half when full), and each band is one 64-bit hash in a sorted uint64 array beside its row (12
    bytes a band); the last `merge_every` inserts wait in a small dict until they are merged in. A hash only finds
    rows: a candidate is kept when one of its bands equals the query's, so a hash collision never adds one. A
    removed key's row stays until the next merge drops its hashes (queries skip it) and is reused after it."""

    def __init__(self, bands: int, rows: int, merge_every: int = 2048):
        self.bands, self.rows, self.merge_every = bands, rows, merge_every
        self.keys: dict[str, int] = {}  # key -> its row
        self._names: list[str | None] = []  # row -> key (None: free or removed)
        self._alive = np.zeros(0, dtype=bool)
        self._store = np.zeros((0, bands * rows), dtype=np.uint32)  # row -> signature
        self._free: list[int] = []  # rows no hash refers to any more: reusable
        self._removed: list[int] = []  # rows of removed keys: reusable after the next merge
        self._hashes = np.zeros(0, dtype=np.uint64)  # sorted band hashes of the merged rows ...
        self._hash_rows = np.zeros(0, dtype=np.uint32)  # ... and the row of each
        self._recent: dict[int, int | list[int]] = {}  # band hash -> row(s), inserted since the last merge
        self._recent_rows = 0
        salt = np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # wraps: mod 2**64
        self._salt = salt

    def _band_hashes(self, sig: np.ndarray) -> np.ndarray:
        """One 64-bit hash per band (band number included): fixed constants, the same in every process."""
        values = sig.reshape(self.bands, self.rows).astype(np.uint64)
        h = self._salt.copy()
        for j in range(self.rows):
            h ^= values[:, j]
            h *= _C1
            h ^= h >> _S33
        h *= _C2
        h ^= h >> _S33
        return h

    def signature(self, key: str) -> np.ndarray:
        """The stored signature of `key` (a view: use it before the next insert)."""
        return self._store[self.keys[key]]

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of `rows`, in their order, as one array."""
        return self._store[rows]

    def _row(self) -> int:
        if self._free:
            return self._free.pop()
        row = len(self._names)
        self._names.append(None)
        if row == len(self._store):
            grown = np.zeros((max(64, row + row // 2), self.bands * self.rows), dtype=np.uint32)
            grown[:row] = self._store
            self._store = grown
            self._alive = np.concatenate([self._alive, np.zeros(len(grown) - row, dtype=bool)])
        return row

    def insert(self, key: str, values: Sequence[int] | np.ndarray) -> int:
        """Index `key` (again: its previous signature is dropped); returns its row."""
        if key in self.keys:
            self.remove(key)
        sig = np.asarray(values, dtype=np.uint32)
        row = self._row()
        stored = self._store[row]
        stored[:] = sig
        self.keys[key], self._names[row], self._alive[row] = row, key, True
        for h in self._band_hashes(stored).tolist():
            held = self._recent.get(h)
            if held is None:
                self._recent[h] = row
            elif isinstance(held, int):
                self._recent[h] = [held, row]
            else:
                held.append(row)
        self._recent_rows += 1
        if self._recent_rows >= self.merge_every:
            self._merge()
        return row

    def _merge(self) -> None:
        """The recent inserts into the sorted arrays, removed rows out of them; removed rows become reusable."""
        hashes: list[int] = []
        rows: list[int] = []
        for h, held in self._recent.items():
            if isinstance(held, int):
                hashes.append(h)
                rows.append(held)
            else:
                hashes.extend([h] * len(held))
                rows.extend(held)
        new_hashes = np.array(hashes, dtype=np.uint64)
        new_rows = np.array(rows, dtype=np.uint32)
        keep = self._alive[new_rows]
        new_hashes, new_rows = new_hashes[keep], new_rows[keep]
        order = np.argsort(new_hashes, kind="stable")
        new_hashes, new_rows = new_hashes[order], new_rows[order]
        keep = self._alive[self._hash_rows]
        old_hashes, old_rows = self._hashes[keep], self._hash_rows[keep]
        at = np.searchsorted(old_hashes, new_hashes)
        self._hashes, self._hash_rows = np.insert(old_hashes, at, new_hashes), np.insert(old_rows, at, new_rows)
        self._recent, self._recent_rows = {}, 0
        self._free.extend(self._removed)
        self._removed = []

    def query(self, values: Sequence[int] | np.ndarray) -> set[str]:
        query = np.asarray(values, dtype=np.uint32)
        hashes = self._band_hashes(query)
        rows: set[int] = set()
        if len(self._hashes):
            low = np.searchsorted(self._hashes, hashes, side="left")
            high = np.searchsorted(self._hashes, hashes, side="right")
            for i in np.flatnonzero(high > low).tolist():
                rows.update(self._hash_rows[low[i]:high[i]].tolist())
        for h in hashes.tolist():
            held = self._recent.get(h)
            if held is None:
                continue
            if isinstance(held, int):
                rows.add(held)
            else:
                rows.update(held)
        if not rows:
            return set()
        found = np.fromiter(rows, dtype=np.intp, count=len(rows))
        found = found[self._alive[found]]
        stored = self._store[found].reshape(len(found), self.bands, self.rows)
        equal = (stored == query.reshape(self.bands, self.rows)).all(axis=2).any(axis=1)  # a band really equal
        return {self._names[row] for row in found[equal].tolist()}  # alive rows have names

    def remove(self, key: str) -> None:
        row = self.keys.pop(key)
        self._names[row], self._alive[row] = None, False
        self._removed.append(row)


@dataclass(slots=True)
class _Entry:
    story_id: str  # the assignment's two strings, not the frozen model: ~400 bytes less an article
    duplicate_of: str | None
    fingerprint: str
    published_at: datetime
    lsh: BandIndex | None  # where its signature is (row `row`); None: no signature of the index's scheme
    row: int = -1
    seq: int = 0  # insertion order: the earlier of two equally similar articles wins, whatever the set order
    buckets: tuple[tuple[str, date], ...] = ()

    @property
    def signature(self) -> np.ndarray | None:
        """uint32 values, a view of its row in the index's store (use it before the next insert)."""
        return None if self.lsh is None else self.lsh._store[self.row]

    @property
    def assignment(self) -> StoryAssignment:
        return StoryAssignment(story_id=self.story_id, duplicate_of=self.duplicate_of)


def _better(best: tuple[str, float] | None, best_seq: int, similarity: float, seq: int) -> bool:
    """More similar wins; on a tie the earlier-inserted article does, whatever the candidate set's order."""
    return best is None or similarity > best[1] or similarity == best[1] and seq < best_seq


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoryIndex:
    """Article id -> assignment, fingerprint -> first article, LSH over signatures.

    Entries leave `window` after they were indexed (or, past `max_entries`, oldest first), so memory stays
    bounded. The clock is the stream's, not published_at: copies of an old article that arrive together (a
    backfill, pages out of date order) must still meet. A near match also needs the two publication times
    within `window`: a text republished months later is a new story."""

    window: timedelta = timedelta(days=30)
    max_entries: int = 100_000
    clock: Callable[[], datetime] = _now
    threshold: float = THRESHOLD
    second_threshold: float = SECOND_THRESHOLD
    second_days: int = SECOND_DAYS
    bands: int = BANDS
    rows: int = ROWS
    scheme: str = SCHEME  # the only signatures it holds and compares; others count as none (exact matching only)
    entries: dict[str, _Entry] = field(default_factory=dict)
    by_fingerprint: dict[str, str] = field(default_factory=dict)
    by_person_day: dict[tuple[str, date], _Bucket] = field(default_factory=dict)
    _expiry: list[tuple[datetime, int, str]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.lsh = BandIndex(self.bands, self.rows)

    def __len__(self) -> int:
        return len(self.entries)

    def near(self, values: Sequence[int], published_at: datetime | None = None,
             persons: Sequence[str] = (), scheme: str = SCHEME) -> tuple[str, float] | None:
        """The most similar indexed article at or above the threshold, published within the window of
        `published_at` (earliest-inserted wins ties); failing that, the second signal (module docstring).
        `scheme`: the signature's; one of another scheme (or parameters, or none) is matched exactly only."""
        if scheme != self.scheme or len(values) != self.bands * self.rows:
            return None
        query = np.asarray(values, dtype=np.uint32)
        best: tuple[str, float] | None = None
        best_seq = 0
        for key in self.lsh.query(query):
            entry = self.entries[key]
            if published_at is not None and abs(entry.published_at - published_at) > self.window:
                continue
            similarity = float(np.count_nonzero(entry.signature == query)) / len(query)
            if similarity >= self.threshold and _better(best, best_seq, similarity, entry.seq):
                best, best_seq = (key, similarity), entry.seq
        if best is not None or published_at is None:
            return best
        return self._second_signal(query, published_at, persons)

    def _second_signal(self, query: np.ndarray, published_at: datetime,
                       persons: Sequence[str]) -> tuple[str, float] | None:
        best: tuple[str, float] | None = None
        best_seq = 0
        day = published_at.date()
        for person in persons:
            for offset in range(-self.second_days, self.second_days + 1):
                bucket = self.by_person_day.get((person, day + timedelta(days=offset)))
                if bucket is None:
                    continue
                scores = bucket.similarities(query, self.lsh)
                for i in np.flatnonzero(scores >= self.second_threshold):
                    key, similarity = bucket.keys[i], float(scores[i])
                    entry = self.entries[key]
                    if (abs(entry.published_at - published_at) <= timedelta(days=self.second_days)
                            and _better(best, best_seq, similarity, entry.seq)):
                        best, best_seq = (key, similarity), entry.seq
        return best

    def remember(self, article_id: str, fingerprint: str, published_at: datetime, values: Sequence[int],
                 assignment: StoryAssignment, indexed_at: datetime | None = None, persons: Sequence[str] = (),
                 scheme: str = SCHEME) -> None:
        """`indexed_at`: when the article was first indexed (the warehouse's processed_at on a rebuild);
        `persons`: its lead persons (`lead_persons`), for the second signal; `scheme`: the signature's (one of
        another scheme is not kept: the article is then matched exactly only)."""
        if article_id in self.entries:
            return
        usable = scheme == self.scheme and valid_signature(values, self.bands * self.rows)
        row = self.lsh.insert(article_id, values) if usable else -1
        seq = next(self._seq)
        buckets = tuple((person, published_at.date()) for person in persons) if usable else ()
        self.entries[article_id] = _Entry(assignment.story_id, assignment.duplicate_of, fingerprint, published_at,
                                          self.lsh if usable else None, row, seq, buckets)
        self.by_fingerprint.setdefault(fingerprint, article_id)
        for bucket_key in buckets:  # empty without a signature
            self.by_person_day.setdefault(bucket_key, _Bucket()).add(article_id, row)
        heapq.heappush(self._expiry, (indexed_at or self.clock(), seq, article_id))
        self.evict()

    def evict(self) -> None:
        cutoff = self.clock() - self.window
        while self._expiry and (self._expiry[0][0] < cutoff or len(self.entries) > self.max_entries):
            _, _, article_id = heapq.heappop(self._expiry)
            entry = self.entries.pop(article_id)
            if self.by_fingerprint.get(entry.fingerprint) == article_id:
                del self.by_fingerprint[entry.fingerprint]
            if entry.lsh is not None:
                self.lsh.remove(article_id)
            for bucket_key in entry.buckets:
                bucket = self.by_person_day[bucket_key]
                bucket.remove(article_id)
                if not bucket.keys:
                    del self.by_person_day[bucket_key]


def assign_story(article: Article, values: Sequence[int], index: StoryIndex,
                 persons: Sequence[str] = (), scheme: str = SCHEME) -> StoryAssignment:
    """`persons`: the article's lead persons (`lead_persons` of its mentions), for the second signal; `scheme`: the
    signature's (`current_signature` turns one of another scheme into this one's)."""
    known = index.entries.get(article.article_id)
    if known is not None:
        if known.fingerprint != article.fingerprint and article.raw is not None and article.raw.replace:
            # `reprocess --from-archive` after a cleaning change: the new version replaces the stored one (the sink
            # deletes the old mentions and rebuilds the aggregates they were counted in).
            index.entries[article.article_id] = dataclasses.replace(known, fingerprint=article.fingerprint)
            index.by_fingerprint.setdefault(article.fingerprint, article.article_id)
            return known.assignment
        if known.fingerprint != article.fingerprint:
            # Replacing the text would leave the first version's mentions counted too (their rows have other
            # offsets), so the first version stays the article and a changed one is dropped with its reason.
            raise Rejected("changed copy", f"article {article.article_id} is stored with other text; "
                                           "the first version counts")
        return known.assignment
    match = index.by_fingerprint.get(article.fingerprint)
    if match is None:
        found = index.near(values, article.published_at, persons, scheme)
        match = found[0] if found else None
    if match is not None:
        assignment = StoryAssignment(story_id=index.entries[match].story_id, duplicate_of=match)
    else:
        assignment = StoryAssignment(story_id=article.article_id, duplicate_of=None)
    index.remember(article.article_id, article.fingerprint, article.published_at, values, assignment,
                   persons=persons, scheme=scheme)
    return assignment
