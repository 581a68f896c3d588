"""`newsstream backfill`: WARC files, folders of HTML and JSONL into the raw topic, marked as seen so the
live feeder never fetches those URLs again."""

from __future__ import annotations

from pathlib import Path

from streams.inputs.feeder.store import SeenStore
from streams.inputs.ingest import IngestReport, ingest
from streams.inputs.paths import RawDocument
from streams.pipeline.identity import canonicalize_url
from streams.settings import Settings


async def backfill(paths: list[str | Path], settings: Settings, kafka_url: str, progress: bool = True,
                   resend_seen: bool = False) -> IngestReport:
    """Pages whose URL was already sent (by the feeder or an earlier backfill) are skipped unless `resend_seen`."""
    store = SeenStore(settings.data_path / "feeder.sqlite")

    def canonical(url: str) -> str:
        return canonicalize_url(url) or url

    def sent(doc: RawDocument) -> None:
        if doc.url:
            store.mark_sent(canonical(doc.url), doc.url, "backfill")

    def already_sent(doc: RawDocument) -> bool:
        return bool(doc.url and not resend_seen and store.seen(canonical(doc.url)))

    try:
        return await ingest(paths, settings, kafka_url, progress=progress, on_sent=sent, skip=already_sent)
    finally:
        store.close()
