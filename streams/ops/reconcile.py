"""Nothing lost: archived pages with no outcome in the ledger are re-sent; dead letters are replayed after a fix.

Every page is written to the raw archive (streams/inputs/archive.py) with its page id before it is produced, and
the ledger records one outcome per page id. So the question "what has no outcome?" is asked of the archive,
not of broker offsets: a local broker that restarted (offsets from 0 again) or lost its messages cannot hide
a missing page, and the page is re-sent from the archive even when the raw topic no longer holds it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka.errors import MessageSizeTooLargeError

from schemas.records import RawRef
from streams.errors import UserError
from streams.inputs import archive
from streams.inputs.ingest import raw_key
from streams.pipeline.identity import canonicalize_url
from streams.pipeline.stages import Rejected
from streams.pipeline.steps import dead_letter
from streams.pipeline.topics import ensure_topics, topic_specs
from streams.runtime.kafka import KafkaClients
from streams.runtime.metrics import WorkerMetrics
from streams.settings import Settings

Query = Callable[..., Awaitable[list[tuple]]]
"""`await query(sql, parameters)`: SQL with server-side bound parameters ({name:Type})."""
SAMPLE = 50
MAX_GRACE_SECONDS = 10 * 365 * 86400.0  # longer is a typo, and past datetime's range at 1e308
CHUNK = 1000


@dataclass
class ReconcileReport:
    archived: int = 0
    missing: int = 0
    in_flight: int = 0
    resent: int = 0
    dead_lettered: int = 0
    uploaded: int = 0
    archive_problems: list[str] = field(default_factory=list)  # index lines rebuilt from the segments, etc.
    sample: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.missing} archived pages without outcome: {self.resent} re-sent, {self.dead_lettered} "
                f"dead-lettered (unreadable in the archive); {self.in_flight} younger ones still in flight")

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


async def landed(query: Query, page_ids: list[str]) -> set[str]:
    """The page ids that have an outcome (article or dead letter) in the ledger."""
    found: set[str] = set()
    for i in range(0, len(page_ids), CHUNK):
        rows = await query("SELECT DISTINCT page_id FROM ledger WHERE page_id IN {ids:Array(String)}",
                           {"ids": page_ids[i:i + CHUNK]})
        found.update(r[0] for r in rows)
    return found


def _key(page) -> bytes:
    return raw_key((canonicalize_url(page.url) if page.url else None) or page.source)


async def resend_archived(settings: Settings, kafka_url: str, wanted: list[archive.Entry], report,
                          replace: bool = False) -> None:
    """Send archived pages to the raw topic again (topics recreated if the broker lost them); a page the archive
    cannot give back becomes a dead letter under its page id, so it still ends with one outcome. `replace`: each
    page's new version replaces its stored article (`reprocess --from-archive`)."""
    kafka = KafkaClients(settings, kafka_url)
    await ensure_topics(kafka)
    specs = topic_specs(settings)
    raw_topic = specs["raw-html"].name
    producer = kafka.producer()
    await producer.start()
    try:
        pending = []
        for entry in wanted:
            ref = RawRef(topic=raw_topic, partition=-1, offset=-1, page_id=entry.page_id)
            try:
                page = await asyncio.to_thread(archive.read_page, archive.archive_for(settings), entry)
            except Exception as exc:
                letter = dead_letter("archive", Rejected("archive damaged", f"{type(exc).__name__}: {exc}"),
                                     source=entry.source, url=entry.url, raw=ref)
                pending.append(await producer.send(specs["dead-letters"].name,
                                                   orjson.dumps(letter.model_dump(mode="json"))))
                report.dead_lettered += 1
                continue
            if replace:
                page = page.model_copy(update={"replace": True})
            value = orjson.dumps(page.model_dump(mode="json", exclude_none=True))
            try:
                pending.append(await producer.send(raw_topic, value, key=_key(page)))
            except MessageSizeTooLargeError as exc:  # refused every time: its outcome is this dead letter
                letter = dead_letter("archive", Rejected("oversized", f"the broker refused a {len(value)}-byte "
                                                                      f"message: {exc}"),
                                     source=entry.source, url=entry.url, raw=ref)
                pending.append(await producer.send(specs["dead-letters"].name,
                                                   orjson.dumps(letter.model_dump(mode="json"))))
                report.dead_lettered += 1
                continue
            report.resent += 1
        for future in pending:
            await future
    finally:
        await producer.stop()


