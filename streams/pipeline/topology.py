"""The Faust app: the whole topology in one file, wiring named parts (streams/runtime/) to topics.

Each agent is a StageRunner over a step (streams.pipeline.steps); the stories index is a StoryIndexOwner's;
the sink, timers and HTTP API are WarehouseSink, Maintenance and WorkerApi. Nothing here needs a broker to test
except this wiring itself.

  raw-html ──clean──▶ cleaned ──entities──▶ entities(1 partition) ──stories──▶ stories ──sink──▶ ClickHouse
      └──────────────────┴──────────────────────┴── any failure ──▶ dead-letters ──sink──▶ ClickHouse
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import faust
from faust.tables import TableManager

from schemas.records import Article, ArticleEntities, RawPage, RawRef
from streams.inputs.archive import UnarchivedPages
from streams.pipeline import codec
from streams.pipeline.budget import CleanBudget
from streams.pipeline.dictionary import DictionaryWatcher
from streams.pipeline.stages.siteprofile import SiteProfile
from streams.pipeline.stages.stories import StoryIndex
from streams.pipeline.steps import clean_limits, entities_many, entities_step, story_step
from streams.pipeline.topics import topic_specs
from streams.runtime import webauth
from streams.runtime.kafka import KafkaClients
from streams.runtime.maintenance import Maintenance
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.sink_service import SinkService
from streams.runtime.stage_runner import Stage, StageRunner, entry_ref
from streams.runtime.story_index_loader import fill_from_rows, fill_from_stories, index_query, unsunk_stories
from streams.runtime.story_index_owner import StoryIndexOwner
from streams.runtime.warehouse_thread import WarehouseThread, holds_warehouse
from streams.runtime.worker_api import WorkerApi
from streams.settings import Settings
from streams.warehouse.client import Warehouse, connect
from streams.warehouse.rows import write_rows
from streams.warehouse.sink import WarehouseSink
from streams.warehouse.site_profiles import learn_site_profiles, load_site_profiles, site_of
from streams.warehouse.sql_door import AnalystLane, Limits

log = logging.getLogger("newsstream")


class WarehouseGate:
    """One thread owns the warehouse client: chDB is single-process, and inserts must not block the event loop.

    A worker that does not hold an embedded warehouse (NEWSSTREAM_SINK=false) reads through the worker that does.
    """

    def __init__(self, settings: Settings, metrics: WorkerMetrics, thread: WarehouseThread | None = None):
        self.settings = settings
        self.url = settings.warehouse_url
        self.metrics = metrics
        self.holds_warehouse = holds_warehouse(settings)
        self._thread = thread or WarehouseThread(settings)

    async def run(self, fn: Callable[[Warehouse], Any]) -> Any:
        if not self.holds_warehouse:
            raise RuntimeError("this worker does not hold the embedded warehouse (NEWSSTREAM_SINK=false)")
        return await asyncio.get_running_loop().run_in_executor(self._thread.executor,
                                                                lambda: fn(self._thread.warehouse()))

    async def query(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        if self.holds_warehouse:
            return (await self.run(lambda w: w.query(sql, parameters=parameters)))[1]
        def borrowed() -> list[tuple]:  # never opens the embedded chDB: that would lock the holder out
            with connect(self.settings, role="borrower") as warehouse:
                return warehouse.query(sql, parameters)[1]

        return await asyncio.get_running_loop().run_in_executor(None, borrowed)

    async def open(self) -> None:
        """Open the warehouse (and apply the migrations) now rather than at the first use."""
        await self.run(lambda w: None)

    async def write(self, rows: dict[str, list[dict]]) -> None:
        """One insert per table (replaced articles' old rows deleted first); the sink decides what to retry
        (WarehouseSink.write_retrying)."""
        await self.run(lambda w: write_rows(w, rows))


class PromptTableManager(TableManager):
    """Faust's table manager, without the fixed second it sleeps at start, before the stage consumer may subscribe,
    for tables to register: this app has none (the story index is rebuilt, not restored from a changelog)."""

    async def on_start(self) -> None:
        if len(self):  # tables after all: Faust's own start, with its pause
            await super().on_start()
        elif not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class PipelineApp(faust.App):
    """The Faust app, with the parts the worker (and tests) read back from it."""

    metrics: WorkerMetrics
    warehouse_gate: WarehouseGate
    analyst_lane: AnalystLane | None
    clean_budget: CleanBudget
    story_index_owner: StoryIndexOwner

    async def on_first_start(self) -> None:
        await super().on_first_start()
        # The clean child (spawned: imports, language model, seconds of CPU) starts with the app, while the groups
        # join, rather than on the first page, whose latency it would otherwise carry.
        self.clean_budget.prestart()


def create_app(settings: Settings, kafka_url: str, *, broker_started_at: datetime | None = None,
               broker_restarts: int = 0, warehouse_thread: WarehouseThread | None = None) -> PipelineApp:
    """`broker_started_at`: the broker started empty then (the local one, after `run` or a restart): archived pages
    that entered before it and have no outcome were lost with the old broker and are re-sent at start.
    `warehouse_thread`: the thread owning the warehouse client, possibly already opening it."""
    codec.register()
    specs = topic_specs(settings)
    kafka = KafkaClients(settings, kafka_url)
    app = PipelineApp(
        kafka.stream_group,
        **kafka.faust_options(),
        value_serializer=codec.CODEC_NAME,
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        store="memory://",
        datadir=str(settings.data_path / "faust"),
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        processing_guarantee="at_least_once",
        stream_buffer_maxsize=settings.stream_buffer,
        TableManager=PromptTableManager,
        # One check for every route but /health and /metrics: token, Host, Origin (streams.runtime.webauth).
        web_application_options={"middlewares": [webauth.middleware(settings)]},
    )
    topic = {key: app.topic(spec.name, partitions=spec.partitions, value_serializer=codec.CODEC_NAME)
             for key, spec in specs.items()}
    limits = clean_limits(settings)
    budget = CleanBudget(settings.clean_timeout_seconds, workers=settings.clean_workers, cache_dir=settings.cache_dir)
    actors = DictionaryWatcher(settings.actors_path, cache_dir=settings.cache_dir)
    metrics = WorkerMetrics()
    metrics.broker_restarts.set(broker_restarts)
    metrics.broker_up.set(1)
    gate = WarehouseGate(settings, metrics, warehouse_thread)
    app.metrics = metrics
    app.warehouse_gate = gate  # used by tests
    app.clean_budget = budget
    # Analyst SQL runs in its own threads and clients: it never queues behind or in front of the sink's inserts.
    lane = AnalystLane(settings.analyst_warehouse_url, Limits.from_settings(settings), settings.sql_concurrency) \
        if gate.holds_warehouse else None
    app.analyst_lane = lane

    async def send(topic_key: str, key: bytes | None, value: dict) -> None:
        await topic[topic_key].send(key=key, value=value)

    # The stories stage's index lives where the single entities partition is (streams.runtime.story_index_owner).
    window = timedelta(days=settings.story_window_days)

    async def load_story_index(index: StoryIndex) -> tuple[int, int]:
        """Warehouse rows, then stories the sink has not committed (the local broker cannot be trusted to restore
        tables). The uncommitted ones are read first: a record the sink commits after that read was written before
        its commit, so the warehouse query that follows holds it (read the other way round, it could be in neither)."""
        pending = await unsunk_stories(kafka, specs["stories"].name, specs["stories"].partitions)
        loaded = fill_from_rows(index, await gate.query(index_query(window)))
        return loaded, fill_from_stories(index, pending)

    owner = StoryIndexOwner((specs["entities"].name, 0), lambda: StoryIndex(window=window,
                            max_entries=settings.story_index_max), load_story_index)
    app.story_index_owner = owner  # used by tests

    # faust's receiver type takes any positional arguments; this signal sends exactly one, the assigned partitions
    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender, assigned, **kwargs) -> None:
        owner.on_assigned(assigned)

    # Per-site profiles (streams.warehouse.site_profiles): learned and stored by the worker holding the warehouse,
    # handed to the clean stage by the page's site; other workers clean without them.
    site_profiles: dict[str, SiteProfile] = {}

    unarchived = UnarchivedPages(settings)

    async def clean_page(value: Any, ref: RawRef | None) -> Article:
        page = RawPage.model_validate(value)
        # a page another tool produced (no page id) is archived here: file I/O, off the loop
        if ref is not None and not page.page_id and await asyncio.get_running_loop().run_in_executor(
                None, unarchived.keep, page, ref.page_id, ref.timestamp):
            metrics.stage_outcomes.labels("archive", "unarchived page kept").inc()
        profile = site_profiles.get(site_of(page.final_url or page.url) or "")
        return await budget.clean_async(page, limits, raw=ref, profile=profile)

    # raw-html: RawPage -> cleaned: Article (trafilatura is CPU-bound: in a cleaning child, awaited on the loop);
    # its dead letters keep the raw message itself and its ledger key
    clean = StageRunner(Stage("clean", clean_page, "cleaned", key=lambda a: a.article_id, ref_of=entry_ref,
                              keep_payload=True, awaited=True), send, metrics)
    def entities_batch(values: list[Any], refs: list[RawRef | None]) -> list[ArticleEntities | Exception]:
        """entities_step of each value, the recognizer and the signatures run once over the batch (entities_many)."""
        out: list[ArticleEntities | Exception | None] = []  # None: the article's result, from entities_many
        articles: list[Article] = []
        for value in values:
            try:
                articles.append(Article.model_validate(value))
                out.append(None)
            except Exception as exc:
                out.append(exc)
        results = iter(entities_many(articles, actors.current(), settings.max_mentions,
                                     max_chars=settings.entities_batch_chars))
        return [next(results) if item is None else item for item in out]

    # cleaned: Article -> entities: ArticleEntities; the events already waiting, up to NEWSSTREAM_ENTITIES_BATCH_SIZE,
    # in one entities_many call
    entities = StageRunner(Stage("entities", lambda v, ref: entities_step(Article.model_validate(v), actors.current(),
                                                                          settings.max_mentions),
                                 "entities", key=lambda e: e.article.article_id, step_many=entities_batch,
                                 batch=settings.entities_batch_size), send, metrics)
    # entities (one partition): ArticleEntities -> stories: StoryArticle, once the index is rebuilt
    stories = StageRunner(Stage("stories", lambda v, ref: story_step(ArticleEntities.model_validate(v), owner.index),
                                "stories", key=lambda s: s.article.article_id), send, metrics, ready=owner.ready)
    # pages are independent: `clean_workers` actors share the topic's events, each waiting on its own child process
    # (Faust commits an offset only once every event before it is acked)
    app.agent(topic["raw-html"], name="clean", concurrency=settings.clean_workers)(clean.agent())
    app.agent(topic["cleaned"], name="entities")(entities.agent())
    app.agent(topic["entities"], name="stories")(stories.agent())

    maintenance = Maintenance(settings, kafka_url, gate.query, gate.run, gate.write, metrics, actors)
    if settings.run_sink:
        # stories + dead-letters -> ClickHouse: a plain consumer group that commits after each write.
        app.add_dependency(SinkService(WarehouseSink(settings, kafka_url, gate.write, metrics), warm=gate.open))
        if settings.reconcile_seconds > 0:
            app.timer(settings.reconcile_seconds, name="reconcile")(maintenance.reconcile_tick)
        if broker_started_at is not None:
            async def heal_from_archive() -> None:
                await maintenance.heal(broker_started_at)
            app.task(heal_from_archive)
        app.timer(settings.lag_seconds, name="lag")(maintenance.lag_tick)
        app.timer(actors.interval, name="actor_table")(maintenance.actor_table_tick)
        if settings.site_profile_seconds > 0:
            @app.timer(settings.site_profile_seconds)
            async def site_profile_timer() -> None:
                await gate.run(learn_site_profiles)
                site_profiles.update(await gate.run(load_site_profiles))

    WorkerApi(settings, kafka_url, maintenance, metrics, actors, owner, lane, gate.open).register(app)
    return app
