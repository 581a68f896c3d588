"""The worker's HTTP API as plain methods (query dict in, (status, body) out), registered on the Faust app.

Every route but /health and /metrics passes the one check in streams/runtime/webauth.py (token, Host, Origin),
installed as the web app's middleware by the topology, so no view can forget it. Only the worker that holds the
warehouse (NEWSSTREAM_SINK=true) runs maintenance; others answer 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from streams.ops.reconcile import replay
from streams.ops.reprocess import reprocess
from streams.pipeline.dictionary import DictionaryWatcher
from streams.runtime.maintenance import Maintenance
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.story_index_owner import StoryIndexOwner
from streams.settings import Settings
from streams.warehouse.sql_door import AnalystLane, Busy, QueryFailed, Refused

Answer = tuple[int, Any]
"""(HTTP status, a JSON-able body, or bytes already encoded as JSON)."""
NOT_HOLDER = {"error": "this worker does not hold the warehouse"}


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name) in ("1", "true")


class WorkerApi:
    def __init__(self, settings: Settings, kafka_url: str, maintenance: Maintenance, metrics: WorkerMetrics,
                 actors: DictionaryWatcher, owner: StoryIndexOwner, lane: AnalystLane | None,
                 open_warehouse: Callable[[], Awaitable[Any]]):
        self.settings, self.kafka_url, self.maintenance, self.metrics = settings, kafka_url, maintenance, metrics
        self.actors, self.owner, self.lane, self.open_warehouse = actors, owner, lane, open_warehouse

    async def health(self, query: Mapping[str, str]) -> Answer:
        return 200, {"status": "ok", "story_index_ready": self.owner.ready.is_set(),
                     "dictionary_version": self.actors.dictionary.version}

    async def reconcile(self, query: Mapping[str, str]) -> Answer:
        """POST /reconcile[?dry_run=1&grace_seconds=S&entered_before=ISO]: re-send archived pages with no outcome."""
        return await self._maintain(lambda: self.maintenance.reconcile(
            dry_run=_flag(query, "dry_run"),
            grace_seconds=float(query.get("grace_seconds", self.settings.reconcile_grace_seconds)),
            entered_before=datetime.fromisoformat(query["entered_before"]) if query.get("entered_before") else None))

    async def replay(self, query: Mapping[str, str]) -> Answer:
        """POST /replay[?stage=&reason=&since=&dry_run=1]: re-send dead letters from their raw messages."""
        return await self._maintain(lambda: replay(
            self.settings, self.kafka_url, self.maintenance.query, stage=query.get("stage"),
            reason=query.get("reason"), since=query.get("since"), dry_run=_flag(query, "dry_run")))

    async def reprocess(self, query: Mapping[str, str]) -> Answer:
        """POST /reprocess?since=&until=: re-run extraction over stored articles with this worker's dictionary."""
        dictionary = self.actors.current()
        return await self._maintain(lambda: self.maintenance.run(lambda w: reprocess(
            w, dictionary, query.get("since", ""), query.get("until", ""), self.settings.max_mentions)))

    async def actors_sync(self, query: Mapping[str, str]) -> Answer:
        if not self.settings.run_sink:
            return 400, NOT_HOLDER
        return 200, await self.maintenance.sync_actor_table()

    async def _maintain(self, action: Callable[[], Awaitable[Any]]) -> Answer:
        if not self.settings.run_sink:
            return 400, NOT_HOLDER
        try:
            return 200, (await action()).as_dict()
        except ValueError as exc:  # a bad parameter (grace_seconds=-1, a bad date): the caller's mistake
            return 400, {"error": str(exc)}

    async def sql(self, query: Mapping[str, str]) -> Answer:
        """GET /sql?q=&param_x=: analyst SQL through the door, in the analyst lane (403 refused, 400 failed,
        429 busy)."""
        if self.lane is None:
            return 400, {"error": "this worker does not hold the embedded warehouse (NEWSSTREAM_SINK=false)"}
        params = {k.removeprefix("param_"): v for k, v in query.items() if k.startswith("param_")}
        try:
            if not self.lane.ready:  # once: the warehouse's first open applies the migrations analysts' tables need
                await self.open_warehouse()
                self.lane.ready = True
            answer = await self.lane.run(query.get("q", ""), params or None)
        except Busy as exc:
            return 429, {"error": str(exc)}
        except Refused as exc:
            return 403, {"error": f"refused: {exc}"}
        except QueryFailed as exc:
            return 400, {"error": str(exc)}
        return 200, orjson.dumps({"columns": answer.columns, "rows": answer.rows, "cut": answer.cut}, default=str)

    def register(self, app: Any) -> None:
        """The routes on a Faust app: GET /health, /metrics, /sql; POST the maintenance actions."""
        import faust

        def view(handler: Callable[[Mapping[str, str]], Awaitable[Answer]], method: str) -> type[faust.web.View]:
            async def answer(self, request):
                status, body = await handler(dict(request.query))
                if isinstance(body, bytes):
                    return self.bytes(body, content_type="application/json", status=status)
                return self.json(body, status=status)
            return type(f"{handler.__name__}_view", (faust.web.View,), {method: answer})

        app.page("/health")(view(self.health, "get"))
        app.page("/sql")(view(self.sql, "get"))
        for path, handler in {"/reconcile": self.reconcile, "/replay": self.replay, "/reprocess": self.reprocess,
                              "/actors-sync": self.actors_sync}.items():
            app.page(path)(view(handler, "post"))

        metrics = self.metrics

        @app.page("/metrics")
        async def metrics_page(web, request):
            return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")
