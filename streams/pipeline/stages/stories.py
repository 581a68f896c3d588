"""Stories stage: article -> story id, grouping copies of one article.

Exact duplicates: the same canonical URL (a re-delivery: same article id, same answer as the first time)
or the same normalized body on another URL. Near duplicates: MinHash over word shingles of the normalized
text, looked up in an LSH index (banding, as datasketch's MinHashLSH); a candidate counts when its estimated
`THRESHOLD`. The signature is computed upstream (`signature`, in the parallel entities stage); this stage only
looks up and inserts, so it stays cheap in its single partition. Parameters are chosen by benchmarks/dedup.py.
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
from hashlib import sha1
from operator import methodcaller

import numpy as np

from schemas.records import Article, Mention, StoryAssignment
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
SEED = 1  # fixed: signatures made by any worker, any day, must compare
SCHEME = "affine32"  # datasketch's default; hash values fit in UInt32


def _words(text: str, normalized: str | None = None) -> list[str]:
    """fingerprint_text's words; `normalized`: normalize(text) when the caller already has it."""
    return _WORD.findall(normalize(text) if normalized is None else normalized)


_WORD = re.compile(r"\w+")  # the words fingerprint_text keeps: the runs between its [^\w]+ separators


def shingles(text: str, size: int = SHINGLE_WORDS, normalized: str | None = None) -> set[bytes]:
    """Word n-grams of the normalized text (Arabic letter variants, diacritics and punctuation folded)."""
    words = _words(text, normalized)
    if len(words) <= size:
        return {" ".join(words).encode()}
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch MinHash's affine32 permutations for `SEED` (its `_init_permutations`), drawn the same way here:
    importing datasketch imports scipy (1.1-1.7 s at every start). Equal values: tests/test_stories.py."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERMUTATIONS = {NUM_PERM: _permutations(NUM_PERM)}


_DIGEST = methodcaller("digest")


def _fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch's affine32 scheme applies it before the permutations."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def signature(text: str, num_perm: int = NUM_PERM, shingle_words: int = SHINGLE_WORDS,
              normalized: str | None = None) -> list[int]:
    """datasketch's MinHash (affine32, sha1_hash32 of each shingle) of the shingles, computed here in a few
    array operations: datasketch's per-shingle Python calls and per-MinHash set-up were most of the step's
    signature cost. Equal to datasketch's values (tests/test_entities_speed.py); `normalized`: normalize(text)."""
    if num_perm not in _PERMUTATIONS:
        _PERMUTATIONS[num_perm] = _permutations(num_perm)
    a, b = _PERMUTATIONS[num_perm]
    words = _words(text, normalized)
    size = shingle_words
    if len(words) <= size:
        grams = [" ".join(words)]
    elif size == 3:
        grams = [f"{x} {y} {z}" for x, y, z in zip(words, words[1:], words[2:], strict=False)]
    else:
        grams = [" ".join(words[i:i + size]) for i in range(len(words) - size + 1)]
    # A repeated shingle changes no minimum: no set needed. sha1_hash32 = the digest's first 4 bytes, little-endian.
    digests = b"".join([d[:4] for d in map(_DIGEST, map(sha1, map(str.encode, grams)))])
    hv = _fmix32(np.frombuffer(digests, dtype="<u4").astype(np.uint32))
    return (hv[:, None] * a + b).min(axis=0).tolist()


def lead_persons(mentions: Sequence[Mention], n: int = LEAD_PERSONS) -> tuple[str, ...]:
    """The persons an article names most (earlier first on ties): a rewrite changes words, not whom it is about."""
    counts = Counter(m.actor_id for m in mentions if m.type == "person")
    first: dict[str, int] = {}
    for m in mentions:
        first.setdefault(m.actor_id, m.start)
    return tuple(sorted(counts, key=lambda a: (-counts[a], first[a]))[:n])


class _Bucket:
    """Signatures of the articles naming one person on one day, as rows of one array: a lookup is one comparison."""

    __slots__ = ("keys", "rows")

    def __init__(self, width: int):
        self.keys: list[str] = []
        self.rows = np.empty((1, width), dtype=np.uint32)

    def add(self, key: str, sig: np.ndarray) -> None:
        if len(self.keys) == len(self.rows):
            self.rows = np.concatenate([self.rows, np.empty_like(self.rows)])
        self.rows[len(self.keys)] = sig
        self.keys.append(key)

    def remove(self, key: str) -> None:
        i, last = self.keys.index(key), len(self.keys) - 1
        self.rows[i], self.keys[i] = self.rows[last], self.keys[last]
        self.keys.pop()

    def similarities(self, query: np.ndarray) -> np.ndarray:
        return np.count_nonzero(self.rows[:len(self.keys)] == query, axis=1) / len(query)