async def reconcile(settings: Settings, kafka_url: str, query: Query, *, metrics: WorkerMetrics | None = None,
                    grace_seconds: float | None = None, dry_run: bool = False, entered_before: datetime | None = None,
                    limit: int = 10_000) -> ReconcileReport:
    """Re-send archived pages older than the grace period (or entered before `entered_before`: a broker restart)
    that have no outcome in the ledger, oldest first, at most `limit` per run."""
    grace = checked_grace(settings.reconcile_grace_seconds if grace_seconds is None else grace_seconds)
    cutoff = datetime.now(UTC) - timedelta(seconds=grace)
    if entered_before is not None:
        if entered_before.tzinfo is None:  # a time with no zone is UTC, as everywhere in the archive and ledger
            entered_before = entered_before.replace(tzinfo=UTC)
        cutoff = max(cutoff, entered_before)
    report = ReconcileReport()
    store = archive.archive_for(settings)
    if store.bucket is not None:  # segments a killed writer left on this machine: into the bucket first
        report.uploaded = len(await asyncio.to_thread(store.upload_pending))
    # off the event loop: reading every index (from a bucket, over the network) must not stall the worker's agents
    pages = await asyncio.to_thread(
        lambda: archive.first_by_page(archive.entries(store, problems=report.archive_problems)))
    report.archived = len(pages)
    old = [e for e in pages.values() if e.entered_at <= cutoff]
    young = [e.page_id for e in pages.values() if e.entered_at > cutoff]
    done = await landed(query, [e.page_id for e in old] + young)
    report.in_flight = sum(page_id not in done for page_id in young)  # inside the grace and without an outcome yet
    wanted = sorted((e for e in old if e.page_id not in done), key=lambda e: e.entered_at)
    report.missing = len(wanted)
    report.sample = [{"page_id": e.page_id, "url": e.url, "source": e.source, "entered_at": e.entered_at.isoformat()}
                     for e in wanted[:SAMPLE]]
    if wanted and not dry_run:
        await resend_archived(settings, kafka_url, wanted[:limit], report)
    if metrics is not None:
        metrics.reconciled.inc(report.resent + report.dead_lettered)
        metrics.unaccounted.set(report.missing)
    return report


async def _resend_from_topic(settings: Settings, kafka_url: str, wanted: dict[int, list[int]]) -> int:
    """Dead letters of pages that were never archived (written before the archive existed): read back from the
    raw topic by offset, while the broker still holds them, and sent again with their origin."""
    raw_topic = settings.topic("raw-html")
    kafka = KafkaClients(settings, kafka_url)
    producer = kafka.producer()
    await producer.start()
    sent = 0
    try:
        pending = []
        async for record in kafka.read_at(raw_topic, wanted):
            try:
                value = orjson.loads(record.value or b"")
            except orjson.JSONDecodeError:
                continue
            if not isinstance(value, dict):
                continue
            if not isinstance(value.get("origin"), dict):
                stamp = datetime.fromtimestamp(record.timestamp / 1000, UTC) if record.timestamp else None
                value["origin"] = RawRef(topic=record.topic, partition=record.partition, offset=record.offset,
                                         timestamp=stamp).model_dump(mode="json")
            pending.append(await producer.send(raw_topic, orjson.dumps(value), key=record.key))
            sent += 1
        for future in pending:
            await future
    finally:
        await producer.stop()
    return sent


