"""A warehouse filled from the sample corpus through the real steps and sink rows, written twice
(a replay) so every query and panel is checked on realistic data that must not double count."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from schemas.records import RawRef
from streams.pipeline.dictionary import ActorDictionary
from streams.inputs.paths import iter_documents
from streams.pipeline.offline import raw_page
from streams.warehouse.rows import batch_rows
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.stages.stories import StoryIndex
from streams.pipeline.steps import clean_step, dead_letter, entities_step, story_step
from streams.warehouse.client import Warehouse
from tests.conftest import BAD, CORPUS

RAW_TOPIC = "newsstream.raw-html"


def corpus_items() -> list:
    dictionary, index, limits = ActorDictionary.load(), StoryIndex(), CleanLimits()
    start = datetime(2016, 11, 24, 12, tzinfo=timezone.utc)
    items = []
    for offset, doc in enumerate(iter_documents([CORPUS, BAD], max_bytes=limits.max_page_bytes)):
        ref = RawRef(topic=RAW_TOPIC, partition=offset % 2, offset=offset, timestamp=start + timedelta(seconds=offset))
        try:
            page = raw_page(doc)
            items.append(story_step(entities_step(clean_step(page, limits, raw=ref), dictionary), index))
        except Exception as exc:
            items.append(dead_letter("clean", exc, source=doc.source, url=doc.url, raw=ref))
    return items


def fill(warehouse: Warehouse) -> None:
    items = corpus_items()
    for _ in range(2):  # the second write is a replay: counts must not move
        for table, rows in batch_rows(items).items():
            warehouse.insert_rows(table, rows)
    now = datetime.now(timezone.utc)  # lag snapshots have a 30-day TTL
    warehouse.insert_rows("consumer_lag", [
        {"at": now + timedelta(seconds=15 * i), "grp": "newsstream", "topic": RAW_TOPIC, "partition": p, "lag": 10 - i}
        for i in range(4) for p in range(2)])


def filled_warehouse(directory) -> Warehouse:
    warehouse = Warehouse(f"chdb://{directory}")
    warehouse.migrate()
    fill(warehouse)
    return warehouse
