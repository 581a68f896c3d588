"""Pins at the edges of the sink's batch deadline, the story index (second signal, eviction, signatures of other
shingle sizes) and machine time stamps (written against mutmut survivors; each test names the behaviour)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pytest

from schemas.records import StoryAssignment
from streams.pipeline.stages.dates import parse_stamp
from streams.pipeline.stages.stories import BANDS, NUM_PERM, ROWS, StoryIndex, signature
from streams.settings import Settings
from streams.warehouse import sink as sink_module
from streams.warehouse.sink import WarehouseSink
from tests.minhash_reference import reference_signature

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# --- the sink's batch deadline -----------------------------------------------------------------------------


class _Endless:
    """Always has one more record: only the deadline (or a full batch) ends a batch."""

    def __init__(self):
        self.polls = []

    async def getmany(self, timeout_ms, max_records):
        self.polls.append((timeout_ms, max_records))
        return {("t", 0): [f"m{len(self.polls)}"]}


def test_a_batch_ends_exactly_at_its_flush_deadline_counted_from_the_previous_write(monkeypatch):
    ticks = iter([0.25, 1.0])  # previous write started at 0 (deadline 1.0); a second poll at 0.25, then the deadline
    monkeypatch.setattr(sink_module, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    s = Settings(_env_file=None, sink_batch_size=10, sink_flush_seconds=1.0)
    sink = WarehouseSink(s, "kafka://unused:1", lambda rows: None)
    sink.consumer = consumer = _Endless()
    sink._last_write = 0.0
    batch = asyncio.run(asyncio.wait_for(sink._next_batch(), 5))
    assert batch == ["m1", "m2"]
    assert consumer.polls == [(500, 10), (750, 9)]  # idle poll min(0.5 s, flush), then what is left until the deadline


def test_the_first_message_after_a_pause_is_not_held_back(monkeypatch):
    """A whole flush interval since the previous write: what the first poll got is written at once (freshness)."""
    monkeypatch.setattr(sink_module, "time", SimpleNamespace(monotonic=lambda: 100.0))
    s = Settings(_env_file=None, sink_batch_size=10, sink_flush_seconds=1.0)
    sink = WarehouseSink(s, "kafka://unused:1", lambda rows: None)
    sink.consumer = consumer = _Endless()
    sink._last_write = 98.5
    assert asyncio.run(asyncio.wait_for(sink._next_batch(), 5)) == ["m1"]
    assert consumer.polls == [(500, 10)]
    sink._last_write = 99.5  # the previous write started half an interval ago: wait for the rest of it
    ticks = iter([100.0, 100.5])
    monkeypatch.setattr(sink_module, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    consumer.polls.clear()
    assert asyncio.run(asyncio.wait_for(sink._next_batch(), 5)) == ["m1", "m2"]
    assert consumer.polls == [(500, 10), (500, 9)]


def test_a_write_is_stamped_when_it_starts(monkeypatch):
    """run() records when each write starts: the next batch's deadline counts from there."""
    started = []

    class Once:
        def __init__(self):
            self.sent = False

        async def start(self):
            pass

        async def stop(self):
            pass

        async def commit(self):
            sink.stop()

        async def getmany(self, timeout_ms, max_records):
            if self.sent:
                return {}
            self.sent = True
            return {("t", 0): ["m"]}

    s = Settings(_env_file=None, sink_batch_size=10, sink_flush_seconds=1.0)
    sink = WarehouseSink(s, "kafka://unused:1", lambda rows: None)
    monkeypatch.setattr(sink, "_consumer", Once)

    async def flush(batch):
        started.append(sink._last_write)

    monkeypatch.setattr(sink, "flush", flush)
    before = sink_module.time.monotonic()
    asyncio.run(asyncio.wait_for(sink.run(), 5))
    assert len(started) == 1 and before <= started[0] <= sink_module.time.monotonic()


# --- the story index -----------------------------------------------------------------------------------------

ASSIGNED = StoryAssignment(story_id="a", duplicate_of=None)


def _stored() -> list[int]:
    return list(range(NUM_PERM))


def _query(matches_per_band: list[int]) -> list[int]:
    """A signature equal to _stored() at the first k positions of each band (k < ROWS: no LSH band in common)."""
    values = [v + 10_000 for v in _stored()]
    for band, k in enumerate(matches_per_band):
        for r in range(k):
            values[band * ROWS + r] = band * ROWS + r
    return values


