"""Produce input documents to the raw topic; unreadable or oversized ones go straight to dead letters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from streams.inputs.archive import writer_for
from streams.inputs.paths import RawDocument, iter_documents
from streams.pipeline.identity import canonicalize_url
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.pipeline.steps import dead_letter
from streams.pipeline.topics import ensure_topics, topic_specs
from streams.runtime.kafka import KafkaClients
from streams.settings import Settings


@dataclass
class IngestReport:
    sent: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def _size(body: bytes | str) -> int:
    return len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))


def raw_key(canonical: str) -> bytes:
    """Message key of a raw page: its canonical URL's hash, so the feeder and backfills key a page alike."""
    return hashlib.sha256(canonical.encode()).hexdigest()[:16].encode()


def _key(doc: RawDocument) -> bytes:
    return raw_key((canonicalize_url(doc.url) if doc.url else None) or doc.source)


async def ingest(paths: Iterable[str | Path], settings: Settings, kafka_url: str, *, progress: bool = True,
                 on_sent: Callable[[RawDocument], None] | None = None,
                 skip: Callable[[RawDocument], bool] | None = None) -> IngestReport:
    """`on_sent(doc)` runs once the broker acknowledged the page (doc without its body); `skip(doc)` leaves one out.
    Each page is written to the raw archive before it is produced: pages the broker loses are re-sent from there."""
    kafka = KafkaClients(settings, kafka_url)
    await ensure_topics(kafka)
    specs = topic_specs(settings)
    producer = kafka.producer()
    await producer.start()
    report = IngestReport()
    pending: list[tuple[Any, RawDocument | None]] = []  # (the send's future, the document for on_sent)
    archive = writer_for(settings)
    try:
        for doc in tqdm(iter_documents(paths, max_bytes=settings.max_page_bytes), unit="doc", desc="ingest",
                        disable=not progress):
            if skip is not None and not doc.error and skip(doc):
                report.skipped += 1
                continue
            problem = None
            if doc.error:
                problem = Rejected("bad input", doc.error)
            elif doc.body is None or _size(doc.body) == 0:
                problem = Rejected("empty", "no bytes")
            elif _size(doc.body) > settings.max_page_bytes:
                problem = Rejected("oversized", f"over the {settings.max_page_bytes}-byte limit")
            if problem is not None:
                letter = dead_letter("ingest", problem, source=doc.source, url=doc.url)
                pending.append((await producer.send(specs["dead-letters"].name,
                                                    orjson.dumps(letter.model_dump(mode="json"))), None))
                report.dead_lettered += 1
                report.reasons[problem.reason] = report.reasons.get(problem.reason, 0) + 1
                continue
            entered = datetime.now(UTC)
            page = raw_page(doc, entered_at=entered)
            archive.append(page, entered)
            value = orjson.dumps(page.model_dump(mode="json", exclude_none=True))
            sent = await producer.send(specs["raw-html"].name, value, key=_key(doc))
            pending.append((sent, replace(doc, body=None) if on_sent is not None else None))  # bodies not kept
            report.sent += 1
        for future, sent_doc in pending:
            await future  # every send acknowledged by the broker before we report it as sent
            if sent_doc is not None and on_sent is not None:
                on_sent(sent_doc)
    finally:
        archive.close()
        await producer.stop()
    return report
