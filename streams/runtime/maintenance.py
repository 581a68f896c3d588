"""The sink worker's maintenance jobs: reconcile and lag on timers, healing after a broker loss, the actors table.

Each job is a method that a Faust timer or task (streams/pipeline/topology.py) or the worker's API
(streams/runtime/worker_api.py) calls; none of them lets an exception out of a timer (it would crash the app).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from streams.inputs.archive import archive_for
from streams.inputs.archive import prune as prune_archive
from streams.ops.catalog import sync_actors
from streams.ops.reconcile import ReconcileReport, reconcile, record_lag
from streams.pipeline.dictionary import DictionaryWatcher
from streams.runtime.backoff import retry
from streams.runtime.metrics import WorkerMetrics
from streams.settings import Settings

log = logging.getLogger("newsstream")

Query = Callable[..., Awaitable[list[tuple]]]
Run = Callable[[Callable[[Any], Any]], Awaitable[Any]]
"""`await run(fn)`: fn(warehouse) in the thread that owns the warehouse client."""
Write = Callable[[dict[str, list[dict]]], Awaitable[None]]


class Maintenance:
    def __init__(self, settings: Settings, kafka_url: str, query: Query, run: Run, write: Write,
                 metrics: WorkerMetrics, actors: DictionaryWatcher):
        self.settings, self.kafka_url, self.metrics, self.actors = settings, kafka_url, metrics, actors
        self.query, self.run, self.write = query, run, write
        self.synced_version: str | None = None  # the dictionary version the actors table mirrors

    async def reconcile(self, **options: Any) -> ReconcileReport:
        return await reconcile(self.settings, self.kafka_url, self.query, metrics=self.metrics, **options)

    async def reconcile_tick(self) -> None:
        """Re-send archived pages without an outcome, then prune the archive; a failure waits for the next tick."""
        try:
            report = await self.reconcile()
        except Exception as exc:
            log.error("reconcile failed (%s: %s); trying again in %.0fs", type(exc).__name__, exc,
                      self.settings.reconcile_seconds)
            return
        if report.resent or report.dead_lettered:
            log.warning("reconcile: %s", report.summary())
        pruned = await asyncio.get_running_loop().run_in_executor(
            None, prune_archive, archive_for(self.settings), self.settings.archive_retention_days)
        if pruned:
            log.info("archive: %d segments past NEWSSTREAM_ARCHIVE_RETENTION_DAYS deleted", len(pruned))

    async def heal(self, broker_started_at: datetime) -> ReconcileReport:
        """Pages that entered before this broker started and have no outcome were in the broker that died."""
        def failed(exc: Exception, number: int, wait: float) -> None:
            log.error("re-sending archived pages after the broker start failed; retrying in %.0fs", wait, exc_info=exc)

        report = await retry(lambda: self.reconcile(entered_before=broker_started_at), first=1.0, cap=30.0,
                             on_retry=failed)
        self.metrics.healed.inc(report.resent + report.dead_lettered)
        healed = report.resent + report.dead_lettered
        # A new broker with nothing lost (a fresh data directory, or every page had its outcome) is no warning.
        log.log(logging.WARNING if healed else logging.INFO,
                "broker started empty at %s: %d archived pages without outcome re-sent from the archive",
                broker_started_at.isoformat(), healed)
        return report

    async def lag_tick(self) -> None:
        try:
            rows = await record_lag(self.settings, self.kafka_url, self.metrics)
        except Exception as exc:  # Kafka unreachable: reported by the watchdog
            log.warning("consumer lag not measured (%s: %s)", type(exc).__name__, exc)
            return
        await self.write({"consumer_lag": rows})

    async def sync_actor_table(self) -> dict:
        """The actors table mirrors the dictionary this worker has loaded."""
        dictionary = self.actors.current()
        count = await self.run(lambda w: sync_actors(w, dictionary))
        self.synced_version = dictionary.version
        return {"actors": count, "dictionary_version": dictionary.version}

    async def actor_table_tick(self) -> None:
        if self.actors.current().version != self.synced_version:
            log.info("actors table: %s", await self.sync_actor_table())
