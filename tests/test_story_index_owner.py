"""The story index's owner on partition assignment, and the shared backoff loop, in process."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from datetime import UTC, datetime

import pytest

from schemas.records import StoryAssignment
from streams.pipeline.stages.stories import StoryIndex
from streams.runtime import backoff
from streams.runtime.backoff import retry
from streams.runtime.story_index_owner import StoryIndexOwner

TP = namedtuple("TP", "topic partition")
ENTITIES = TP("newsstream.entities", 0)
OTHERS = [TP("newsstream.raw-html", 0), TP("newsstream.cleaned", 1)]


class Loads:
    """Fills each new index with one article per load; fails the first `failures` times."""

    def __init__(self, failures: int = 0):
        self.failures, self.calls = failures, 0

    async def __call__(self, index: StoryIndex) -> tuple[int, int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("warehouse not up yet")
        index.remember(f"a{self.calls}", "fp", datetime(2024, 5, 1, tzinfo=UTC), [],
                       StoryAssignment(story_id="s", duplicate_of=None))
        return 1, 0


def owner(load: Loads) -> StoryIndexOwner:
    return StoryIndexOwner((ENTITIES.topic, 0), StoryIndex, load, retry_first=0.001, retry_cap=0.002)


async def settled(o: StoryIndexOwner) -> None:
    if o.rebuilding is not None:
        await asyncio.wait_for(asyncio.shield(o.rebuilding), 5)


def test_the_index_is_rebuilt_when_the_entities_partition_arrives():
    async def scenario():
        load = Loads()
        o = owner(load)
        o.on_assigned(OTHERS)
        assert not o.owns and not o.ready.is_set() and o.rebuilding is None and load.calls == 0
        o.on_assigned(OTHERS + [ENTITIES])
        assert o.owns and not o.ready.is_set()  # the stories stage waits until the rebuild is done
        await settled(o)
        assert o.ready.is_set() and set(o.index.entries) == {"a1"}

    asyncio.run(scenario())


def test_a_rebalance_that_keeps_the_partition_keeps_the_index():
    async def scenario():
        load = Loads()
        o = owner(load)
        o.on_assigned([ENTITIES])
        await settled(o)
        kept = o.index
        o.on_assigned([ENTITIES, *OTHERS])
        assert o.index is kept and o.ready.is_set() and load.calls == 1

    asyncio.run(scenario())


def test_when_the_partition_leaves_the_index_is_dropped_and_the_stage_waits():
    async def scenario():
        o = owner(Loads())
        o.on_assigned([ENTITIES])
        await settled(o)
        o.on_assigned(OTHERS)
        assert not o.owns and not o.ready.is_set() and o.index.entries == {}

    asyncio.run(scenario())


def test_a_rebuild_in_progress_is_cancelled_when_the_partition_leaves():
    async def scenario():
        gate = asyncio.Event()

        async def slow(index):
            await gate.wait()
            return 0, 0

        o = StoryIndexOwner((ENTITIES.topic, 0), StoryIndex, slow)
        o.on_assigned([ENTITIES])
        task = o.rebuilding
        await asyncio.sleep(0)
        o.on_assigned(OTHERS)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not o.ready.is_set()

    asyncio.run(scenario())


def test_a_failed_rebuild_is_retried_until_it_works():
    async def scenario():
        load = Loads(failures=2)
        o = owner(load)
        o.on_assigned([ENTITIES])
        await settled(o)
        assert load.calls == 3 and o.ready.is_set() and set(o.index.entries) == {"a3"}  # no half-filled index

    asyncio.run(scenario())


# -- the one backoff loop ----------------------------------------------------------------------------------------


@pytest.fixture
def waits(monkeypatch):
    seen: list[float] = []

    async def sleep(seconds):
        seen.append(seconds)

    monkeypatch.setattr(backoff.asyncio, "sleep", sleep)
    return seen


def failing(times: int, exc: Exception | None = None):
    calls = []

    async def attempt():
        calls.append(1)
        if len(calls) <= times:
            raise exc or ConnectionError("down")
        return len(calls)

    return attempt, calls


def test_backoff_doubles_to_the_cap_and_reports_each_retry(waits):
    attempt, _ = failing(5)
    retried = []
    assert asyncio.run(retry(attempt, first=1, cap=5, on_retry=lambda e, n, w: retried.append((n, w)))) == 6
    assert waits == [1, 2, 4, 5, 5]
    assert retried == [(1, 1), (2, 2), (3, 4), (4, 5), (5, 5)]


def test_bounded_retries_raise_the_last_error(waits):
    attempt, calls = failing(10)
    with pytest.raises(ConnectionError):
        asyncio.run(retry(attempt, first=1, cap=2, retries=3))
    assert len(calls) == 4 and len(waits) == 3


def test_an_error_that_is_not_retryable_is_raised_at_once(waits):
    attempt, calls = failing(1, ValueError("bad row"))
    with pytest.raises(ValueError):
        asyncio.run(retry(attempt, first=1, cap=2, retryable=lambda e: isinstance(e, ConnectionError)))
    assert len(calls) == 1 and waits == []
