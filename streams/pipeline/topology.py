"""The Faust app: the whole topology in one file. Agents only wire steps (streams.pipeline.steps) to topics.

  raw-html ──clean──▶ cleaned ──entities──▶ entities(1 partition) ──stories──▶ stories ──sink──▶ ClickHouse
      └──────────────────┴──────────────────────┴── any failure ──▶ dead-letters ──sink──▶ ClickHouse
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import mode
import orjson
from pydantic import BaseModel

from schemas.records import Article, ArticleEntities, RawPage, RawRef
from streams.inputs.archive import prune as prune_archive
from streams.ops.catalog import sync_actors
from streams.ops.reconcile import reconcile, record_lag, replay
from streams.ops.reprocess import reprocess
from streams.pipeline import codec
from streams.pipeline.budget import CleanBudget
from streams.pipeline.dictionary import DictionaryWatcher
from streams.pipeline.identity import page_id_for
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.siteprofile import SiteProfile
from streams.pipeline.stages.stories import StoryIndex
from streams.pipeline.steps import clean_limits, dead_letter, entities_step, origin, story_step
from streams.pipeline.topics import topic_specs
from streams.runtime import webauth
from streams.runtime.broker import bootstrap_servers, faust_broker_url, faust_credentials, kafka_options
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.story_index_loader import fill_from_rows, fill_from_stories, index_query, unsunk_stories
from streams.settings import Settings
from streams.warehouse.client import Warehouse, connect
from streams.warehouse.rows import write_rows
from streams.warehouse.sink import WarehouseSink
from streams.warehouse.site_profiles import learn_site_profiles, load_site_profiles, site_of
from streams.warehouse.sql_door import AnalystLane, Busy, Limits, QueryFailed, Refused

log = logging.getLogger("newsstream")


class WarehouseGate:
    """One thread owns the warehouse client: chDB is single-process, and inserts must not block the event loop.

    A worker that does not hold an embedded warehouse (NEWSSTREAM_SINK=false) reads through the worker that does.
    """

    def __init__(self, settings: Settings, metrics: WorkerMetrics):
        self.settings = settings
        self.url = settings.warehouse_url
        self.metrics = metrics
        self.holds_warehouse = settings.run_sink or not settings.embedded_warehouse
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._warehouse: Warehouse | None = None

    def _open(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = connect(self.settings, role="holder")  # migrated on opening
        return self._warehouse

    async def run(self, fn: Callable[[Warehouse], Any]) -> Any:
        if not self.holds_warehouse:
            raise RuntimeError("this worker does not hold the embedded warehouse (NEWSSTREAM_SINK=false)")
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(self._open()))

    async def query(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        if self.holds_warehouse:
            return (await self.run(lambda w: w.query(sql, parameters=parameters)))[1]
        def borrowed() -> list[tuple]:  # never opens the embedded chDB: that would lock the holder out
            with connect(self.settings, role="borrower") as warehouse:
                return warehouse.query(sql, parameters)[1]

        return await asyncio.get_running_loop().run_in_executor(None, borrowed)

    async def write(self, rows: dict[str, list[dict]]) -> None:
        """One insert per table (replaced articles' old rows deleted first); the sink decides what to retry
        (WarehouseSink.write_retrying)."""
        await self.run(lambda w: write_rows(w, rows))


class SinkService(mode.Service):
    """Runs the warehouse sink with the app; on stop, the batch in hand is written and committed first."""

    def __init__(self, sink: WarehouseSink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink = sink

    async def on_start(self) -> None:
        self._task = asyncio.ensure_future(self.sink.run())
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        """A sink that gave up (warehouse down past its retries) crashes the worker: no silent half-worker."""
        if not task.cancelled() and task.exception() is not None and not self.sink._stopping.is_set():
            asyncio.ensure_future(self.crash(task.exception()))

    async def on_stop(self) -> None:
        self.sink.stop()
        try:
            await asyncio.wait_for(self._task, timeout=60)
        except (TimeoutError, Exception):
            log.exception("warehouse sink did not stop cleanly; unwritten messages will be re-delivered")


def _raw_ref(value: Any) -> RawRef | None:
    """The raw offset a downstream record carries, for dead letters of later stages."""
    try:
        raw = value.get("raw") or value.get("article", {}).get("raw")
        return RawRef.model_validate(raw) if raw else None
    except Exception:
        return None


def _page_id(value: Any) -> str | None:
    """The page's id as it entered; a raw message produced without one gets the same hash here."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("page_id"), str) and value["page_id"]:
        return value["page_id"]
    try:
        page = RawPage.model_validate(value)
    except Exception:
        return None  # the clean stage dead-letters it; the ledger then knows it by its offset
    return page_id_for(page.url, page.source, page.body())


def _entry_ref(event) -> RawRef:
    """The ledger key of a raw message: its page id, with its own offset (or the one it re-sends) as provenance."""
    message = event.message
    page_id = _page_id(event.value)
    origin = event.value.get("origin") if isinstance(event.value, dict) else None
    replace = isinstance(event.value, dict) and event.value.get("replace") is True
    if origin:
        try:
            return RawRef.model_validate(origin).model_copy(update={"page_id": page_id, "replace": replace})
        except Exception:
            pass
    # Faust gives the Kafka timestamp in seconds (aiokafka's records carry milliseconds).
    stamp = datetime.fromtimestamp(message.timestamp, UTC) if message.timestamp else None
    return RawRef(topic=message.topic, partition=message.partition, offset=message.offset, timestamp=stamp,
                  page_id=page_id, replace=replace)


def create_app(settings: Settings, kafka_url: str, *, broker_started_at: datetime | None = None,
               broker_restarts: int = 0) -> faust.App:
    """`broker_started_at`: the broker started empty then (the local one, after `run` or a restart): archived pages
    that entered before it and have no outcome were lost with the old broker and are re-sent at start."""
    codec.register()
    specs = topic_specs(settings)
    app = faust.App(
        settings.app_id,
        broker=faust_broker_url(kafka_url),
        broker_credentials=faust_credentials(settings),
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
        stream_buffer_maxsize=settings.stream_buffer,
        # The local broker holds a joining group until the rebalance timeout passes: keep both short.
        broker_session_timeout=settings.group_session_timeout,
        broker_rebalance_timeout=settings.group_session_timeout,
        # One check for every route but /health and /metrics: token, Host, Origin (streams.runtime.webauth).
        web_application_options={"middlewares": [webauth.middleware(settings)]},
    )
    topic = {key: app.topic(spec.name, partitions=spec.partitions, value_serializer=codec.CODEC_NAME)
             for key, spec in specs.items()}
    limits = clean_limits(settings)
    budget = CleanBudget(settings.clean_timeout_seconds)
    actors = DictionaryWatcher(settings.actors_path)
    window = timedelta(days=settings.story_window_days)
    story_index = StoryIndex(window=window, max_entries=settings.story_index_max)
    index_ready = asyncio.Event()
    index_tasks: list[asyncio.Task] = []
    metrics = WorkerMetrics()
    metrics.broker_restarts.set(broker_restarts)
    metrics.broker_up.set(1)
    gate = WarehouseGate(settings, metrics)
    app.metrics = metrics
    app.warehouse_gate = gate  # used by tests
    # Analyst SQL runs in its own threads and clients: it never queues behind or in front of the sink's inserts.
    lane = AnalystLane(settings.analyst_warehouse_url, Limits.from_settings(settings), settings.sql_concurrency) \
        if gate.holds_warehouse else None
    app.analyst_lane = lane

    async def run_stage(stream, stage: str, step: Callable[[Any, RawRef | None], BaseModel], out: str,
                        key: Callable[[BaseModel], str], offload: bool = False,
                        ready: asyncio.Event | None = None) -> None:
        """Each event becomes one record on `out` or one dead letter; an exception never escapes (it would ack and lose it)."""
        loop = asyncio.get_running_loop()
        async for event in stream.events():
            if ready is not None and not ready.is_set():
                await ready.wait()  # the stories index is being rebuilt (start, or the partition moved here)
            value = event.value
            if stage == "clean":
                ref = _entry_ref(event)
            else:
                ref = _raw_ref(value) if isinstance(value, dict) else None
            try:
                if isinstance(value, dict) and codec.UNDECODABLE in value:
                    raise Rejected("bad message", f"not JSON: {value['error']}")
                result = await loop.run_in_executor(None, step, value, ref) if offload else step(value, ref)
            except Exception as exc:
                source, url = origin(value)
                letter = dead_letter(stage, exc, source=source, url=url, raw=ref,
                                     payload=value if stage == "clean" else None)
                await topic["dead-letters"].send(value=letter.model_dump(mode="json"))
                metrics.stage_outcomes.labels(stage, "dead_letter").inc()
                continue
            await topic[out].send(key=key(result).encode(), value=result.model_dump(mode="json"))
            metrics.stage_outcomes.labels(stage, "passed").inc()

    # Per-site profiles (streams.warehouse.site_profiles): learned and stored by the worker holding the warehouse,
    # handed to the clean stage by the page's site; other workers clean without them.
    site_profiles: dict[str, SiteProfile] = {}

    def _clean_with_profile(page: RawPage, ref: RawRef | None) -> Article:
        profile = site_profiles.get(site_of(page.final_url or page.url) or "")
        return budget.clean(page, limits, raw=ref, profile=profile)

    if settings.run_sink and settings.site_profile_seconds > 0:
        @app.timer(settings.site_profile_seconds)
        async def site_profile_timer() -> None:
            await gate.run(learn_site_profiles)
            site_profiles.update(await gate.run(load_site_profiles))

    # raw-html: RawPage -> cleaned: Article (trafilatura is CPU-bound: off the event loop)
    @app.agent(topic["raw-html"], name="clean")
    async def clean(stream):
        await run_stage(stream, "clean", lambda v, ref: _clean_with_profile(RawPage.model_validate(v), ref),
                        "cleaned", key=lambda a: a.article_id, offload=True)

    # cleaned: Article -> entities: ArticleEntities
    @app.agent(topic["cleaned"], name="entities")
    async def entities(stream):
        await run_stage(stream, "entities", lambda v, ref: entities_step(Article.model_validate(v), actors.current(),
                                                                 settings.max_mentions),
                        "entities", key=lambda e: e.article.article_id)

    # entities (one partition): ArticleEntities -> stories: StoryArticle
    @app.agent(topic["entities"], name="stories")
    async def stories(stream):
        await run_stage(stream, "stories", lambda v, ref: story_step(ArticleEntities.model_validate(v), story_index),
                        "stories", key=lambda s: s.article.article_id, ready=index_ready)

    # stories + dead-letters -> ClickHouse: a plain consumer group that commits after each write.
    if settings.run_sink:
        app.service(SinkService(WarehouseSink(settings, kafka_url, gate.write, metrics)))

        if settings.reconcile_seconds > 0:
            @app.timer(settings.reconcile_seconds)
            async def reconcile_timer() -> None:
                try:
                    report = await reconcile(settings, kafka_url, gate.query, metrics=metrics)
                except Exception as exc:  # a timer that raises crashes the whole app: log, try at the next tick
                    log.error("reconcile failed (%s: %s); trying again in %.0fs", type(exc).__name__, exc,
                              settings.reconcile_seconds)
                    return
                if report.resent or report.dead_lettered:
                    log.warning("reconcile: %s", report.summary())
                pruned = await asyncio.get_running_loop().run_in_executor(
                    None, prune_archive, settings.archive_path, settings.archive_retention_days)
                if pruned:
                    log.info("archive: %d segments past NEWSSTREAM_ARCHIVE_RETENTION_DAYS deleted", len(pruned))

        if broker_started_at is not None:
            @app.task
            async def heal_from_archive() -> None:
                """Pages that entered before this broker started and have no outcome were in the broker that died."""
                wait = 1.0
                while True:
                    try:
                        report = await reconcile(settings, kafka_url, gate.query, metrics=metrics,
                                                 entered_before=broker_started_at)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("re-sending archived pages after the broker start failed; retrying in %.0fs", wait)
                        await asyncio.sleep(wait)
                        wait = min(wait * 2, 30.0)
                metrics.healed.inc(report.resent + report.dead_lettered)
                log.warning("broker started empty at %s: %d archived pages without outcome re-sent from the archive",
                            broker_started_at.isoformat(), report.resent + report.dead_lettered)

        @app.timer(settings.lag_seconds)
        async def lag_timer() -> None:
            try:
                rows = await record_lag(settings, kafka_url, metrics)
            except Exception as exc:  # Kafka unreachable: reported by the watchdog; a raising timer would crash the app
                log.warning("consumer lag not measured (%s: %s)", type(exc).__name__, exc)
                return
            await gate.write({"consumer_lag": rows})

    async def rebuild_story_index() -> None:
        """Warehouse rows, then stories the sink has not committed: the local broker cannot be trusted to restore tables."""
        nonlocal story_index
        wait = 1.0
        while True:
            try:
                index = StoryIndex(window=window, max_entries=settings.story_index_max)
                loaded = fill_from_rows(index, await gate.query(index_query(window)))
                pending = await unsunk_stories(bootstrap_servers(kafka_url), specs["stories"].name,
                                               specs["stories"].partitions, f"{settings.app_id}-sink",
                                               **kafka_options(settings))
                added = fill_from_stories(index, pending)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("story index rebuild failed; retrying in %.0fs", wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 5.0)
        story_index = index
        log.info("story index: %d articles from the warehouse, %d from unsunk stories records", loaded, added)
        index_ready.set()

    entities_tp = (specs["entities"].name, 0)
    owned: list[bool] = []  # non-empty while this worker holds the entities partition

    @app.on_partitions_assigned.connect
    async def on_assigned(sender, assigned, **kwargs) -> None:
        """Rebuild when the entities partition lands here (start, or its owner died); drop the index when it left."""
        nonlocal story_index
        owns = any((tp.topic, tp.partition) == entities_tp for tp in assigned)
        if owns and owned:
            return  # kept it: the index in memory already holds everything this worker answered
        owned[:] = [True] if owns else []
        for task in index_tasks:
            task.cancel()
        index_tasks.clear()
        index_ready.clear()
        story_index = StoryIndex(window=window, max_entries=settings.story_index_max)  # not ours (any more): free the memory
        if owns:
            index_tasks.append(asyncio.ensure_future(rebuild_story_index()))

    @app.page("/health")
    async def health(web, request):
        return web.json({"status": "ok", "story_index_ready": index_ready.is_set(),
                         "dictionary_version": actors.dictionary.version})

    @app.page("/metrics")
    async def metrics_page(web, request):
        return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")

    def maintenance(action: Callable[[dict], Any]) -> type[faust.web.View]:
        """A POST endpoint for reconcile / replay: only the worker that holds the warehouse runs them."""
        class MaintenanceView(faust.web.View):
            async def post(self, request):
                if not settings.run_sink:
                    return self.json({"error": "this worker does not hold the warehouse"}, status=400)
                try:
                    return self.json((await action(dict(request.query))).as_dict())
                except ValueError as exc:  # a bad parameter (grace_seconds=-1, a bad date): the caller's mistake
                    return self.json({"error": str(exc)}, status=400)
        return MaintenanceView

    # POST /reconcile[?dry_run=1&grace_seconds=S&entered_before=ISO]: re-send archived pages that have no outcome.
    app.page("/reconcile")(maintenance(lambda q: reconcile(
        settings, kafka_url, gate.query, metrics=metrics, dry_run=q.get("dry_run") in ("1", "true"),
        grace_seconds=float(q.get("grace_seconds", settings.reconcile_grace_seconds)),
        entered_before=datetime.fromisoformat(q["entered_before"]) if q.get("entered_before") else None)))
    # POST /replay[?stage=&reason=&since=&dry_run=1]: re-send dead letters from their raw messages.
    app.page("/replay")(maintenance(lambda q: replay(
        settings, kafka_url, gate.query, stage=q.get("stage"), reason=q.get("reason"), since=q.get("since"),
        dry_run=q.get("dry_run") in ("1", "true"))))

    # The actors table mirrors the dictionary this worker has loaded; reprocess runs here when it holds chDB.
    synced = {"version": None}

    async def sync_actor_table() -> dict:
        dictionary = actors.current()
        count = await gate.run(lambda w: sync_actors(w, dictionary))
        synced["version"] = dictionary.version
        return {"actors": count, "dictionary_version": dictionary.version}

    if settings.run_sink:
        @app.timer(actors.interval)
        async def actor_table_timer() -> None:
            if actors.current().version != synced["version"]:
                log.info("actors table: %s", await sync_actor_table())

    @app.page("/actors-sync")
    class ActorsSyncView(faust.web.View):
        async def post(self, request):
            if not settings.run_sink:
                return self.json({"error": "this worker does not hold the warehouse"}, status=400)
            return self.json(await sync_actor_table())

    @app.page("/reprocess")
    class ReprocessView(faust.web.View):
        async def post(self, request):
            """Re-run extraction over stored articles published in [since, until) with this worker's dictionary."""
            if not settings.run_sink:
                return self.json({"error": "this worker does not hold the warehouse"}, status=400)
            q, dictionary = request.query, actors.current()
            try:
                report = await gate.run(lambda w: reprocess(w, dictionary, q.get("since", ""), q.get("until", ""),
                                                           settings.max_mentions))
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            return self.json(report.as_dict())

    @app.page("/sql")
    async def sql(web, request):
        """Analyst SQL through the door (streams.warehouse.sql_door), in the analyst lane: 403 refused, 400 failed, 429 busy."""
        if lane is None:
            return web.json({"error": "this worker does not hold the embedded warehouse (NEWSSTREAM_SINK=false)"},
                            status=400)
        query = request.query.get("q", "")
        params = {k.removeprefix("param_"): v for k, v in request.query.items() if k.startswith("param_")}
        try:
            if not lane.ready:  # once: the gate's first open applies the migrations the analysts' tables need
                await gate.run(lambda w: None)
                lane.ready = True
            answer = await lane.run(query, params or None)
        except Busy as exc:
            return web.json({"error": str(exc)}, status=429)
        except Refused as exc:
            return web.json({"error": f"refused: {exc}"}, status=403)
        except QueryFailed as exc:
            return web.json({"error": str(exc)}, status=400)
        return web.bytes(orjson.dumps({"columns": answer.columns, "rows": answer.rows, "cut": answer.cut},
                                      default=str), content_type="application/json")

    return app
