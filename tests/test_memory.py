"""Memory bounds of per-article state (issue 18: a worker under 500 MiB through 20,000 pages) and the worker's
allocation trace switch. Figures of whole runs are benchmarks/memory.py's, not assertions here."""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from schemas.records import StoryAssignment
from streams.pipeline.stages.stories import NUM_PERM, StoryIndex


def _fill(index: StoryIndex, n: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    for i in range(n):
        article_id = hashlib.sha256(str(i).encode()).hexdigest()
        index.remember(article_id, hashlib.sha1(article_id.encode()).hexdigest(), now,
                       rng.integers(0, 1 << 32, NUM_PERM, dtype=np.uint32),
                       StoryAssignment(story_id=article_id, duplicate_of=None),
                       persons=[f"person-{i % 97}", f"person-{i % 89}"])


def test_story_index_holds_an_article_in_under_4_kib():
    # An empty set per LSH band per article made it ~16 KB an article (10 KB of it those sets): 240 MB of a worker's
    # memory for 15,000 articles; one object per band after that, ~8.4 KB (this test on 111e212). Now bands are
    # hashes in sorted arrays, person buckets hold rows, not copies: ~3 KB at 3,000 articles (benchmarks/RESULTS.md).
    n = 3000
    gc.collect()
    tracemalloc.start()
    try:
        index = StoryIndex(window=timedelta(days=30))
        _fill(index, n)
        gc.collect()
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index) == n
    assert used / n < 4 * 1024, f"{used / n:.0f} bytes per article"


def test_story_index_releases_what_evicted_articles_held():
    index = StoryIndex(window=timedelta(days=30), max_entries=500)
    index.lsh.merge_every = 256
    _fill(index, 2000)
    assert len(index) == 500
    assert len(index.lsh.keys) == 500
    lsh = index.lsh
    # Merged band hashes refer to live rows and rows removed since the last merge (dropped at the next), never to a
    # row free for reuse; the rest wait in the recent inserts (fewer than merge_every articles' bands), and rows are
    # reused: the store does not grow past what the live articles and one merge interval need.
    live = set(index.lsh.keys.values())
    assert set(lsh._hash_rows.tolist()) <= live | set(lsh._removed) and not live & set(lsh._free)
    assert len(lsh._removed) <= lsh.merge_every
    assert len(lsh._hashes) <= (500 + lsh.merge_every) * lsh.bands
    assert lsh._recent_rows < lsh.merge_every
    assert len(lsh._names) <= 500 + 2 * lsh.merge_every
    assert {name for name in lsh._names if name is not None} == set(index.entries)
    for article_id, entry in index.entries.items():
        assert article_id in lsh.query(entry.signature)


def test_memory_trace_appends_the_lines_that_grew_with_the_resident_set(tmp_path):
    from streams.runtime.memory_trace import MemoryTrace

    out = tmp_path / "trace.txt"
    trace = MemoryTrace(out, seconds=3600)
    trace.start()
    try:
        grown = [bytes(1000) + str(i).encode() for i in range(5000)]  # ~5 MB from this line
        trace.write_diff()
    finally:
        tracemalloc.stop()
    text = out.read_text()
    assert text.startswith("== trace started") and "RssAnon" in text and "RssFile" in text
    diff = text.split("\n== ", 1)[1].splitlines()  # after the start line: one diff, its header first
    assert "test_memory.py" in diff[1], text[:2000]  # the line that grew most comes first
    assert len(grown) == 5000


def test_a_memory_trace_path_that_cannot_be_written_is_one_user_error(tmp_path):
    from streams.errors import UserError
    from streams.runtime.memory_trace import MemoryTrace

    with pytest.raises(UserError, match="NEWSSTREAM_MEMORY_TRACE=.*cannot write"):
        MemoryTrace(tmp_path / "no-such-dir" / "trace.txt", seconds=60).start()
    assert not tracemalloc.is_tracing()


def test_a_memory_trace_on_a_full_disk_is_one_user_error_at_start():
    """/dev/full opens fine: only a write fails, so the worker started and printed tracebacks at the first diff."""
    from pathlib import Path

    from streams.errors import UserError
    from streams.runtime.memory_trace import MemoryTrace

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with pytest.raises(UserError, match="NEWSSTREAM_MEMORY_TRACE=/dev/full: cannot write there"):
        MemoryTrace(Path("/dev/full"), seconds=60).start()
    assert not tracemalloc.is_tracing()