async def replay(settings: Settings, kafka_url: str, query: Query, *, stage: str | None = None,
                 reason: str | None = None, since: str | None = None, dry_run: bool = False) -> ReplayReport:
    """Re-send the pages whose outcome is still a dead letter (after a fix in the code), from the archive."""
    params: dict = {"topic": settings.topic("raw-html")}
    where = ["outcome = 'dead_letter'"]
    letters = []
    if reason:
        where.append("reason = {reason:String}")
        letters.append("reason = {reason:String}")
        params["reason"] = reason
    if since:
        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise ValueError(f"since: not a time (ISO 8601, e.g. 2024-05-01T00:00:00): {since!r}") from None
        where.append("processed_at >= parseDateTime64BestEffort({since:String}, 3, 'UTC')")
        letters.append("at >= parseDateTime64BestEffort({since:String}, 3, 'UTC')")
        params["since"] = since
    if stage:
        where.append("page_id IN (SELECT page_id FROM dead_letters WHERE stage = {stage:String})")
        letters.append("stage = {stage:String}")
        params["stage"] = stage
    rows = await query("SELECT page_id, raw_topic, raw_partition, raw_offset, reason FROM ledger FINAL WHERE "
                       + " AND ".join(where) + " ORDER BY page_id", params)
    report = ReplayReport(selected=len(rows))
    for *_, why in rows:
        report.reasons[why] = report.reasons.get(why, 0) + 1
    no_raw = await query("SELECT count() FROM dead_letters FINAL WHERE raw_offset < 0 AND page_id = ''"
                         + "".join(f" AND {w}" for w in letters), params)
    report.not_replayable = int(no_raw[0][0])
    pages = archive.first_by_page(archive.entries(archive.archive_for(settings)))
    from_archive = [pages[page_id] for page_id, *_ in rows if page_id in pages]
    from_topic: dict[int, list[int]] = {}
    for page_id, topic, partition, offset, _ in rows:
        if page_id not in pages and topic == params["topic"] and int(offset) >= 0:
            from_topic.setdefault(int(partition), []).append(int(offset))
    if dry_run:
        return report
    if from_archive:
        resend = ReconcileReport()
        await resend_archived(settings, kafka_url, from_archive, resend)
        report.resent += resend.resent
    if from_topic:
        report.resent += await _resend_from_topic(settings, kafka_url, {p: sorted(o) for p, o in from_topic.items()})
    return report


async def record_lag(settings: Settings, kafka_url: str, metrics: WorkerMetrics) -> list[dict]:
    """End offset minus committed offset per partition: the Faust group on raw-html, the sink group on its topics.
    Returns `consumer_lag` rows, so the health dashboard can chart lag from the warehouse."""
    now = datetime.now(UTC)
    rows = []
    kafka = KafkaClients(settings, kafka_url)
    groups = {kafka.stream_group: ["raw-html"], kafka.sink_group: ["stories", "dead-letters"]}
    for group, keys in groups.items():
        for (topic, partition), (end, committed) in (await kafka.offsets([settings.topic(k) for k in keys],
                                                                         group=group)).items():
            lag = max(0, end - (committed or 0))
            metrics.lag.labels(topic, str(partition)).set(lag)
            rows.append({"at": now, "grp": group, "topic": topic, "partition": partition, "lag": lag})
    return rows


def checked_grace(grace: float) -> float:
    """The grace period, or ValueError: a negative one re-sends every page in flight; nan/inf break the cutoff;
    past ten years it is a typo (and past datetime's range at 1e308). The CLI checks it with this before it runs."""
    if not math.isfinite(grace) or not 0 <= grace <= MAX_GRACE_SECONDS:
        raise ValueError(f"the grace must be a number of seconds from 0 to {MAX_GRACE_SECONDS:.0f} (ten years), "
                         f"not {grace!r}")
    return grace


def run_maintenance(settings: Settings, action: str, **params) -> dict:
    """`reconcile` / `replay` from the CLI, over the one warehouse client: the worker runs it when it holds the
    embedded warehouse, else it runs here with the broker `run` started (or KAFKA_URL)."""
    from streams.runtime.broker import kafka_url
    from streams.warehouse.client import Warehouse, connect

    # `is not`: 0 (e.g. --grace 0) is a value, not an absent option.
    wire = {k: ("1" if v is True else str(v)) for k, v in params.items() if v is not None and v is not False}

    def here(warehouse: Warehouse) -> dict:
        url = kafka_url(settings)
        if url is None:
            if not params.get("dry_run"):
                raise UserError("no broker: set KAFKA_URL or start one with `newsstream run`")
            url = ""  # a dry run reads the archive and the ledger and sends nothing: no broker needed

        async def query(sql: str, parameters: dict | None = None) -> list[tuple]:
            return warehouse.query(sql, parameters=parameters)[1]

        if action == "reconcile":
            return asyncio.run(reconcile(settings, url, query, **params)).as_dict()
        return asyncio.run(replay(settings, url, query, **params)).as_dict()

    with connect(settings) as warehouse:
        return warehouse.maintain(action, wire, here)