HALF = _query([2] * (BANDS // 2) + [1] * (BANDS - BANDS // 2))  # 63 of 126 values equal: similarity 0.5
TWO_THIRDS = _query([2] * BANDS)


def test_crafted_signatures_share_no_band():
    assert ROWS >= 3 and BANDS % 2 == 0
    index = StoryIndex()
    index.remember("a", "fa", T0, _stored(), ASSIGNED, persons=("p",))
    assert index.lsh.query(np.asarray(HALF, dtype=np.uint32)) == set()


def test_the_second_signal_takes_a_similarity_exactly_at_its_threshold():
    index = StoryIndex(second_threshold=0.5)
    index.remember("a", "fa", T0, _stored(), ASSIGNED, persons=("p",))
    assert index.near(HALF, T0, persons=("p",)) == ("a", 0.5)
    assert index.near(HALF, T0, persons=("q",)) is None  # another lead person


def test_the_second_signal_reaches_exactly_its_day_window():
    index = StoryIndex(second_days=1)
    index.remember("a", "fa", T0, _stored(), ASSIGNED, persons=("p",))
    assert index.near(TWO_THIRDS, T0 + timedelta(days=1), persons=("p",)) == ("a", 2 / 3)
    assert index.near(TWO_THIRDS, T0 - timedelta(days=1), persons=("p",)) == ("a", 2 / 3)
    assert index.near(TWO_THIRDS, T0 + timedelta(days=1, seconds=1), persons=("p",)) is None


def test_an_entry_indexed_exactly_one_window_ago_is_kept():
    index = StoryIndex(window=timedelta(days=30), clock=lambda: T0)
    index.remember("a", "fa", T0, _stored(), ASSIGNED, indexed_at=T0 - timedelta(days=30))
    index.remember("b", "fb", T0, _stored(), ASSIGNED, indexed_at=T0 - timedelta(days=30, microseconds=1))
    assert set(index.entries) == {"a"}


TEXT = "وزير الخارجية الروسي يحذر الغرب من تثبيط عزيمة المعارضة في محادثات جنيف المقبلة"


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("width", [NUM_PERM, 32])
def test_signature_of_any_shingle_size_equals_the_plain_scheme(size, width):
    assert signature(TEXT, num_perm=width, shingle_words=size) == reference_signature(TEXT, width, size)


def test_a_width_never_asked_before_gets_its_own_bins():
    from streams.pipeline.stages import stories

    asked = stories._bins.cache_info().currsize
    width = 1000 + asked  # not cached by an earlier call
    assert signature(TEXT, num_perm=width) == reference_signature(TEXT, width)
    assert stories._bins.cache_info().currsize == asked + 1


def test_a_text_no_longer_than_the_shingle_is_one_shingle():
    for words in ("", "واحد", "واحد اثنان اثنان"):
        assert signature(words) == reference_signature(words)
        assert len(set(signature(words))) == 1  # one shingle: every bin copies the one filled bin
    assert signature("واحد اثنان ثلاثة") != signature("اثنان واحد ثلاثة")  # word order counts


def test_a_signature_needs_a_width_and_a_shingle_size():
    for width, size in ((0, 3), (NUM_PERM, 0)):
        with pytest.raises(ValueError, match="num_perm >= 1 and shingle_words >= 1"):
            signature(TEXT, num_perm=width, shingle_words=size)


# --- machine time stamps -------------------------------------------------------------------------------------

def test_a_stamp_of_64_characters_is_read_and_a_longer_one_is_not():
    day, clock = "2024-01-02", "03:04:05"
    at_limit = day + " " * (64 - len(day) - len(clock)) + clock
    assert len(at_limit) == 64
    assert parse_stamp(at_limit) == datetime(2024, 1, 2, 3, 4, 5)
    assert parse_stamp(day + " " + at_limit[len(day):]) is None  # 65 characters


def test_a_stamp_offset_of_14_hours_is_possible_and_beyond_is_not():
    assert parse_stamp("2024-01-02T03:04:05+14:00") == datetime(2024, 1, 2, 3, 4, 5,
                                                                tzinfo=timezone(timedelta(hours=14)))
    assert parse_stamp("2024-01-02T03:04:05+14:30") is None
    assert parse_stamp("2024-01-02T03:04:05-14:01") is None


# --- English candidates after a title ------------------------------------------------------------------------

def test_a_trailing_particle_is_not_part_of_an_english_candidate():
    from streams.pipeline.stages.candidates import find_candidates

    found = find_candidates("President Emmanuel Macron de visits Cairo.", [])
    assert [(m.surface, m.start) for m in found] == [("Emmanuel Macron", 10)]
    found = find_candidates("Minister Ahmed Saleh bin said so.", [])
    assert [m.surface for m in found] == ["Ahmed Saleh"]


# --- Arabic candidates after a title -------------------------------------------------------------------------

def _surfaces(text: str) -> list[str]:
    from streams.pipeline.stages.candidates import find_candidates

    return [m.surface for m in find_candidates(text, [])]


def test_a_name_right_after_the_title_is_read_from_its_first_word():
    assert _surfaces("وصل نظيره وليد المعلم في المساء") == ["وليد المعلم"]


def test_a_place_after_lada_is_skipped_before_the_name():
    assert _surfaces("التقى السفير لدى مصر أحمد حسن في القاهرة") == ["أحمد حسن"]


def test_a_title_and_modifier_at_the_text_end_name_no_one():
    assert _surfaces("التقى المبعوث الأممي") == []


def test_an_appositive_comma_between_title_and_name_is_skipped():
    assert _surfaces("وصل نظيره، وليد المعلم في المساء") == ["وليد المعلم"]
    assert _surfaces("وصل نظيره - وليد المعلم في المساء") == ["وليد المعلم"]


def test_a_name_does_not_start_with_the_article():
    assert _surfaces("وصل نظيره الملاكم وليد سعيد في المساء") == []


def test_every_later_use_of_the_surname_counts():
    text = "وصل نظيره جان لودريان في المساء. وقال لودريان إن. وأضاف لودريان أن. ثم غادر لودريان"
    assert _surfaces(text) == ["جان لودريان", "لودريان", "لودريان", "لودريان"]
