"""`newsstream backfill`: WARC files, folders of HTML and JSONL into the raw topic, marked as seen so the
live feeder never fetches those URLs again."""

from __future__ import annotations

from pathlib import Path

from streams.feeder.store import SeenStore
from streams.ingest import IngestReport, ingest
from streams.inputs import RawDocument
from streams.settings import Settings
from streams.stages.clean import canonicalize_url


async def backfill(paths: list[str | Path], settings: Settings, kafka_url: str, progress: bool = True) -> IngestReport:
    store = SeenStore(settings.data_path / "feeder.sqlite")

    def seen(doc: RawDocument) -> None:
        if doc.url:
            store.mark_sent(canonicalize_url(doc.url) or doc.url, doc.url, "backfill")

    try:
        return await ingest(paths, settings, kafka_url, progress=progress, on_sent=seen)
    finally:
        store.close()
