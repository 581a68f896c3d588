"""Nothing lost: raw offsets with no outcome in the ledger are re-sent; dead letters are replayed after a fix.

Faust's commits cannot carry the no-loss promise (it has skipped messages across offset gaps when
workers join or die), so the ledger is the truth: every raw offset must end as an article or a dead
letter. A re-sent page carries `origin`, so its outcome is recorded under the original offset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.records import RawRef
from streams.broker import bootstrap_servers, kafka_options
from streams.ingest import raw_producer
from streams.metrics import WorkerMetrics
from streams.query import sql_string
from streams.settings import Settings
from streams.stages import Rejected
from streams.steps import dead_letter
from streams.topics import topic_specs

Query = Callable[[str], Awaitable[list[tuple]]]
SAMPLE = 50


@dataclass
class ReconcileReport:
    bounds: dict[int, tuple[int, int]] = field(default_factory=dict)
    missing: int = 0
    in_flight: int = 0
    resent: int = 0
    dead_lettered: int = 0
    covered_resends: int = 0
    sample: list[tuple[int, int]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.missing} raw offsets without outcome: {self.resent} re-sent, {self.dead_lettered} "
                f"dead-lettered, {self.in_flight} still in flight; {self.covered_resends} earlier re-sends landed")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReplayReport:
    selected: int = 0
    resent: int = 0
    not_replayable: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


async def _bounds(consumer: AIOKafkaConsumer, topic: str) -> dict[int, tuple[int, int]]:
    """First and next offset per partition. The local broker's ListOffsets can report too low an end,
    so the end is also probed by fetching past it (the fetch response carries the true high watermark)."""
    partitions = sorted(consumer.partitions_for_topic(topic) or [])
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
    tps = [TopicPartition(topic, p) for p in partitions]
    begin = await consumer.beginning_offsets(tps)
    end = dict(await consumer.end_offsets(tps))
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, end[tp])
    for _ in range(20):
        got = await consumer.getmany(*tps, timeout_ms=1000)
        for tp in tps:
            end[tp] = max(end[tp], consumer.highwater(tp) or 0, *(r.offset + 1 for r in got.get(tp, [])))
        if not got:
            break
        for tp in tps:
            consumer.seek(tp, end[tp])
    return {tp.partition: (begin[tp], end[tp]) for tp in tps}


async def _offsets_without_outcome(query: Query, topic: str, partition: int, begin: int, end: int,
                                   limit: int) -> list[int]:
    """Computed in the warehouse: the ledger may hold millions of offsets, the gaps are few."""
    rows = await query(
        f"SELECT number FROM numbers({begin}, {end - begin}) WHERE number NOT IN ("
        f"SELECT raw_offset FROM ledger WHERE raw_topic = {sql_string(topic)} AND raw_partition = {partition} "
        f"AND raw_offset >= {begin} AND raw_offset < {end}) ORDER BY number LIMIT {limit}")
    return [int(r[0]) for r in rows]


async def _read(consumer: AIOKafkaConsumer, tp: TopicPartition, offsets: list[int]):
    """The records at `offsets` (ascending), reading each contiguous run once."""
    wanted = set(offsets)
    i = 0
    while i < len(offsets):
        run_end = i
        while run_end + 1 < len(offsets) and offsets[run_end + 1] == offsets[run_end] + 1:
            run_end += 1
        consumer.seek(tp, offsets[i])
        last = offsets[run_end]
        position = offsets[i]
        while position <= last:
            got = await consumer.getmany(tp, timeout_ms=5000)
            records = got.get(tp, [])
            if not records:
                break  # deleted by retention, or beyond what the broker reports: leave it to the next run
            for record in records:
                position = record.offset + 1
                if record.offset in wanted:
                    yield record
                if record.offset >= last:
                    break
        i = run_end + 1


def _ref(record) -> RawRef:
    stamp = datetime.fromtimestamp(record.timestamp / 1000, timezone.utc) if record.timestamp else None
    return RawRef(topic=record.topic, partition=record.partition, offset=record.offset, timestamp=stamp)


async def _has_outcome(query: Query, refs: list[RawRef]) -> set[tuple[str, int, int]]:
    if not refs:
        return set()
    keys = ",".join(f"({sql_string(r.topic)},{r.partition},{r.offset})" for r in refs)
    rows = await query(f"SELECT raw_topic, raw_partition, raw_offset FROM ledger "
                       f"WHERE (raw_topic, raw_partition, raw_offset) IN ({keys})")
    return {(t, int(p), int(o)) for t, p, o in rows}


async def _resend(settings: Settings, kafka_url: str, query: Query, wanted: dict[int, list[int]],
                  grace_seconds: float | None, report) -> None:
    """Read the raw records at `wanted` offsets and send each again with its origin; undecodable ones are dead-lettered."""
    specs = topic_specs(settings)
    raw_topic = specs["raw-html"].name
    bootstrap = bootstrap_servers(kafka_url)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * settings.max_page_bytes,
                                fetch_max_bytes=8 * settings.max_page_bytes, **kafka_options(settings))
    producer = raw_producer(settings, bootstrap)
    await consumer.start()
    await producer.start()
    try:
        now_ms = time.time() * 1000
        pending = []
        for partition, offsets in wanted.items():
            tp = TopicPartition(raw_topic, partition)
            consumer.assign([tp])
            origins: list[tuple[dict, bytes | None, RawRef]] = []
            async for record in _read(consumer, tp, offsets):
                if grace_seconds is not None and record.timestamp and now_ms - record.timestamp < grace_seconds * 1000:
                    report.in_flight += 1
                    continue
                ref = _ref(record)
                try:
                    value = orjson.loads(record.value or b"")
                except orjson.JSONDecodeError as exc:
                    value = exc
                if not isinstance(value, dict):
                    error = f"not a JSON object: {value}" if isinstance(value, Exception) else "not a JSON object"
                    letter = dead_letter("clean", Rejected("bad message", error), raw=ref, payload=record.value or b"")
                    pending.append(await producer.send(specs["dead-letters"].name,
                                                       orjson.dumps(letter.model_dump(mode="json"))))
                    report.dead_lettered += 1
                    continue
                if isinstance(value.get("origin"), dict):
                    try:
                        origins.append((value, record.key, RawRef.model_validate(value["origin"])))
                        continue
                    except Exception:
                        pass  # a malformed origin: re-send under this record's own offset
                value["origin"] = ref.model_dump(mode="json")
                pending.append(await producer.send(raw_topic, orjson.dumps(value), key=record.key))
                report.resent += 1
            # A re-send's own offset has no ledger row by design: it is covered when its origin landed.
            landed = await _has_outcome(query, [o for _, _, o in origins])
            for value, key, origin in origins:
                if (origin.topic, origin.partition, origin.offset) in landed:
                    report.covered_resends += 1
                else:
                    pending.append(await producer.send(raw_topic, orjson.dumps(value), key=key))
                    report.resent += 1
        for future in pending:
            await future
    finally:
        await producer.stop()
        await consumer.stop()


async def reconcile(settings: Settings, kafka_url: str, query: Query, *, metrics: WorkerMetrics | None = None,
                    grace_seconds: float | None = None, dry_run: bool = False,
                    limit_per_partition: int = 10_000) -> ReconcileReport:
    """Find raw offsets (older than the grace period) with no ledger outcome and re-send them through the pipeline."""
    grace = settings.reconcile_grace_seconds if grace_seconds is None else grace_seconds
    raw_topic = settings.topic("raw-html")
    report = ReconcileReport()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(kafka_url), enable_auto_commit=False,
                                **kafka_options(settings))
    await consumer.start()
    try:
        report.bounds = await _bounds(consumer, raw_topic)
    finally:
        await consumer.stop()
    wanted = {}
    for partition, (begin, end) in report.bounds.items():
        if end > begin:
            offsets = await _offsets_without_outcome(query, raw_topic, partition, begin, end, limit_per_partition)
            if offsets:
                wanted[partition] = offsets
                report.missing += len(offsets)
                report.sample.extend((partition, o) for o in offsets[: SAMPLE - len(report.sample)])
    if wanted and not dry_run:
        await _resend(settings, kafka_url, query, wanted, grace, report)
        report.missing -= report.covered_resends
    if metrics is not None:
        metrics.reconciled.inc(report.resent + report.dead_lettered)
        metrics.unaccounted.set(report.missing - report.in_flight)
    return report


async def replay(settings: Settings, kafka_url: str, query: Query, *, stage: str | None = None,
                 reason: str | None = None, since: str | None = None, dry_run: bool = False) -> ReplayReport:
    """Re-send the raw pages of dead letters whose offset still ends as a dead letter (after a fix in the code)."""
    raw_topic = settings.topic("raw-html")
    where = [f"raw_topic = {sql_string(raw_topic)}"]
    if stage:
        where.append(f"stage = {sql_string(stage)}")
    if reason:
        where.append(f"reason = {sql_string(reason)}")
    if since:
        where.append(f"at >= parseDateTime64BestEffort({sql_string(since)}, 3, 'UTC')")
    letters = " AND ".join(where)
    rows = await query(
        f"SELECT raw_partition, raw_offset, reason FROM dead_letters FINAL WHERE {letters} "
        f"AND (raw_partition, raw_offset) IN (SELECT raw_partition, raw_offset FROM ledger FINAL "
        f"WHERE raw_topic = {sql_string(raw_topic)} AND outcome = 'dead_letter') ORDER BY raw_partition, raw_offset")
    report = ReplayReport(selected=len(rows))
    for _, _, why in rows:
        report.reasons[why] = report.reasons.get(why, 0) + 1
    unreplayable = [w for w in where if not w.startswith("raw_topic")]
    no_raw = await query("SELECT count() FROM dead_letters FINAL WHERE raw_offset < 0"
                         + (" AND " + " AND ".join(unreplayable) if unreplayable else ""))
    report.not_replayable = int(no_raw[0][0])
    wanted: dict[int, list[int]] = {}
    for partition, offset, _ in rows:
        wanted.setdefault(int(partition), []).append(int(offset))
    if wanted and not dry_run:
        resend = ReconcileReport()
        await _resend(settings, kafka_url, query, wanted, None, resend)
        report.resent = resend.resent
    return report


async def record_lag(settings: Settings, kafka_url: str, metrics: WorkerMetrics) -> list[dict]:
    """End offset minus committed offset per partition: the Faust group on raw-html, the sink group on its topics.
    Returns `consumer_lag` rows, so the health dashboard can chart lag from the warehouse."""
    now = datetime.now(timezone.utc)
    rows = []
    groups = {settings.app_id: ["raw-html"], f"{settings.app_id}-sink": ["stories", "dead-letters"]}
    for group, keys in groups.items():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(kafka_url), group_id=group,
                                    enable_auto_commit=False, **kafka_options(settings))
        await consumer.start()
        try:
            for key in keys:
                topic = settings.topic(key)
                tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
                if not tps:
                    continue
                end = await consumer.end_offsets(tps)
                for tp in tps:
                    lag = max(0, end[tp] - (await consumer.committed(tp) or 0))
                    metrics.lag.labels(topic, str(tp.partition)).set(lag)
                    rows.append({"at": now, "grp": group, "topic": topic, "partition": tp.partition, "lag": lag})
        finally:
            await consumer.stop()
    return rows


def run_maintenance(settings: Settings, action: str, **params) -> dict:
    """`reconcile` / `replay` from the CLI: through the worker when it holds the embedded warehouse, else directly."""
    from streams.broker import kafka_url
    from streams.query import worker_action
    from streams.warehouse import Warehouse

    wire = {k: ("1" if v is True else str(v)) for k, v in params.items() if v not in (None, False)}
    via_worker = worker_action(settings, action, wire)
    if via_worker is not None:
        return via_worker
    url = kafka_url(settings)
    if url is None:
        raise RuntimeError("no broker: set KAFKA_URL or start one with `newsstream run`")
    warehouse = Warehouse(settings.warehouse_url)

    async def query(sql: str) -> list[tuple]:
        return warehouse.query(sql)[1]

    try:
        if action == "reconcile":
            return asyncio.run(reconcile(settings, url, query, **params)).as_dict()
        return asyncio.run(replay(settings, url, query, **params)).as_dict()
    finally:
        warehouse.close()
