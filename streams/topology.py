"""The Faust app: the whole topology in one file. Agents only wire steps (streams.steps) to topics.

  raw-html ──clean──▶ cleaned ──entities──▶ entities(1 partition) ──stories──▶ stories ──sink──▶ ClickHouse
      └──────────────────┴──────────────────────┴── any failure ──▶ dead-letters ──sink──▶ ClickHouse
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
import orjson
from pydantic import BaseModel

from schemas.records import Article, ArticleEntities, DeadLetter, RawPage, RawRef, StoryArticle, StoryAssignment
from streams import codec
from streams.actors import DictionaryWatcher
from streams.broker import faust_broker_url
from streams.settings import Settings
from streams.stages import Rejected
from streams.sink import batch_rows
from streams.stages.clean import CleanLimits
from streams.stages.stories import StoryIndex
from streams.steps import clean_step, dead_letter, entities_step, story_step
from streams.topics import topic_specs
from streams.warehouse import Warehouse

log = logging.getLogger("newsstream")


class WarehouseGate:
    """One thread owns the warehouse client: chDB is single-process, and inserts must not block the event loop."""

    def __init__(self, url: str):
        self.url = url
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._warehouse: Warehouse | None = None

    def _open(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.url)
            applied = self._warehouse.migrate()
            if applied:
                log.info("applied migrations %s", applied)
        return self._warehouse

    async def run(self, fn: Callable[[Warehouse], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(self._open()))

    async def write(self, rows: dict[str, list[dict]], retry_seconds: float = 1.0, max_wait: float = 30.0) -> None:
        """Insert until it succeeds: the batch is held (and the stream with it) while the warehouse is down."""
        wait = retry_seconds
        while True:
            try:
                return await self.run(lambda w: [w.insert_rows(t, r) for t, r in rows.items()])
            except Exception:
                log.exception("warehouse write failed; retrying in %.1fs", wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, max_wait)


def _raw_ref(value: Any) -> RawRef | None:
    """The raw offset a downstream record carries, for dead letters of later stages."""
    try:
        raw = value.get("raw") or value.get("article", {}).get("raw")
        return RawRef.model_validate(raw) if raw else None
    except Exception:
        return None


def create_app(settings: Settings, kafka_url: str) -> faust.App:
    codec.register()
    specs = topic_specs(settings)
    app = faust.App(
        settings.app_id,
        broker=faust_broker_url(kafka_url),
        value_serializer=codec.CODEC_NAME,
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        producer_compression_type="zstd",
        producer_max_request_size=4 * settings.max_page_bytes,
        consumer_max_fetch_size=4 * settings.max_page_bytes,
        store="memory://",
        datadir=str(settings.data_path / "faust"),
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        processing_guarantee="at_least_once",
        # The local broker holds a joining group until the rebalance timeout passes: keep both short.
        broker_session_timeout=settings.group_session_timeout,
        broker_rebalance_timeout=settings.group_session_timeout,
    )
    topic = {key: app.topic(spec.name, partitions=spec.partitions, value_serializer=codec.CODEC_NAME)
             for key, spec in specs.items()}
    limits = CleanLimits(max_page_bytes=settings.max_page_bytes, min_text_chars=settings.min_text_chars)
    actors = DictionaryWatcher(settings.actors_path)
    story_index = StoryIndex()
    index_ready = asyncio.Event()
    gate = WarehouseGate(settings.warehouse_url)
    app.warehouse_gate = gate  # used by the /sql view and tests

    async def run_stage(stream, stage: str, step: Callable[[Any, RawRef | None], BaseModel], out: str,
                        key: Callable[[BaseModel], str], offload: bool = False) -> None:
        """Each event becomes one record on `out` or one dead letter; an exception never escapes (it would ack and lose it)."""
        loop = asyncio.get_running_loop()
        async for event in stream.events():
            value = event.value
            if stage == "clean":
                ref = RawRef(topic=event.message.topic, partition=event.message.partition, offset=event.message.offset)
            else:
                ref = _raw_ref(value) if isinstance(value, dict) else None
            try:
                if isinstance(value, dict) and codec.UNDECODABLE in value:
                    raise Rejected("bad message", f"not JSON: {value['error']}")
                result = await loop.run_in_executor(None, step, value, ref) if offload else step(value, ref)
            except Exception as exc:
                source = value.get("source") if isinstance(value, dict) else None
                url = value.get("url") if isinstance(value, dict) else None
                letter = dead_letter(stage, exc, source=source, url=url, raw=ref,
                                     payload=value if stage == "clean" else None)
                await topic["dead-letters"].send(value=letter.model_dump(mode="json"))
                continue
            await topic[out].send(key=key(result).encode(), value=result.model_dump(mode="json"))

    # raw-html: RawPage -> cleaned: Article (trafilatura is CPU-bound: off the event loop)
    @app.agent(topic["raw-html"], name="clean")
    async def clean(stream):
        await run_stage(stream, "clean", lambda v, ref: clean_step(RawPage.model_validate(v), limits, raw=ref),
                        "cleaned", key=lambda a: a.article_id, offload=True)

    # cleaned: Article -> entities: ArticleEntities
    @app.agent(topic["cleaned"], name="entities")
    async def entities(stream):
        await run_stage(stream, "entities", lambda v, ref: entities_step(Article.model_validate(v), actors.current()),
                        "entities", key=lambda e: e.article.article_id)

    # entities (one partition): ArticleEntities -> stories: StoryArticle
    @app.agent(topic["entities"], name="stories")
    async def stories(stream):
        await index_ready.wait()
        await run_stage(stream, "stories", lambda v, ref: story_step(ArticleEntities.model_validate(v), story_index),
                        "stories", key=lambda s: s.article.article_id)

    # stories + dead-letters -> ClickHouse, in batches
    async def sink_batches(stream, model: type[BaseModel]) -> None:
        async for batch in stream.take(settings.sink_batch_size, within=settings.sink_flush_seconds):
            items = []
            for value in batch:
                try:
                    items.append(model.model_validate(value))
                except Exception as exc:
                    items.append(dead_letter("sink", exc, raw=_raw_ref(value) if isinstance(value, dict) else None,
                                             payload=value))
            await gate.write(batch_rows(items))

    @app.agent(topic["stories"], name="sink")
    async def sink(stream):
        await sink_batches(stream, StoryArticle)

    @app.agent(topic["dead-letters"], name="sink-dead-letters")
    async def sink_dead_letters(stream):
        await sink_batches(stream, DeadLetter)

    @app.task
    async def load_story_index() -> None:
        """The index is rebuilt from the warehouse at start: the local broker cannot be trusted to restore tables."""
        def load(w: Warehouse):
            _, rows = w.query("SELECT article_id, fingerprint, story_id, duplicate_of FROM articles FINAL "
                              "ORDER BY processed_at")
            return rows
        rows = await gate.run(load)
        for article_id, fingerprint, story_id, duplicate_of in rows:
            story_index.remember(article_id, fingerprint, StoryAssignment(story_id=story_id, duplicate_of=duplicate_of))
        log.info("story index: %d articles loaded from the warehouse", len(rows))
        index_ready.set()

    @app.page("/health")
    async def health(web, request):
        return web.json({"status": "ok", "story_index_ready": index_ready.is_set(),
                         "dictionary_version": actors.dictionary.version})

    @app.page("/sql")
    async def sql(web, request):
        """Read-only SQL on the worker's warehouse: the only door into an embedded chDB that this process holds."""
        query = request.query.get("q", "")
        try:
            columns, rows = await gate.run(lambda w: w.query(query, readonly=True))
        except Exception as exc:
            return web.bytes(orjson.dumps({"error": str(exc)}), content_type="application/json", status=400)
        return web.bytes(orjson.dumps({"columns": columns, "rows": rows}, default=str), content_type="application/json")

    return app
