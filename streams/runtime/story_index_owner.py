"""The story index's one home: the worker assigned the single `entities` partition holds it.

When that partition lands here (start, or its previous owner died) the index is rebuilt from the warehouse and the
`stories` records the sink has not written yet (streams/runtime/story_index_loader.py), and the stories stage
waits on `ready` until then; when it leaves, the index is dropped (its memory freed) and `ready` cleared.
Kept across a rebalance that leaves the partition here: the index in memory already holds every answer given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from streams.pipeline.stages.stories import StoryIndex
from streams.runtime.backoff import retry

log = logging.getLogger("newsstream")

Load = Callable[[StoryIndex], Awaitable[tuple[int, int]]]
"""`await load(index)` fills an empty index: (articles from the warehouse, articles from unsunk stories)."""


class StoryIndexOwner:
    def __init__(self, partition: tuple[str, int], new_index: Callable[[], StoryIndex], load: Load,
                 retry_first: float = 1.0, retry_cap: float = 5.0):
        self.partition = partition
        self.new_index = new_index
        self.load = load
        self.retry_first, self.retry_cap = retry_first, retry_cap
        self.index = new_index()
        self.ready = asyncio.Event()
        self.owns = False
        self.rebuilding: asyncio.Task | None = None

    def on_assigned(self, assigned: Iterable[Any]) -> None:
        """Faust's `on_partitions_assigned` (TopicPartitions): rebuild when the partition arrived, drop when it left."""
        owns = any((tp.topic, tp.partition) == self.partition for tp in assigned)
        if owns and self.owns:
            return
        self.owns = owns
        if self.rebuilding is not None:
            self.rebuilding.cancel()
            self.rebuilding = None
        self.ready.clear()
        self.index = self.new_index()  # not ours (any more), or about to be rebuilt: free the memory
        if owns:
            self.rebuilding = asyncio.ensure_future(self.rebuild())

    async def rebuild(self) -> None:
        """Load a fresh index, retrying with backoff until it works (the warehouse may still be starting)."""
        async def attempt() -> tuple[StoryIndex, int, int]:
            index = self.new_index()
            loaded, added = await self.load(index)
            return index, loaded, added

        def failed(exc: Exception, number: int, wait: float) -> None:
            log.error("story index rebuild failed; retrying in %.0fs", wait, exc_info=exc)

        index, loaded, added = await retry(attempt, first=self.retry_first, cap=self.retry_cap, on_retry=failed)
        self.index = index
        log.info("story index: %d articles from the warehouse, %d from unsunk stories records", loaded, added)
        self.ready.set()
