"""The one thread that owns a worker's warehouse client, able to start opening it before the worker's heavy imports.

chDB is single-process and its calls block, so one thread holds the client and every warehouse call runs there.
Opening it starts chDB's engine and applies the pending migrations (about a second of CPU on a fresh directory);
`open_early()` queues that at once, so it overlaps the worker's imports and group joins instead of following them
(the story index cannot be rebuilt, and the worker is not ready, before the warehouse answers).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from streams.warehouse.client import Warehouse, connect

if TYPE_CHECKING:
    from streams.settings import Settings


def holds_warehouse(settings: Settings) -> bool:
    """This worker opens the warehouse itself: it is the sink, or the warehouse is a server."""
    return settings.run_sink or not settings.embedded_warehouse


class WarehouseThread:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._opening: Future[Warehouse] | None = None
        self._warehouse: Warehouse | None = None

    def open_early(self) -> WarehouseThread:
        """Queue the opening now; the first call in the thread takes its result (or its error, then opens afresh
        at the next call, as an opening that fails at first use would)."""
        self._opening = self.executor.submit(connect, self.settings, role="holder")
        return self

    def warehouse(self) -> Warehouse:
        """The client, opened (and migrated) at the first call unless opened early. Only in the thread."""
        if self._warehouse is None:
            opening, self._opening = self._opening, None
            # done: it was queued before this call, on this one thread
            self._warehouse = opening.result() if opening is not None else connect(self.settings, role="holder")
        return self._warehouse
