"""The warehouse sink: stories and dead letters -> ClickHouse, offsets committed only after the insert.

A plain Kafka consumer group (built by streams.runtime.kafka) rather than a Faust agent: Faust commits offsets
by its own rules (and has lost messages across offset gaps under churn), while here a commit follows a successful
write, so a crash or a rejected batch means re-delivery, which the ReplacingMergeTree tables absorb.
While the warehouse is down the loop holds its batch and stops fetching: backpressure, not memory growth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka.errors import CommitFailedError, KafkaError

from schemas.records import DeadLetter, RawRef, StoryArticle
from streams.pipeline.steps import dead_letter
from streams.runtime.backoff import retry
from streams.runtime.kafka import KafkaClients
from streams.runtime.metrics import WorkerMetrics
from streams.settings import Settings
from streams.warehouse.rows import Rows, batch_rows

log = logging.getLogger("newsstream.sink")

Writer = Callable[[Rows], Awaitable[None]]


def decode(topic_key: str, value: bytes | None) -> StoryArticle | DeadLetter:
    """A message from `stories` or `dead-letters` as its record; anything else becomes a sink dead letter."""
    model = StoryArticle if topic_key == "stories" else DeadLetter
    try:
        return model.model_validate(orjson.loads(value or b""))
    except Exception as exc:  # a poison message must land as a dead letter, never stop the partition
        raw = None
        try:  # its raw reference when it has a valid one (a malformed one must not fail the dead letter too)
            data = orjson.loads(value or b"")
            found = (data.get("article") or {}).get("raw") or data.get("raw")
            raw = RawRef.model_validate(found) if isinstance(found, dict) else None
        except Exception:
            pass
        return dead_letter("sink", exc, raw=raw, payload=value or b"")


class WarehouseSink:
    def __init__(self, settings: Settings, kafka_url: str, write: Writer, metrics: WorkerMetrics | None = None):
        self.settings = settings
        self.kafka_url = kafka_url
        self.write = write
        self.metrics = metrics or WorkerMetrics()
        self.topics = {settings.topic("stories"): "stories", settings.topic("dead-letters"): "dead-letters"}
        self.consumer: Any = None
        self.written = 0
        self._last_write = float("-inf")  # time.monotonic() when the latest write started
        self._stopping = asyncio.Event()

    def _consumer(self):
        return KafkaClients(self.settings, self.kafka_url).sink_consumer(*self.topics)

    async def _next_batch(self) -> list[Any]:
        """Up to sink_batch_size messages, returned once sink_flush_seconds have passed since the previous write
        started (a full batch at once; after a pause, the first messages at once).

        Counting from the previous write rather than from the first message keeps at most one write per
        sink_flush_seconds, while messages that waited through a write (the consumer fetches meanwhile) are not
        held another whole interval after it: under load a message waits for the write in progress, then is in
        the next one."""
        s = self.settings
        batch: list[Any] = []
        deadline = None
        while len(batch) < s.sink_batch_size and not self._stopping.is_set():
            # Short polls when idle, so a stop request is seen quickly.
            timeout = min(0.5, s.sink_flush_seconds) if deadline is None else deadline - time.monotonic()
            if deadline is not None and timeout <= 0:
                break
            got = await self.consumer.getmany(timeout_ms=int(max(0.0, timeout) * 1000),
                                              max_records=s.sink_batch_size - len(batch))
            for records in got.values():
                batch.extend(records)
            if batch and deadline is None:
                deadline = self._last_write + s.sink_flush_seconds
            if not got and batch:
                break
        return batch

    async def flush(self, batch: list[Any]) -> None:
        """Write a batch; rows the warehouse refuses become `sink` dead letters and the rest still land."""
        items = [decode(self.topics[m.topic], m.value) for m in batch]
        written = await self.write_splitting(list(zip(batch, items, strict=False)))
        now = datetime.now(UTC)
        m = self.metrics
        m.sink_batch_rows.observe(len(batch))
        for item in written:
            if isinstance(item, DeadLetter):
                m.dead_letters.labels(item.stage, item.reason).inc()
            raw = item.raw if isinstance(item, DeadLetter) else item.article.raw
            if raw is not None and raw.timestamp is not None:
                m.end_to_end.observe(max(0.0, (now - raw.timestamp).total_seconds()))
        self.written += len(batch)

    async def write_splitting(self, pairs: list[tuple[Any, StoryArticle | DeadLetter]]
                              ) -> list[StoryArticle | DeadLetter]:
        """Insert the items' rows; on a permanent error, halve the batch until each refused item is alone, then
        dead-letter it (stage `sink`, the warehouse's error) so one bad row never stalls the stream.

        Returns the items whose rows reached the warehouse (refused ones replaced by their dead letters).
        """
        items = [item for _, item in pairs]
        rows = batch_rows(items)
        try:
            await self.write_retrying(rows)
        except PermanentWriteError as exc:
            return await self._split(pairs, exc)
        for table, table_rows in rows.items():
            self.metrics.sink_rows.labels(table).inc(len(table_rows))
        return items

    async def _split(self, pairs: list[tuple[Any, StoryArticle | DeadLetter]],
                     exc: PermanentWriteError) -> list[StoryArticle | DeadLetter]:
        """Halves written separately; a refused message alone becomes a `sink` dead letter."""
        self.metrics.sink_errors.labels("permanent").inc()
        if len(pairs) > 1:
            half = len(pairs) // 2
            return await self.write_splitting(pairs[:half]) + await self.write_splitting(pairs[half:])
        message, item = pairs[0]
        if isinstance(item, DeadLetter) and item.stage == "sink" and item.reason == REFUSED:
            raise exc.__cause__ or exc  # the dead letters table itself refuses: stop, nothing is committed
        refused = refused_dead_letter(item, message.value, exc.__cause__ or exc)
        log.error("warehouse refused a %s message (%s[%d]@%d): %s; dead-lettered", type(item).__name__,
                  message.topic, message.partition, message.offset, refused.error)
        self.metrics.sink_refused.inc()
        return await self.write_splitting([(message, refused)])

    async def write_retrying(self, rows: Rows) -> None:
        """One write; transient failures (connection, overload) retried with capped exponential backoff.

        Raises PermanentWriteError for anything else, and the last transient error once
        NEWSSTREAM_SINK_MAX_RETRIES retries are spent (the sink stops; nothing uncommitted is lost).
        """
        s = self.settings

        def retrying(exc: Exception, number: int, wait: float) -> None:
            self.metrics.sink_errors.labels("transient").inc()
            self.metrics.sink_retries.inc()
            log.warning("warehouse write failed (%s); retry %d/%d in %.1fs", exc, number, s.sink_max_retries, wait)

        try:
            await retry(lambda: self.write(rows), first=s.sink_retry_first_seconds, cap=s.sink_retry_max_seconds,
                        retries=s.sink_max_retries, retryable=is_transient, on_retry=retrying)
        except Exception as exc:
            if not is_transient(exc):
                raise PermanentWriteError(str(exc)) from exc
            self.metrics.sink_errors.labels("transient").inc()
            log.error("warehouse write failed %d times; giving up (%s)", s.sink_max_retries + 1, exc)
            raise

    async def commit(self) -> None:
        try:
            await self.consumer.commit()
        except (CommitFailedError, KafkaError) as exc:
            # Partitions moved during the write: the new owner re-delivers; the tables absorb the repeat.
            log.warning("sink commit failed after a successful write (%s); messages will be re-delivered", exc)

    async def run(self) -> None:
        """Until stop(): the batch in hand when asked to stop is still written and committed."""
        self.consumer = self._consumer()
        await self.consumer.start()
        try:
            while not self._stopping.is_set():
                batch = await self._next_batch()
                if batch:
                    self._last_write = time.monotonic()
                    await self.flush(batch)
                    await self.commit()
        finally:
            await self.consumer.stop()

    def stop(self) -> None:
        self._stopping.set()


REFUSED = "refused by warehouse"

# ClickHouse error codes that mean "try again later", not "this row is wrong".
TRANSIENT_CODES = frozenset({
    159,  # TIMEOUT_EXCEEDED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    279,  # ALL_CONNECTION_TRIES_FAILED
    319,  # UNKNOWN_STATUS_OF_INSERT
    425,  # SYSTEM_ERROR
    999,  # KEEPER_EXCEPTION
})


class PermanentWriteError(Exception):
    """The warehouse refused the rows themselves (DDL mismatch, bad value): retrying cannot help."""


def is_transient(exc: BaseException) -> bool:
    """Connection trouble and server overload are retried; everything else is the rows' fault."""
    from clickhouse_connect.driver.exceptions import Error as ClickHouseError
    from clickhouse_connect.driver.exceptions import OperationalError

    if isinstance(exc, (OSError, asyncio.TimeoutError, OperationalError)):
        return True
    return isinstance(exc, ClickHouseError) and getattr(exc, "code", None) in TRANSIENT_CODES


def refused_dead_letter(item: StoryArticle | DeadLetter, value: bytes | None, exc: BaseException) -> DeadLetter:
    """A `sink` dead letter for a message whose rows the warehouse refused; the message itself as payload."""
    raw = item.raw if isinstance(item, DeadLetter) else item.article.raw
    source = item.source if isinstance(item, DeadLetter) else item.article.source
    url = item.url if isinstance(item, DeadLetter) else item.article.url
    letter = dead_letter("sink", exc, source=source, url=url, raw=raw, payload=value or b"")
    return letter.model_copy(update={"reason": REFUSED})