class BandIndex:
    """LSH by banding, as datasketch's MinHashLSH with explicit `params=(bands, rows)`: a key is a candidate when one
    band (`rows` consecutive values) of its signature equals the query's. Written here because that is one dict per
    band, while importing datasketch imports scipy for a parameter optimizer these fixed parameters never call
    (1.1-1.7 s at every start). Same candidates as datasketch (tests/test_stories.py)."""

    def __init__(self, bands: int, rows: int):
        self.bands, self.rows = bands, rows
        self.tables: list[dict[bytes, set[str]]] = [{} for _ in range(bands)]
        self.keys: dict[str, list[bytes]] = {}

    def _bands(self, values: Sequence[int] | np.ndarray) -> list[bytes]:
        raw = np.asarray(values, dtype=np.uint32).tobytes()
        width = 4 * self.rows
        return [raw[i * width:(i + 1) * width] for i in range(self.bands)]

    def insert(self, key: str, values: Sequence[int] | np.ndarray) -> None:
        bands = self.keys[key] = self._bands(values)
        for table, band in zip(self.tables, bands, strict=True):
            table.setdefault(band, set()).add(key)

    def query(self, values: Sequence[int] | np.ndarray) -> set[str]:
        found: set[str] = set()
        for table, band in zip(self.tables, self._bands(values), strict=True):
            found.update(table.get(band, ()))
        return found

    def remove(self, key: str) -> None:
        for table, band in zip(self.tables, self.keys.pop(key), strict=True):
            keys = table[band]
            keys.discard(key)
            if not keys:
                del table[band]


@dataclass
class _Entry:
    assignment: StoryAssignment
    fingerprint: str
    published_at: datetime
    signature: np.ndarray | None  # uint32: half the memory of datasketch's uint64
    seq: int = 0  # insertion order: the earlier of two equally similar articles wins, whatever the set order
    buckets: tuple[tuple[str, date], ...] = ()


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
             persons: Sequence[str] = ()) -> tuple[str, float] | None:
        """The most similar indexed article at or above the threshold, published within the window of
        `published_at` (earliest-inserted wins ties); failing that, the second signal (module docstring)."""
        if len(values) != self.bands * self.rows:
            return None  # a signature of other parameters (or none): exact matching only
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
                scores = bucket.similarities(query)
                for i in np.flatnonzero(scores >= self.second_threshold):
                    key, similarity = bucket.keys[i], float(scores[i])
                    entry = self.entries[key]
                    if (abs(entry.published_at - published_at) <= timedelta(days=self.second_days)
                            and _better(best, best_seq, similarity, entry.seq)):
                        best, best_seq = (key, similarity), entry.seq
        return best

    def remember(self, article_id: str, fingerprint: str, published_at: datetime, values: Sequence[int],
                 assignment: StoryAssignment, indexed_at: datetime | None = None, persons: Sequence[str] = ()) -> None:
        """`indexed_at`: when the article was first indexed (the warehouse's processed_at on a rebuild);
        `persons`: its lead persons (`lead_persons`), for the second signal."""
        if article_id in self.entries:
            return
        sig = np.asarray(values, dtype=np.uint32) if len(values) == self.bands * self.rows else None
        seq = next(self._seq)
        buckets = tuple((person, published_at.date()) for person in persons) if sig is not None else ()
        self.entries[article_id] = _Entry(assignment, fingerprint, published_at, sig, seq, buckets)
        self.by_fingerprint.setdefault(fingerprint, article_id)
        if sig is not None:  # buckets is empty without a signature
            self.lsh.insert(article_id, sig)
            for bucket_key in buckets:
                self.by_person_day.setdefault(bucket_key, _Bucket(len(sig))).add(article_id, sig)
        heapq.heappush(self._expiry, (indexed_at or self.clock(), seq, article_id))
        self.evict()

    def evict(self) -> None:
        cutoff = self.clock() - self.window
        while self._expiry and (self._expiry[0][0] < cutoff or len(self.entries) > self.max_entries):
            _, _, article_id = heapq.heappop(self._expiry)
            entry = self.entries.pop(article_id)
            if self.by_fingerprint.get(entry.fingerprint) == article_id:
                del self.by_fingerprint[entry.fingerprint]
            if entry.signature is not None:
                self.lsh.remove(article_id)
            for bucket_key in entry.buckets:
                bucket = self.by_person_day[bucket_key]
                bucket.remove(article_id)
                if not bucket.keys:
                    del self.by_person_day[bucket_key]


def assign_story(article: Article, values: Sequence[int], index: StoryIndex,
                 persons: Sequence[str] = ()) -> StoryAssignment:
    """`persons`: the article's lead persons (`lead_persons` of its mentions), for the second signal."""
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
        found = index.near(values, article.published_at, persons)
        match = found[0] if found else None
    if match is not None:
        assignment = StoryAssignment(story_id=index.entries[match].assignment.story_id, duplicate_of=match)
    else:
        assignment = StoryAssignment(story_id=article.article_id, duplicate_of=None)
    index.remember(article.article_id, article.fingerprint, article.published_at, values, assignment,
                   persons=persons)
    return assignment
