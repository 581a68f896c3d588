"""Stories stage: article -> story id, grouping copies of one article.

Exact duplicates: the same canonical URL (a re-delivery: same article id, same answer as the first time)
or the same normalized body on another URL. Near duplicates: MinHash over word shingles of the normalized
text, looked up in an LSH index (datasketch); a candidate counts when its estimated Jaccard similarity reaches
`THRESHOLD`. The signature is computed upstream (`signature`, in the parallel entities stage); this stage only
looks up and inserts, so it stays cheap in its single partition. Parameters are chosen by benchmarks/dedup.py.
The index is explicit state passed in, so the assignment stays a pure function of it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from schemas.records import Article, StoryAssignment
from streams.arabic import fingerprint_text
from streams.stages import Rejected

# Chosen from the labeled pairs (benchmarks/dedup.py prints the sweep these come from).
SHINGLE_WORDS = 3
BANDS, ROWS = 42, 3
NUM_PERM = BANDS * ROWS
THRESHOLD = 0.2
SEED = 1  # fixed: signatures made by any worker, any day, must compare
SCHEME = "affine32"  # datasketch's default; hash values fit in UInt32


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Word n-grams of the normalized text (Arabic letter variants, diacritics and punctuation folded)."""
    words = fingerprint_text(text).split()
    if len(words) <= size:
        return {" ".join(words).encode()}
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


def signature(text: str, num_perm: int = NUM_PERM, shingle_words: int = SHINGLE_WORDS) -> list[int]:
    minhash = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)
    minhash.update_batch(shingles(text, shingle_words))
    return minhash.hashvalues.tolist()


def _lean(values: Sequence[int] | np.ndarray) -> LeanMinHash:
    return LeanMinHash(seed=SEED, hashvalues=np.asarray(values, dtype=np.uint64), scheme=SCHEME)


@dataclass
class _Entry:
    assignment: StoryAssignment
    fingerprint: str
    published_at: datetime
    signature: np.ndarray | None  # uint32: half the memory of datasketch's uint64
    seq: int = 0  # insertion order: the earlier of two equally similar articles wins, whatever the set order


def _now() -> datetime:
    return datetime.now(timezone.utc)


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
    bands: int = BANDS
    rows: int = ROWS
    entries: dict[str, _Entry] = field(default_factory=dict)
    by_fingerprint: dict[str, str] = field(default_factory=dict)
    _expiry: list[tuple[datetime, int, str]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.lsh = MinHashLSH(num_perm=self.bands * self.rows, params=(self.bands, self.rows))

    def __len__(self) -> int:
        return len(self.entries)

    def near(self, values: Sequence[int], published_at: datetime | None = None) -> tuple[str, float] | None:
        """The most similar indexed article at or above the threshold, published within the window of
        `published_at` (earliest-inserted wins ties)."""
        if len(values) != self.bands * self.rows:
            return None  # a signature of other parameters (or none): exact matching only
        query = np.asarray(values, dtype=np.uint32)
        best: tuple[str, float] | None = None
        best_seq = 0
        for key in self.lsh.query(_lean(query)):
            entry = self.entries[key]
            if published_at is not None and abs(entry.published_at - published_at) > self.window:
                continue
            similarity = float(np.count_nonzero(entry.signature == query)) / len(query)
            if similarity < self.threshold:
                continue
            if best is None or similarity > best[1] or similarity == best[1] and entry.seq < best_seq:
                best, best_seq = (key, similarity), entry.seq
        return best

    def remember(self, article_id: str, fingerprint: str, published_at: datetime, values: Sequence[int],
                 assignment: StoryAssignment, indexed_at: datetime | None = None) -> None:
        """`indexed_at`: when the article was first indexed (the warehouse's processed_at on a rebuild)."""
        if article_id in self.entries:
            return
        sig = np.asarray(values, dtype=np.uint32) if len(values) == self.bands * self.rows else None
        seq = next(self._seq)
        self.entries[article_id] = _Entry(assignment, fingerprint, published_at, sig, seq)
        self.by_fingerprint.setdefault(fingerprint, article_id)
        if sig is not None:
            self.lsh.insert(article_id, _lean(sig), check_duplication=False)
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


def assign_story(article: Article, values: Sequence[int], index: StoryIndex) -> StoryAssignment:
    known = index.entries.get(article.article_id)
    if known is not None:
        if known.fingerprint != article.fingerprint:
            # Replacing the text would leave the first version's mentions counted too (their rows have other
            # offsets), so the first version stays the article and a changed one is dropped with its reason.
            raise Rejected("changed copy", f"article {article.article_id} is stored with other text; "
                                           "the first version counts")
        return known.assignment
    match = index.by_fingerprint.get(article.fingerprint)
    if match is None:
        found = index.near(values, article.published_at)
        match = found[0] if found else None
    if match is not None:
        assignment = StoryAssignment(story_id=index.entries[match].assignment.story_id, duplicate_of=match)
    else:
        assignment = StoryAssignment(story_id=article.article_id, duplicate_of=None)
    index.remember(article.article_id, article.fingerprint, article.published_at, values, assignment)
    return assignment
