"""The warehouse sink as a service of the Faust app: started and stopped with the worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import mode

from streams.warehouse.sink import WarehouseSink

log = logging.getLogger("newsstream")


class SinkService(mode.Service):
    """Runs the warehouse sink with the app; on stop, the batch in hand is written and committed first.

    Started as a dependency of the app (with it, not after the stages' group join and recovery), so the sink's
    own group join and `warm()` (opening the warehouse: chDB and its migrations) overlap the stages' join."""

    def __init__(self, sink: WarehouseSink, warm: Callable[[], Awaitable[Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink = sink
        self.warm = warm

    async def on_start(self) -> None:
        if self.warm is not None:
            asyncio.ensure_future(self._warm(self.warm))
        self._task = asyncio.ensure_future(self.sink.run())
        self._task.add_done_callback(self._ended)

    async def _warm(self, warm: Callable[[], Awaitable[Any]]) -> None:
        try:
            await warm()
        except Exception as exc:  # the first write or query opens it again and reports what is wrong
            log.warning("opening the warehouse at start failed (%s: %s)", type(exc).__name__, exc)

    def _ended(self, task: asyncio.Task) -> None:
        """A sink that gave up (warehouse down past its retries) crashes the worker: no silent half-worker."""
        error = None if task.cancelled() else task.exception()
        if error is not None and not self.sink._stopping.is_set():
            asyncio.ensure_future(self.crash(error))

    async def on_stop(self) -> None:
        self.sink.stop()
        try:
            await asyncio.wait_for(self._task, timeout=60)
        except (TimeoutError, Exception):
            log.exception("warehouse sink did not stop cleanly; unwritten messages will be re-delivered")
